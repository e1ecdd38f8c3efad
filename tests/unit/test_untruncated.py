"""Sampling with no truncating stage, and top-p without top-k, without sorting the vocabulary.

The compiled pass and numpy against textbook formulas in float64 (the normaliser of
softmax(x / T), the inverse CDF, the penalties, the nucleus); then draws against the recorded
final distribution with a chi-square test, on synthetic logits and on Gemma's real 262k ones.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stepping import counted, run_steps
from tokenwise.core.engine import draw as engine_draw
from tokenwise.core.engine import stages as engine_stages
from tokenwise.core.engine.stages import CandidateBuffer, StepSampler
from tokenwise.core.interface import ChatMessage
from tokenwise.core.sampling.pipeline import penalize, run_stages
from tokenwise.core.sampling.settings import SamplerSettings

SIZES = [49152, 4 * 2048 + 777, 262144]
TEMPERATURE = SamplerSettings(temperature=0.7, top_k=0, top_p=1.0, min_p=0.0)
PENALTIES = SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0,
                            repeat_penalty=1.1, presence_penalty=0.5, frequency_penalty=0.5,
                            repeat_last_n=64)
NUCLEUS = SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0)


def _logits(n: int, seed: int, spread: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * spread).astype(np.float32)
    x[rng.integers(0, n, 30)] = np.float32(4.0 * spread)  # ties among the best
    x[rng.integers(0, n, 100)] = -np.inf  # masked tokens
    return x


def _compiled(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if on and engine_stages.scan_kind() != "C":
        pytest.skip("the compiled pass was not built here")
    if not on:
        monkeypatch.setattr(engine_stages, "_SCAN", None)


def _draw(n: int, temperature: float, compiled: bool) -> engine_draw.UntruncatedDraw:
    return engine_draw.UntruncatedDraw(n, temperature, 5,
                                       engine_stages._DRAW if compiled else None)


class _Fixed:
    """A random source that always answers the same number (the middle of an interval)."""

    def __init__(self, u: float) -> None:
        self.u = float(u)

    def random(self) -> float:
        return self.u


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.6])
@pytest.mark.parametrize("compiled", [True, False])
def test_normaliser_and_inverse_cdf_match_textbook(n: int, temperature: float, compiled: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _compiled(compiled, monkeypatch)
    x = _logits(n, n)
    m = float(x.max())
    w = np.exp((x.astype(np.float64) - m) / temperature)
    d = _draw(n, temperature, compiled)
    total = d.normaliser(x, m, x.ctypes.data, None, 0.0)
    assert total == pytest.approx(float(w.sum()), rel=2e-6)
    assert float(d.sums.sum()) == pytest.approx(total, rel=1e-12)
    # penalised tokens, some of them among the best, weigh as their new logits say
    rng = np.random.default_rng(n + 1)
    pen_ids = np.unique(np.concatenate([np.flatnonzero(x == x.max())[:3],
                                        rng.integers(0, n, 20)])).astype(np.int32)
    pen_old = x[pen_ids]
    pen_new = (pen_old - np.float32(2.5)).astype(np.float32)
    wp = w.copy()
    wp[pen_ids] = np.exp((pen_new.astype(np.float64) - m) / temperature)
    total_p = total - float(w[pen_ids].sum()) + float(wp[pen_ids].sum())
    # the textbook order of the inverse CDF: the penalised bucket first, then the rest by id
    order = np.concatenate([pen_ids, np.setdiff1d(np.arange(n), pen_ids)])
    cum = np.cumsum(wp[order])
    picked = {}
    wide = np.flatnonzero(wp[order] / total_p > 1e-4)  # the penalised best come first
    for at in np.concatenate([wide[:3], rng.choice(wide, 40)]):
        lo = cum[at - 1] if at else 0.0
        d.rng = _Fixed((lo + cum[at]) / 2 / total_p)  # type: ignore[assignment]
        picked[int(order[at])] = d.draw(x, m, x.ctypes.data, total_p, pen_ids,
                                        d.tempered_weights(pen_old, m),
                                        d.tempered_weights(pen_new, m))
    assert picked == {t: t for t in picked}
    assert any(t in pen_ids for t in picked) and any(t not in pen_ids for t in picked)


def _expected_final(x: np.ndarray, settings: SamplerSettings,
                    history: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Every stage keeps the whole vocabulary: the penalised logits and softmax(pen / T)."""
    ids = np.arange(x.size, dtype=np.int32)
    pen = penalize(ids, x, history, settings).astype(np.float64)
    w = np.exp((pen - pen.max()) / settings.temperature)
    return pen, w / w.sum()


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("settings", [TEMPERATURE, PENALTIES], ids=["temperature", "penalties"])
@pytest.mark.parametrize("compiled", [True, False])
def test_untruncated_step_records_the_textbook_distribution(
        n: int, settings: SamplerSettings, compiled: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _compiled(compiled, monkeypatch)
    x = _logits(n, n + 2)
    rng = np.random.default_rng(3)
    best = np.argsort(-x, kind="stable")
    history = [int(t) for t in best[:5]] + rng.integers(0, n, 80).tolist()
    pen, final = _expected_final(x, settings, history)
    sampler = StepSampler(CandidateBuffer(n), n, settings, 9, history, 16)
    try:
        step = sampler.step(x)
    finally:
        sampler.close()
    order = np.argsort(-pen, kind="stable")[:16]
    for stage in step.stages:
        assert stage.survivors == n
        assert list(stage.ids) == order.tolist()
    raw = np.exp(pen - pen.max())
    for stage in step.stages[:-1]:  # penalties and the three stages that are off
        assert stage.probs == pytest.approx((raw[order] / raw.sum()).tolist(), rel=1e-5)
    assert step.stages[-1].probs == pytest.approx(final[order].tolist(), rel=1e-5)
    assert step.final_prob == pytest.approx(float(final[step.token_id]), rel=1e-5)
    assert step.log_z == pytest.approx(
        float(x.max()) + math.log(float(np.exp(x.astype(np.float64) - x.max()).sum())),
        abs=1e-5)


@pytest.mark.parametrize("spread", [6.0, 0.6], ids=["small-nucleus", "wide-nucleus"])
@pytest.mark.parametrize("compiled", [True, False])
def test_nucleus_without_top_k_matches_the_whole_vocabulary(
        spread: float, compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A nucleus of a few tokens and one of thousands, from the compiled pass and numpy."""
    _compiled(compiled, monkeypatch)
    n = 49152
    x = _logits(n, 17, spread)
    reference = {r.name: r for r in run_stages(np.arange(n, dtype=np.int32), x, NUCLEUS)}
    sampler = StepSampler(CandidateBuffer(n), n, NUCLEUS, 9, [], 16)
    try:
        step = sampler.step(x)
    finally:
        sampler.close()
    for stage in step.stages[1:]:
        expected = reference[stage.name]
        assert stage.survivors == expected.survivors, stage.name
        assert list(stage.ids) == expected.ids[: len(stage.ids)].tolist()
        assert stage.probs == pytest.approx(expected.probs[: len(stage.probs)].tolist(),
                                            rel=1e-4, abs=1e-7)
    assert step.token_id in reference["temperature"].ids.tolist()
    assert (reference["top_p"].survivors < 1024) == (spread > 1.0)  # both sizes were tried


def _chi_square(counts: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """The statistic, and its quantile at p = 0.999 (Wilson-Hilferty)."""
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    dof = counts.size - 1
    critical = dof * (1 - 2 / (9 * dof) + 3.09 * math.sqrt(2 / (9 * dof))) ** 3
    return chi2, critical


def _draws_follow_the_record(sampler: StepSampler, x: np.ndarray, n: int, cells: int) -> None:
    """Draw n times from one step; the shown tokens are cells, every other token one more."""
    first = sampler.step(x)
    final = first.stages[-1]
    shown = list(final.ids[:cells])
    probs = np.array([*final.probs[:cells], 1.0 - sum(final.probs[:cells])])
    counts = np.zeros(len(shown) + 1)
    where = {t: i for i, t in enumerate(shown)}
    for _ in range(n):
        step = sampler.step(x)
        counts[where.get(step.token_id, len(shown))] += 1
        # the drawn token's recorded probability is the final distribution's
        if step.token_id in where:
            assert step.final_prob == pytest.approx(probs[where[step.token_id]], rel=1e-6)
    expected = probs * n
    assert expected.min() > 5, "test needs every cell populated"
    chi2, critical = _chi_square(counts, expected)
    assert chi2 < critical, (chi2, critical, counts.tolist(), expected.round(1).tolist())


@pytest.mark.parametrize("compiled", [True, False])
def test_penalised_draws_follow_the_recorded_distribution(
        compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _compiled(compiled, monkeypatch)
    n = 49152
    x = _logits(n, 23, 1.2)
    best = np.argsort(-x, kind="stable")
    history = [int(t) for t in best[:4]] * 2  # the best tokens penalised: they move down
    sampler = StepSampler(CandidateBuffer(n), n, PENALTIES, 31, history, 12)
    try:
        _draws_follow_the_record(sampler, x, 3000, 10)
    finally:
        sampler.close()


def test_pure_temperature_draws_follow_the_record_on_262k_vocabulary(gemma_model_path) -> None:
    """Real logits from Gemma (262,144 tokens), temperature 1 and nothing else."""
    from tokenwise.core.engine.local import Engine

    with Engine(gemma_model_path, n_ctx=256) as engine:
        ids = engine.token_ids("My favourite animal is the", add_special=True)
        engine._decode(ids, 0, None)
        x = engine._logits().copy()
        settings = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
        sampler = StepSampler(engine._buffer, engine.n_vocab, settings, 42, [], 12)
        try:
            _draws_follow_the_record(sampler, x, 4000, 10)
        finally:
            sampler.close()


def test_untruncated_and_nucleus_generations_on_the_starter(engine) -> None:
    """Whole generations: every step's record is a distribution the token was drawn from."""
    prompt = engine.render_chat([ChatMessage("user", "Tell me a story.")]).token_ids
    for settings in (TEMPERATURE, PENALTIES, NUCLEUS):
        engine._trim(0)
        from tokenwise.core.interface import GenerationRequest

        steps = list(engine.generate(GenerationRequest(
            prompt, settings.with_(max_tokens=16, seed=4), top_k_display=20,
            extra={"ignore_eog": True})))
        assert len(steps) == 16
        for step in steps:
            final = step.stages[-1]
            assert 0.0 < step.final_prob <= 1.0
            if step.token_id in final.ids:
                assert step.final_prob == pytest.approx(final.prob_of(step.token_id), rel=1e-6)


def test_the_tempered_normaliser_comes_from_the_scan_itself() -> None:
    """At T other than 1 the one pass gives the draw's normaliser: no second pass runs, and
    the draw and the record are those of the two-pass path."""
    n = 49152
    x = _logits(n, 31, 2.0)
    records = []
    for fused in (True, False):
        sampler = StepSampler(CandidateBuffer(n), n, TEMPERATURE, 13, [], 12)
        untruncated = sampler._untruncated
        assert untruncated is not None and untruncated.compiled is not None
        assert sampler._tempered_scan is not None
        if fused:
            def no_second_pass(*_args: object) -> float:
                raise AssertionError("a second pass over the vocabulary")
            untruncated.compiled = (no_second_pass, *untruncated.compiled[1:])
        else:
            sampler._tempered_scan = None
        try:
            records.append([sampler.step(x) for _ in range(40)])
        finally:
            sampler.close()
    for a, b in zip(*records, strict=True):
        assert a.token_id == b.token_id
        assert a.stages[-1].probs == pytest.approx(b.stages[-1].probs, rel=1e-6)
        assert a.final_prob == pytest.approx(b.final_prob, rel=1e-6)


@pytest.mark.parametrize("n", [49152, 262144])
@pytest.mark.parametrize("settings", [
    SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0), TEMPERATURE, PENALTIES,
    PENALTIES.with_(temperature=1.0)], ids=["t1", "t0.7", "penalties", "penalties-t1"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_the_one_call_decision_is_the_separate_calls(
        n: int, settings: SamplerSettings, split: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """tw_untruncated (the pass, the penalties and the draw in one call) gives every number
    the separate calls give: the same tokens from the same seed, the same records to the
    bit, a branch's forced token included; split, the display half finishes on a copy."""
    if engine_stages._UNTRUNCATED is None:
        pytest.skip("the compiled pass was not built here")
    calls = counted(monkeypatch, engine_stages, "_UNTRUNCATED")
    x = _logits(n, n + 5, 1.0)
    best = np.argsort(-x, kind="stable")[:10].tolist()
    x[best] = np.float32(12.0)  # penalised, and still drawn often
    history = best + np.random.default_rng(6).integers(0, n, 30).tolist()
    runs = []
    for one_call in (True, False):
        sampler = StepSampler(CandidateBuffer(n), n, settings, 17, history, 16)
        sampler._one_call = one_call
        runs.append(run_steps(sampler, x, 25, split=split, forced_at=3,
                              forced=int(np.argsort(x)[n // 2]), accept=True))
    assert len(calls) == 25  # the one-call sampler's steps, each in one call
    assert runs[0] == runs[1]
    assert len({s.token_id for s in runs[0]}) > 3  # drawn, not the same token each time
    if settings.penalties_active:
        assert any(s.token_id in best for s in runs[0])  # a penalised token drawn


def test_a_step_the_one_call_cannot_take_keeps_its_uniform_number(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where tw_untruncated gives up (0), the separate calls take the step with the uniform
    number it was handed: the draws stay those of the seed."""
    if engine_stages._UNTRUNCATED is None:
        pytest.skip("the compiled pass was not built here")
    n = 49152
    x = _logits(n, 77, 2.0)
    real = engine_stages._UNTRUNCATED
    refused = []

    def every_other(*args: object) -> int:
        if len(refused) % 2 == 0:
            refused.append(1)
            return 0
        refused.append(0)
        return real(*args)

    tokens = []
    for one_call in (True, False):
        if one_call:
            monkeypatch.setattr(engine_stages, "_UNTRUNCATED", every_other)
        else:
            monkeypatch.setattr(engine_stages, "_UNTRUNCATED", real)
        sampler = StepSampler(CandidateBuffer(n), n, PENALTIES, 5, [1, 2, 3], 8)
        sampler._one_call = one_call
        try:
            steps = []
            for _ in range(12):
                steps.append(sampler.step(x))
                sampler.accept(steps[-1].token_id)
            tokens.append(steps)
        finally:
            sampler.close()
    assert sum(refused) == 6
    assert tokens[0] == tokens[1]
