"""Scoring a text in one pass (teacher forcing) on the real starter model."""

from __future__ import annotations

import math
import statistics

import pytest

from tokenwise.core.errors import ContextOverflowError, TokenwiseError
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS

PROB_TOLERANCE = 2e-3


def _prompt(engine, text: str) -> list[int]:
    return engine.render_chat([ChatMessage("user", text)]).token_ids


def _reply(engine, ids: list[int], settings) -> list:
    return list(engine.generate(GenerationRequest(ids, settings, top_k_display=8)))


@pytest.mark.parametrize(("text", "settings"), [
    ("Explain why the sea is salty.", PRESETS["Greedy"].with_(max_tokens=96)),
    ("用中文介绍一下北京。", PRESETS["Greedy"].with_(max_tokens=96)),
    ("Write a short poem about rain.", PRESETS["Balanced"].with_(max_tokens=96, seed=9)),
])
def test_scoring_a_reply_reproduces_its_probabilities(engine, text: str, settings) -> None:
    ids = _prompt(engine, text)
    steps = _reply(engine, ids, settings)
    tokens = [s.token_id for s in steps]
    scored = engine.score([*ids, *tokens], len(ids))
    assert scored.context_tokens == len(ids)
    assert [t.token_id for t in scored.tokens] == tokens
    prob_diff = max(abs(s.prob - t.prob) for s, t in zip(steps, scored.tokens, strict=True))
    entropy_diff = max(abs(s.entropy - t.entropy)
                       for s, t in zip(steps, scored.tokens, strict=True))
    assert prob_diff <= PROB_TOLERANCE
    assert entropy_diff <= 1e-2
    for s, t in zip(steps, scored.tokens, strict=True):
        assert t.rank == s.rank
        assert [c.token_id for c in t.candidates] == [c.token_id for c in s.candidates[:8]]


def test_scored_tokens_are_consistent(engine) -> None:
    text = "The cat sat on the mat. The cat sat on the banana."
    ids, start = engine.text_for_scoring(text)
    result = engine.score(ids, start, top_k=5)
    assert result.n_tokens == len(ids) - max(1, start)
    for token in result.tokens:
        probs = [c.prob for c in token.candidates]
        assert probs == sorted(probs, reverse=True) and len(probs) == 5
        assert token.prob == pytest.approx(math.exp(token.logprob))
        assert (token.rank == 1) == (token.token_id == token.candidates[0].token_id)
        assert token.entropy >= 0
    banana = next(t for t in result.tokens if t.label == " banana")
    second_cat = [t for t in result.tokens if t.label == " cat"][-1]
    assert banana.prob < 0.01 < 0.1 < second_cat.prob  # the surprising word lights up
    assert result.perplexity == pytest.approx(
        math.exp(-sum(t.logprob for t in result.tokens) / result.n_tokens))


def test_pasted_text_starts_after_bos_where_the_model_has_one(engine) -> None:
    ids, start = engine.text_for_scoring("Hello there.")
    plain = engine.token_ids("Hello there.", add_special=False, parse_special=False)
    if engine.bos_id >= 0 and ids[0] == engine.bos_id:
        assert (ids[1:], start) == (plain, 1)
    else:  # the starter model adds no BOS: its first token has nothing before it
        assert (ids, start) == (plain, 0)
        assert engine.score(ids, start).unscored_first


def test_long_text_in_several_batches(engine) -> None:
    text = "One two three four five six seven eight nine ten. " * 60
    ids, start = engine.text_for_scoring(text)
    assert len(ids) > engine.n_batch
    result = engine.score(ids, start)
    assert result.n_tokens == len(ids) - max(1, start)
    # past the first lines the repeated text is nearly certain, across the batch boundary too
    late = result.tokens[engine.n_batch - 20:engine.n_batch + 20]
    assert statistics.median(t.prob for t in late) > 0.5


def test_scoring_keeps_the_chat_cache(engine) -> None:
    ids = _prompt(engine, "Name a fruit.")
    settings = PRESETS["Greedy"].with_(max_tokens=8)
    first = [s.token_id for s in _reply(engine, ids, settings)]
    engine.score(*engine.text_for_scoring("A completely different text to score."))
    stream = engine.generate(GenerationRequest(ids, settings))
    again = [s.token_id for s in stream]
    assert again == first
    assert stream.result.reused_tokens == len(ids) - 1


def test_errors_are_clear(engine) -> None:
    with pytest.raises(TokenwiseError, match="Nothing to score"):
        engine.score(*engine.text_for_scoring(""))
    ids = [engine.bos_id if engine.bos_id >= 0 else 1] * (engine.n_ctx + 10)
    with pytest.raises(ContextOverflowError, match=r"needs 2,057 context cells .* 2,048"):
        engine.score(ids, 1)
