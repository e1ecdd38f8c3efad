"""The core's sentences in the user's language: stdlib gettext over a compiled catalogue.

The window translates its own strings with Qt's tools; the core, which never imports Qt,
marks its sentences (step explanations, stage help, stop reasons, error messages) with
:func:`_` and looks them up here. The UI picks the language once at start
(:func:`set_language`); until then, and for any sentence without a translation, English is
used.

Catalogues: ``resources/locale/<code>/LC_MESSAGES/tokenwise.po`` (edited) and its compiled
``tokenwise.mo`` (shipped; ``python packaging/translations.py`` rebuilds both from the
source). Sentences defined at import time are marked with :func:`N_` and translated where
they are shown; :class:`TranslatedMapping` does that for tables of them.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from typing import TypeVar

from tokenwise.core import paths

DOMAIN = "tokenwise"
ENGLISH = "en"
CHINESE = "zh_CN"
#: the languages with a catalogue (English is the source language)
SUPPORTED = (ENGLISH, CHINESE)

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = ENGLISH

K = TypeVar("K")


def locale_dir() -> str:
    return str(paths.resources_dir() / "locale")


def resolve(choice: str, system_names: tuple[str, ...] = ()) -> str:
    """The catalogue for a Language setting: "system" takes the first supported of the
    desktop's languages (``zh``, ``zh_CN``, ``zh-Hans-CN`` all read Simplified Chinese)."""
    if choice in SUPPORTED:
        return choice
    for name in system_names:
        lowered = name.replace("-", "_").lower()
        if lowered.startswith("zh") and not any(t in lowered for t in ("hant", "_tw", "_hk")):
            return CHINESE
        if lowered.startswith("en"):
            return ENGLISH
    return ENGLISH


def set_language(code: str) -> None:
    """Use the catalogue of ``code`` (one of :data:`SUPPORTED`) for every later lookup."""
    global _translation, _language
    if code == ENGLISH or code not in SUPPORTED:
        _translation, _language = gettext.NullTranslations(), ENGLISH
        return
    _translation = gettext.translation(DOMAIN, locale_dir(), languages=[code], fallback=True)
    _language = code if isinstance(_translation, gettext.GNUTranslations) else ENGLISH


def language() -> str:
    """The language in use: "en" or "zh_CN"."""
    return _language


def _(message: str) -> str:
    """``message`` in the language in use."""
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Marks a sentence for the catalogue without translating it yet (import-time tables)."""
    return message


class TranslatedMapping(Mapping[K, str]):
    """A table of marked sentences that reads out in the language in use at lookup time."""

    def __init__(self, entries: Mapping[K, str]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, key: K) -> str:
        return _(self._entries[key])

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def join_list(items: list[str]) -> str:
    """'a, b and c' in English, 'a、b 和 c' in Chinese."""
    if len(items) <= 1:
        return "".join(items)
    if _language == CHINESE:
        return "、".join(items[:-1]) + " 和 " + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]


def gap() -> str:
    """What goes between two sentences: a space in English, nothing in Chinese."""
    return "" if _language == CHINESE else " "
