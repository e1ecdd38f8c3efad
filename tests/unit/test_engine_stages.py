"""One step's pass over the logits: the compiled pass and the numpy path against plain loops.

Synthetic logits of several vocabulary sizes (one not a multiple of the column width, so
the numpy path's tail is exercised), with ties and -inf entries; then whole generations on
the real starter model with each path.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenwise.core.engine import stages as engine_stages
from tokenwise.core.engine.stages import CandidateBuffer, StepSampler
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings

SIZES = [49152, 4 * 4096 + 1237, 262144]
needs_c = pytest.mark.skipif(engine_stages.scan_kind() != "C",
                             reason="the compiled pass was not built here")


def _logits(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3.0).astype(np.float32)
    x[rng.integers(0, n, 40)] = np.float32(9.5)  # ties among the best
    x[rng.integers(0, n, 100)] = -np.inf  # masked tokens
    return x


def _expected(x: np.ndarray, need: int) -> tuple[float, float, float, list[int]]:
    """max, log Z, entropy and the best `need` ids, by the textbook formulas in float64."""
    v = x.astype(np.float64)
    m = float(v.max())
    p = np.exp(v - m)
    z = float(p.sum())
    p /= z
    finite = p > 0
    entropy = float(-(p[finite] * np.log(p[finite])).sum())
    order = sorted(range(x.size), key=lambda i: (-v[i], i))  # ties: lower id first
    return m, m + math.log(z), entropy, order[:need]


def _sampler(n: int, settings: SamplerSettings, k: int = 32) -> StepSampler:
    return StepSampler(CandidateBuffer(n), n, settings, 7, [], k)


@needs_c
@pytest.mark.parametrize("n", SIZES)
def test_compiled_pass_matches_plain_formulas(n: int) -> None:
    x = _logits(n, n)
    buf = CandidateBuffer(n)
    for need in (1, 32, 100):
        count = engine_stages._SCAN(x.ctypes.data, n, need, engine_stages._SOFTMAX_ADDRESS,
                                    *buf.scan_args)
        m, z, sum_ex = buf.scan_out.tolist()
        e_m, e_log_z, e_entropy, best = _expected(x, need)
        assert m == e_m
        assert m + math.log(z) == pytest.approx(e_log_z, abs=1e-5)
        assert (m + math.log(z)) - sum_ex / z == pytest.approx(e_entropy, abs=1e-4)
        ids = buf.ids[:count].tolist()
        assert count >= need
        assert ids[:need] == best  # sorted best first, ties by id
        vals = buf.logits[:count]
        assert np.all(vals[:-1] >= vals[1:])
        assert np.all(vals >= x[best[-1]])  # nothing below the need-th best


@needs_c
def test_compiled_pass_refuses_what_it_cannot_hold() -> None:
    x = np.zeros(10000, dtype=np.float32)  # every token ties: more than the buffer holds
    buf = CandidateBuffer(x.size)
    args = (x.ctypes.data, x.size, 32, engine_stages._SOFTMAX_ADDRESS, *buf.scan_args)
    assert engine_stages._SCAN(*args) == -1
    assert engine_stages._SCAN(x.ctypes.data, x.size, 0, *args[3:]) == -2


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("compiled", [True, False])
def test_step_numbers_match_plain_formulas(n: int, compiled: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if compiled and engine_stages.scan_kind() != "C":
        pytest.skip("the compiled pass was not built here")
    if not compiled:
        monkeypatch.setattr(engine_stages, "_SCAN", None)
    x = _logits(n, n + 1)
    _, log_z, entropy, best = _expected(x, 32)
    sampler = _sampler(n, PRESETS["Greedy"])
    try:
        step = sampler.step(x)
    finally:
        sampler.close()
    assert step.cand_ids == best
    assert step.token_id == best[0]
    assert step.log_z == pytest.approx(log_z, abs=1e-5)
    assert step.entropy == pytest.approx(entropy, abs=1e-4)
    assert step.cand_probs[0] == pytest.approx(math.exp(float(x[best[0]]) - log_z), rel=1e-5)


def _generate(engine, settings: SamplerSettings) -> list:
    ids = engine.render_chat([ChatMessage("user", "Name three rivers in China.")]).token_ids
    engine._trim(0)
    stream = engine.generate(GenerationRequest(ids, settings.with_(max_tokens=24, seed=11)))
    return list(stream)


WIDE = SamplerSettings(temperature=1.0, top_k=900, top_p=0.99, min_p=0.0,
                       repeat_penalty=1.3, presence_penalty=0.5)


TEMPERATURE_ALONE = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
NUCLEUS_ALONE = SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0)
PENALTIES_ALONE = SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0,
                                  repeat_penalty=1.1, presence_penalty=0.5,
                                  frequency_penalty=0.5)


@needs_c
@pytest.mark.parametrize("settings", [PRESETS["Greedy"], PRESETS["Balanced"],
                                      PRESETS["Creative"], WIDE, TEMPERATURE_ALONE,
                                      NUCLEUS_ALONE, PENALTIES_ALONE],
                         ids=["greedy", "balanced", "creative", "wide-top-k-penalties",
                              "temperature-alone", "top-p-alone", "penalties-alone"])
def test_both_paths_give_the_same_generation(engine, settings: SamplerSettings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Creative has repetition penalties: the penalised tokens join the compiled pass's best.

    With top-k 900 and a 64-token penalty window, up to 964 of the best are asked for: close
    to the compiled pass's limit of 1024 candidates.
    """
    fast = _generate(engine, settings)
    monkeypatch.setattr(engine_stages, "_SCAN", None)
    slow = _generate(engine, settings)
    assert [s.token_id for s in fast] == [s.token_id for s in slow]
    for a, b in zip(fast, slow, strict=True):
        assert a.log_z == pytest.approx(b.log_z, abs=1e-5)
        assert a.entropy == pytest.approx(b.entropy, abs=1e-4)
        assert [c.token_id for c in a.candidates] == [c.token_id for c in b.candidates]
        for sa, sb in zip(a.stages, b.stages, strict=True):
            assert (sa.name, sa.survivors, sa.ids) == (sb.name, sb.survivors, sb.ids)
            assert sa.probs == pytest.approx(sb.probs, abs=1e-6)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("bad", ["nan", "all-masked", "inf"])
