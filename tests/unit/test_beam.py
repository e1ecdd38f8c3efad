"""Beam search on the real starter model: greedy at width 1, the W best extensions at each
step (checked against the scoring pass), totals, clean-up and clear refusals."""

from __future__ import annotations

import math

import llama_cpp
import pytest

from tokenwise.core.errors import ContextOverflowError, TokenwiseError
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.lab.compare import run_strategy
from tokenwise.core.lab.strategies import parse_strategies
from tokenwise.core.sampling.settings import PRESETS
from tokenwise.core.trace.beams import (
    BEAM_STOP_MAX_TOKENS,
    ENDED,
    KEPT,
    PRUNED,
    BeamSettings,
)

NAMED_PROMPTS = (
    "What is the capital of France?",
    "Name three primary colours.",
    "Write one sentence about the sea.",
    "How many legs does a spider have?",
)


def _prompt(engine, text: str) -> list[int]:
    return engine.render_chat([ChatMessage("user", text)]).token_ids


def _greedy(engine, ids: list[int], n: int) -> list[int]:
    stream = engine.generate(GenerationRequest(ids, PRESETS["Greedy"].with_(max_tokens=n)))
    return [s.token_id for s in stream]


def _rescored(engine, prompt: list[int], tokens: list[int]) -> list[float]:
    scored = engine.score([*prompt, *tokens], len(prompt))
    assert [t.token_id for t in scored.tokens] == tokens
    return [t.logprob for t in scored.tokens]


@pytest.mark.parametrize("text", NAMED_PROMPTS[:2])
def test_width_one_is_greedy(engine, text: str) -> None:
    ids = _prompt(engine, text)
    greedy = _greedy(engine, ids, 40)
    result = engine.beam_search(ids, BeamSettings(width=1, max_tokens=40, length_penalty=0.0))
    assert list(result.best.token_ids) == greedy


def test_each_step_keeps_the_w_best_extensions(engine) -> None:
    """End tokens masked, alpha 0, fixed length: every step keeps exactly the W best of the
    W x vocabulary extensions, by cumulative log-probability from the scoring pass."""
    width, length = 3, 6
    ids = _prompt(engine, "Tell me about the moon.")
    result = engine.beam_search(ids, BeamSettings(width=width, max_tokens=length,
                                                  length_penalty=0.0, mask_end=True,
                                                  early_stopping=False))
    assert result.stop_reason == BEAM_STOP_MAX_TOKENS
    assert len(result.steps) == length
    lineage = result.lineage()
    tokens_of: dict[int, list[int]] = {0: []}
    for step in result.steps:
        for ext in step.extensions:
            if ext.beam >= 0:
                tokens_of[ext.beam] = [*tokens_of[ext.parent], ext.token_id]
    checked = 0
    for step in result.steps:
        assert {r.beam for r in step.rows} == {e.parent for e in step.extensions}
        expected: list[tuple[float, int, int]] = []
        for row in step.rows:
            prefix = tokens_of[row.beam]
            # the scoring pass: the prefix's own log-probability and the next distribution
            probe = engine.score([*ids, *prefix, 0], len(ids))
            cumulative = sum(t.logprob for t in probe.tokens[:-1])
            assert cumulative == pytest.approx(row.cumulative, abs=1e-3)
            nxt = probe.tokens[-1]
            assert nxt.candidates[0].token_id == row.candidates[0].token_id
            for cand in nxt.candidates:
                if not engine.is_eog(cand.token_id):
                    expected.append((cumulative + math.log(cand.prob), row.beam,
                                     cand.token_id))
        expected.sort(reverse=True)
        want = {(b, t) for _, b, t in expected[:width]}
        kept = {(e.parent, e.token_id) for e in step.extensions if e.status == KEPT}
        assert len(kept) == width
        if kept != want:  # only a near tie at the boundary may go either way
            boundary = expected[width - 1][0]
            for cum, b, t in expected:
                if ((b, t) in kept) != ((b, t) in want):
                    assert abs(cum - boundary) < 2e-3
        assert all(e.status in (KEPT, PRUNED) for e in step.extensions)
        checked += 1
    assert checked == length
    assert all(lineage[h.beam] >= 0 for h in result.hypotheses)


