"""Each token's text, decoded once: whole UTF-8 characters, or None for a fragment."""

from __future__ import annotations

from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS


def test_a_token_text_is_its_piece_decoded_or_none_for_a_fragment(engine) -> None:
    vocab = engine.vocabulary
    whole = fragment = None
    for token_id in range(vocab.size):
        piece = vocab.pieces[token_id]
        try:
            piece.decode()
        except UnicodeDecodeError:
            fragment = fragment if fragment is not None else token_id
        else:
            whole = whole if whole is not None else token_id
        if whole is not None and fragment is not None:
            break
    assert whole is not None and fragment is not None
    assert vocab.texts[whole] == vocab.pieces[whole].decode()
    assert vocab.texts[fragment] is None
    assert whole in vocab.texts and fragment in vocab.texts  # kept: read once


def test_a_reply_is_put_together_across_fragments(engine) -> None:
    """A reply that starts with a fragment of a character (a forced first token) still gives
    its text whole: the fragment waits for the bytes that complete it, or is replaced."""
    vocab = engine.vocabulary
    lead = next(t for t in range(vocab.size) if vocab.pieces[t] == b"\xe4")
    ids = engine.render_chat([ChatMessage("user", "用中文写一句问候。")]).token_ids
    engine._trim(0)
    stream = engine.generate(GenerationRequest(ids, PRESETS["Greedy"].with_(max_tokens=16),
                                               forced_first_token=lead))
    steps = list(stream)
    assert steps[0].token_id == lead and vocab.texts[lead] is None
    text = "".join(step.text for step in steps)
    assert text == stream.result.text
    pieces = b"".join(step.piece for step in steps if not vocab.flags[step.token_id])
    assert text == pieces.decode("utf-8", errors="replace")
