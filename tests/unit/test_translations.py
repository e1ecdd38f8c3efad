"""The translation catalogues are whole, compiled from their sources, and keep the glossary.

The window's catalogue (.ts -> .qm) is checked by extracting every string of tokenwise/ui
afresh with pyside6-lupdate; the core's (.po -> .mo) by extracting every marked sentence of
tokenwise/core with Babel. A string added without its translation, or a .qm / .mo left
behind its source, fails here.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("translations", ROOT / "packaging" /
                                              "translations.py")
assert spec is not None and spec.loader is not None
translations = importlib.util.module_from_spec(spec)
sys.modules["translations"] = translations
spec.loader.exec_module(translations)

PLACEHOLDER = re.compile(r"\{\w*\}")
#: the glossary's checked terms (resources/translations/GLOSSARY.md, starred rows)
GLOSSARY = {
    r"\btokens?\b": "词元",
    r"\bprobabilit(y|ies)\b": "概率",
    r"\bentropy\b": "熵",
    r"\bsampling\b": "采样",
    r"\btemperature\b": "温度",
    r"\bpenalt(y|ies)\b": "惩罚",
    r"\bcontext\b": "上下文",
    r"\bprompt\b": "提示词",
    r"\bcandidates?\b": "候选",
}
#: sources where a glossary word is not the glossary's sense
GLOSSARY_EXCEPTIONS = {
    "Access token for gated or private models on the hub",
    "Gated models need an access token and an accepted license",
    "Hub access token",
    "Token for gated or private models (empty: use huggingface_hub's own login).\n"
    "It is kept in {place}.",
    "Hub token…",
}


def ts_messages(path: Path) -> dict[tuple[str, str], str | None]:
    """(context, source) -> translation (None while unfinished)."""
    found: dict[tuple[str, str], str | None] = {}
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            done = translation.get("type") not in ("unfinished", "obsolete", "vanished")
            found[(name, message.findtext("source") or "")] = (
                translation.text if done and translation.text else None)
    return found


def po_messages(path: Path) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id}


def test_every_window_string_has_a_chinese_translation(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.ts"
    translations.run_lupdate(fresh)
    wanted = ts_messages(fresh)
    assert len(wanted) > 300  # the extraction really read the window's sources
    shipped = ts_messages(translations.ts_path("zh_CN"))
    missing = [key for key in wanted if not shipped.get(key)]
    assert missing == []


def test_every_core_sentence_has_a_chinese_translation() -> None:
    template = translations.core_template()
    wanted = {str(m.id) for m in template if m.id}  # type: ignore[attr-defined]
    assert len(wanted) > 80
    shipped = po_messages(translations.po_path("zh_CN"))
    assert sorted(w for w in wanted if not shipped.get(w)) == []


def test_the_compiled_catalogues_match_their_sources(tmp_path: Path) -> None:
    qm = tmp_path / "fresh.qm"
    translations.run_lrelease(translations.ts_path("zh_CN"), qm)
    shipped_qm = translations.QT_DIR / "tokenwise_zh_CN.qm"
    assert qm.read_bytes() == shipped_qm.read_bytes(), \
        "run: python packaging/translations.py --compile"
    po = translations.po_path("zh_CN")
    assert translations.compile_po(po) == po.with_suffix(".mo").read_bytes(), \
        "run: python packaging/translations.py --compile"


def _all_pairs() -> list[tuple[str, str]]:
    pairs = [(source, text) for (_ctx, source), text in
             ts_messages(translations.ts_path("zh_CN")).items() if text]
    pairs += list(po_messages(translations.po_path("zh_CN")).items())
    return pairs


def test_translations_keep_every_placeholder_and_speak_chinese() -> None:
    pairs = _all_pairs()
    bad = [s for s, t in pairs if sorted(PLACEHOLDER.findall(s)) != sorted(
        PLACEHOLDER.findall(t))]
    assert bad == []
    # a translation that is the English again (allowed: names that read the same)
    same = [s for s, t in pairs if s == t and re.search(r"[a-z]{3}", s)]
    assert same == []


def test_translations_use_the_glossary_terms() -> None:
    wrong = []
    for source, text in _all_pairs():
        if source in GLOSSARY_EXCEPTIONS:
            continue
        plain = re.sub(r"<[^>]+>|\{\w*\}|top-[kp]|min-p", "", source)
        for pattern, term in GLOSSARY.items():
            if re.search(pattern, plain, re.IGNORECASE) and term not in text:
                wrong.append((source, term))
    assert wrong == []


@pytest.mark.parametrize("term", ["令牌", "标记"])
def test_token_is_never_called_a_ticket_or_a_mark(term: str) -> None:
    offenders = [t for s, t in _all_pairs() if term in t and s not in GLOSSARY_EXCEPTIONS]
    assert offenders == []