def test_beam_total_is_at_least_greedy_on_named_prompts(engine) -> None:
    for text in NAMED_PROMPTS:
        ids = _prompt(engine, text)
        n = 24
        greedy = _greedy(engine, ids, n)
        greedy_total = sum(_rescored(engine, ids, greedy))
        result = engine.beam_search(ids, BeamSettings(width=4, max_tokens=n,
                                                      length_penalty=0.0))
        best = result.best
        assert best is not None
        assert best.total_logprob >= greedy_total - 1e-3, text


def test_reported_totals_equal_rescoring(engine) -> None:
    ids = _prompt(engine, "Why is the sky blue?")
    diffs: list[float] = []
    for strategy in parse_strategies("greedy,beam:4,beam:3:0.6,top-p:0.9,temp:0.8,min-p:0.05",
                                     max_tokens=32, seed=5):
        result = run_strategy(engine, ids, strategy)
        rescored = _rescored(engine, ids, result.token_ids)
        assert result.total_logprob == pytest.approx(math.fsum(result.logprobs))
        diffs += [abs(a - b) for a, b in zip(result.logprobs, rescored, strict=True)]
        if result.beam is not None:
            assert result.beam.best.total_logprob == pytest.approx(result.total_logprob)
    assert sum(diffs) / len(diffs) <= 1e-3
    assert max(diffs) <= 1e-2


def test_hypotheses_and_early_stopping(engine) -> None:
    ids = _prompt(engine, "What is the capital of France?")
    result = engine.beam_search(ids, BeamSettings(width=2, max_tokens=60, length_penalty=1.0))
    assert result.stop_reason in ("early_stop", "all_ended")
    assert len(result.steps) < 60
    best = result.best
    assert best.ended and engine.is_eog(best.token_ids[-1])
    assert best.score == pytest.approx(best.total_logprob / len(best.token_ids))
    scores = [h.score for h in result.hypotheses]
    assert scores == sorted(scores, reverse=True)
    ended = [e for s in result.steps for e in s.extensions if e.status == ENDED]
    assert len(ended) >= 2
    assert "Paris" in best.text


def test_sequences_cleaned_up_and_chat_cache_reused(engine) -> None:
    ids = _prompt(engine, "Name three primary colours.")
    before = _greedy(engine, ids, 16)
    engine.beam_search(ids, BeamSettings(width=8, max_tokens=12))
    for seq in range(1, 10):  # the beams and the pruned beams' cells
        assert llama_cpp.llama_memory_seq_pos_max(engine.memory, seq) == -1
    stream = engine.generate(GenerationRequest(ids, PRESETS["Greedy"].with_(max_tokens=16)))
    after = [s.token_id for s in stream]
    assert stream.result.reused_tokens == len(ids) - 1
    assert after == before


def test_refusals_say_why(engine) -> None:
    ids = _prompt(engine, "Hello")
    with pytest.raises(TokenwiseError, match=r"width of 9 .* 1 to 8"):
        engine.beam_search(ids, BeamSettings(width=9, max_tokens=8))
    with pytest.raises(ContextOverflowError, match=r"width 8 for 400 new tokens .* needs "
                       r"3,2\d\d context cells .* holds 2,048"):
        engine.beam_search(ids, BeamSettings(width=8, max_tokens=400))
    with pytest.raises(TokenwiseError, match="prompt is empty"):
        engine.beam_search([], BeamSettings(width=2, max_tokens=8))
    with pytest.raises(TokenwiseError, match="width of 9"):
        parse_strategies("greedy,beam:9")
    with pytest.raises(TokenwiseError, match="Unknown strategy"):
        parse_strategies("nucleus:0.9")
    # nothing lost: the engine still writes after each refusal
    assert len(_greedy(engine, ids, 4)) == 4
