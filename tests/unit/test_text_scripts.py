"""Text in every script through the tokenizer and the decode loop: Chinese, Japanese, emoji
sequences (ZWJ, flags, skin tones), right-to-left text, combining marks, control characters.
The streamed text equals the detokenized reply, and a replacement character appears only
where the model emitted bytes that are not UTF-8."""

from __future__ import annotations

from typing import Any

import pytest

from tokenwise.core.interface import TOKEN_BYTE, ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS

TEXTS = {
    "chinese": "人工智能是一门强大的技术。",
    "japanese": "ひらがなとカタカナと漢字、そして句読点。",
    "zwj family": "👨‍👩‍👧‍👦 and 🧑🏽‍💻",
    "flags and skin tones": "🇯🇵🇧🇷🏳️‍🌈 👋🏿👍🏻",
    "right to left": "שלום עולם and مرحبا بالعالم",
    "combining marks": "e\u0301te\u0301, n\u0303, a\u0308\u0304, ह\u093f\u0902दी",
    "control characters": "tab\there\u200bzero-width\u00adsoft\x07bell\x1bescape",
}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_tokenize_and_back_gives_the_same_text(engine: Any, text: str) -> None:
    ids = engine.token_ids(text)
    assert engine.detokenize(ids) == text
    tokens = engine.describe(ids)
    assert b"".join(t.piece for t in tokens).decode("utf-8") == text
    for token in tokens:  # a byte fragment names the whole character its run builds
        if token.kind == TOKEN_BYTE:
            assert token.builds and token.builds in text


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_the_streamed_reply_equals_its_detokenized_tokens(engine: Any, text: str) -> None:
    prompt = engine.render_chat([ChatMessage("user", f"Repeat exactly: {text}")]).token_ids
    steps = list(engine.generate(GenerationRequest(
        prompt, PRESETS["Greedy"].with_(max_tokens=48))))
    streamed = "".join(s.text for s in steps)
    ids = [s.token_id for s in steps if not engine.is_special(s.token_id)]
    raw = b"".join(engine.piece(t) for t in ids)
    assert streamed == raw.decode("utf-8", "replace")
    if "\ufffd" in streamed:  # only where the bytes really are not UTF-8
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    else:
        assert streamed == raw.decode("utf-8")


def test_a_reply_cut_inside_a_character_is_marked_not_hidden(engine: Any) -> None:
    """Stopped after the first byte of a two-token character: the partial bytes show as a
    replacement character at the end, not silently dropped."""
    ids = engine.token_ids("工")
    assert len(ids) == 2  # SmolLM2 writes it as two byte tokens
    prompt = engine.render_chat([ChatMessage("user", "Say 工")]).token_ids
    steps = list(engine.generate(GenerationRequest(
        prompt, PRESETS["Greedy"].with_(max_tokens=1), forced_first_token=ids[0])))
    assert steps[-1].piece == engine.piece(ids[0])
    assert "".join(s.text for s in steps) == "\ufffd"
