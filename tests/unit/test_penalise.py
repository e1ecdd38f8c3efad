"""tw_penalise (the compiled penalties stage) against the numpy arithmetic it replaces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenwise.core.engine import compiled
from tokenwise.core.engine.compiled import _PENALISE, _SCAN, _SOFTMAX_ADDRESS, CandidateBuffer
from tokenwise.core.engine.stages import StepSampler
from tokenwise.core.sampling.settings import SamplerSettings


def _numpy_penalties(x: np.ndarray, ids: np.ndarray, times: np.ndarray,
                     s: SamplerSettings) -> np.ndarray:
    old = x[ids]
    rp = np.float32(s.repeat_penalty)
    new = np.where(old <= 0, old * rp, old / rp)
    return (new - times * np.float32(s.frequency_penalty)
            - np.float32(s.presence_penalty)).astype(np.float32)


@pytest.mark.parametrize("seed", range(8))
def test_the_compiled_penalties_match_numpy_and_the_stable_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5000 + seed * 977
    # coarse values: many equal logits, on both sides of zero
    x = (rng.integers(-40, 40, n) / 4).astype(np.float32)
    settings = SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0,
                               repeat_penalty=1.1 + seed / 10, presence_penalty=0.5,
                               frequency_penalty=0.25 * (seed % 3), repeat_last_n=64)
    buf = CandidateBuffer(n)
    need = 40
    scanned = _SCAN(x.ctypes.data, n, need, _SOFTMAX_ADDRESS, *buf.scan_args)
    assert scanned >= need
    m = float(buf.scan_out[0])
    cand_ids = buf.ids[:scanned].copy()
    # some penalised tokens among the candidates, the rest anywhere
    pen_ids = np.unique(np.concatenate([rng.choice(cand_ids, 6, replace=False),
                                        rng.integers(0, n, 30)])).astype(np.int32)
    rng.shuffle(pen_ids)
    counts = rng.integers(1, 5, pen_ids.size).astype(np.int32)
    times = counts.astype(np.float32)
    inv_t = float(np.float32(1 / settings.temperature))
    size = _PENALISE(x.ctypes.data, pen_ids.ctypes.data, counts.ctypes.data, pen_ids.size,
                     settings.repeat_penalty, settings.frequency_penalty,
                     settings.presence_penalty, m, inv_t, *buf.penalise_args, scanned,
                     buf.union_ptr)
    k = pen_ids.size
    expected_new = _numpy_penalties(x, pen_ids, times, settings)
    assert np.array_equal(buf.pen_old[:k], x[pen_ids])
    assert np.array_equal(buf.pen_new[:k], expected_new)  # to the bit
    w_new = np.exp((expected_new.astype(np.float64) - m) * inv_t)
    assert np.allclose(buf.pen_w_new[:k], w_new, rtol=1e-12)
    s_old, s_new, t_old, t_new = buf.pen_sums.tolist()
    assert s_new == pytest.approx(float(np.exp(expected_new.astype(np.float64) - m).sum()),
                                  rel=1e-12)
    assert s_old == pytest.approx(float(np.exp(x[pen_ids].astype(np.float64) - m).sum()),
                                  rel=1e-12)
    assert t_new == pytest.approx(float(w_new.sum()), rel=1e-12)
    assert math.isfinite(t_old)
    # the union, in the order the numpy path gives (a stable sort of the raw order)
    sampler = StepSampler(buf, n, settings, 7, [], 32)
    try:
        ids, pen = sampler._penalised(cand_ids, x[cand_ids], x, pen_ids, expected_new)
    finally:
        sampler.close()
    assert size == ids.size == np.union1d(cand_ids, pen_ids).size
    assert np.array_equal(buf.union_ids[:size], ids)
    assert np.array_equal(buf.union_pen[:size], pen)
    # and that order is: penalised logit, then raw logit (both descending), then id
    raw = x[ids]
    keys = list(zip((-pen).tolist(), (-raw).tolist(), ids.tolist(), strict=True))
    assert keys == sorted(keys)


def test_too_many_penalised_tokens_are_refused() -> None:
    x = np.zeros(4096, dtype=np.float32)
    buf = CandidateBuffer(x.size)
    ids = np.arange(compiled._SCAN_MAX_NEED + 1, dtype=np.int32)
    counts = np.ones(ids.size, dtype=np.int32)
    assert _PENALISE(x.ctypes.data, ids.ctypes.data, counts.ctypes.data, ids.size, 1.1, 0.0,
                     0.0, 0.0, 1.0, *buf.penalise_args, 0, buf.union_ptr) == -1


def test_the_scan_copies_the_logits_as_it_reads_them() -> None:
    from tokenwise.core.engine.compiled import _SCAN_COPY

    rng = np.random.default_rng(3)
    x = rng.normal(size=70_001).astype(np.float32)  # not a whole number of chunks
    buf = CandidateBuffer(x.size)
    copy = np.full(x.size, np.nan, dtype=np.float32)
    found = _SCAN_COPY(x.ctypes.data, x.size, 32, None, *buf.scan_args, copy.ctypes.data)
    assert found >= 32
    assert np.array_equal(copy, x)
    assert set(buf.ids[:32].tolist()) == set(np.argsort(-x)[:32].tolist())


@pytest.mark.parametrize("length", [1, 3, 64, 1 << 30])
def test_the_penalty_window_counts_the_last_tokens(length: int) -> None:
    """Slots kept up to date token by token hold what counting the last `length` tokens
    afresh gives, through windows that fill, slide, empty slots and outgrow the arrays."""
    from collections import Counter

    from tokenwise.core.engine.stages import PenaltyWindow

    rng = np.random.default_rng(length % 97)
    window = PenaltyWindow(length)
    seen: list[int] = []
    for i in range(600):
        token = int(rng.integers(0, 40 if i < 300 else 400))  # repeats, then many distinct
        window.add(token)
        seen.append(token)
        expected = Counter(seen[-length:])
        assert len(window) == len(expected)
        assert dict(zip(window.ids.tolist(), window.counts.tolist(), strict=True)) == expected
    # the addresses the compiled pass reads are the arrays' own
    assert window.ids_ptr == window.ids.ctypes.data
    assert window.counts_ptr == window.counts.ctypes.data
