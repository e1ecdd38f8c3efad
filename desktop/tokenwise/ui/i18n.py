"""The window's language: Qt's translators for the widgets, gettext for the core.

The Language setting ("system", "en", "zh_CN") is applied once at start, before any window
is built (a change in the settings dialog takes effect at the next start). The compiled
catalogue ``resources/translations/tokenwise_<code>.qm`` is shipped beside its ``.ts``
source, so a checkout, a wheel and the bundle all find it in the package's resources; Qt's
own catalogue (standard buttons, context menus) comes from PySide6's translations folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from tokenwise.core import i18n, paths

_installed: list[QTranslator] = []


def translations_dir() -> Path:
    return paths.resources_dir() / "translations"


def catalogue_path(code: str) -> Path:
    return translations_dir() / f"tokenwise_{code}.qm"


def system_languages() -> tuple[str, ...]:
    return tuple(QLocale.system().uiLanguages())


def install(app: QCoreApplication, choice: str = "system") -> str:
    """Translate the app into the language of the setting ``choice``; returns its code."""
    code = i18n.resolve(choice, system_languages())
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    i18n.set_language(code)
    if code == i18n.ENGLISH:
        QLocale.setDefault(QLocale("en_US"))
        return code
    QLocale.setDefault(QLocale(code))
    own = QTranslator(app)
    if own.load(str(catalogue_path(code))):
        app.installTranslator(own)
        _installed.append(own)
    qt = QTranslator(app)
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if qt.load(QLocale(code), "qtbase", "_", qt_dir):
        app.installTranslator(qt)
        _installed.append(qt)
    return code


def language_names() -> list[tuple[str, str]]:
    """The choices of the Language setting, each named in its own language."""
    return [("system", QCoreApplication.translate("Language", "System")),
            (i18n.ENGLISH, "English"), (i18n.CHINESE, "简体中文")]


# Strings outside any class: ``T("...")`` translates now, ``N("...")`` only marks a string
# of an import-time table for ``T`` to translate where it is shown. pyside6-lupdate is told
# to read both as QT_TR_NOOP (packaging/translations.py), so they share the empty context.


def T(text: str) -> str:
    """``text`` in the window's language."""
    return QCoreApplication.translate("", text) if text else ""


def N(text: str) -> str:
    """Marks ``text`` for the catalogue; :func:`T` translates it where it is shown."""
    return text