def test_invalid_logits_give_a_clear_error(compiled: bool, bad: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenwise.core.errors import InvalidLogitsError

    if compiled and engine_stages.scan_kind() != "C":
        pytest.skip("the compiled pass was not built here")
    if not compiled:
        monkeypatch.setattr(engine_stages, "_SCAN", None)
    x = _logits(49152, 5)
    if bad == "nan":
        x[:: 7] = np.nan
    elif bad == "all-masked":
        x[:] = -np.inf
    else:
        x[123] = np.inf
    sampler = _sampler(x.size, PRESETS["Balanced"])
    try:
        with pytest.raises(InvalidLogitsError, match="invalid numbers"):
            sampler.step(x)
    finally:
        sampler.close()


def test_stage_weights_agree_short_and_long() -> None:
    """Short prefixes are weighed in plain Python, long ones (top-k off) in numpy."""
    from tokenwise.core.engine.stages import _PYTHON_BELOW, _prefix_weights

    top = np.sort(_logits(5000, 3)[:5000])[::-1]
    top = top[np.isfinite(top)]
    for n in (1, 40, _PYTHON_BELOW - 1, _PYTHON_BELOW, 4000):
        weights, cum = _prefix_weights(top[:n], 32)
        expected = np.exp(top[:n].astype(np.float64) - float(top[0]))
        assert len(weights) >= min(n, 32)
        assert weights[: min(n, 32)] == pytest.approx(expected[:32].tolist(), rel=1e-12)
        assert len(cum) == n
        assert float(cum[n - 1]) == pytest.approx(float(expected.sum()), rel=1e-9)


@needs_c
def test_compiled_pass_with_masked_chunks_and_a_rising_max() -> None:
    """One pass keeps the moments relative to the running max: leading chunks all masked,
    the max rising late, and the largest `need`; the split pass gives the same bits."""
    n = 49152
    x = _logits(n, 77)
    x[: 2 * 2048 + 5] = -np.inf
    x[n - 3] = np.float32(30.0)  # the best comes last: every earlier sum is rescaled
    buf = CandidateBuffer(n)
    for need in (1, 1024):
        count = engine_stages._SCAN(x.ctypes.data, n, need, engine_stages._SOFTMAX_ADDRESS,
                                    *buf.scan_args)
        m, z, sum_ex = buf.scan_out.tolist()
        e_m, e_log_z, e_entropy, best = _expected(x, need)
        assert m == e_m == 30.0
        assert m + math.log(z) == pytest.approx(e_log_z, abs=1e-5)
        assert (m + math.log(z)) - sum_ex / z == pytest.approx(e_entropy, abs=1e-4)
        assert buf.ids[:need].tolist() == best
        assert count >= need
        assert float(buf.chunk_sums.sum()) == pytest.approx(z, rel=1e-9)
        assert buf.chunk_sums[:2].tolist() == [0.0, 0.0]
        out = np.empty(2)
        engine_stages._MOMENTS(x.ctypes.data, n, m, engine_stages._SOFTMAX_ADDRESS,
                               out.ctypes.data, None)
        assert out.tolist() == [z, sum_ex]
