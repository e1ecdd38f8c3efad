"""tw_nucleus (top-p without top-k, found in the compiled pass) against the sorted vocabulary.

The nucleus is the smallest prefix of the vocabulary sorted best first (equal logits by id)
whose probabilities, summed in order in double, reach top-p. The pass collects the tokens
within a depth of the best, goes deeper where they hold too little, and sorts only the part
of them that can hold the nucleus; every case here checks all three against the reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenwise.core.engine.compiled import _NUCLEUS, _SOFTMAX_ADDRESS, CandidateBuffer


def _reference(x: np.ndarray, top_p: float, log_z: float) -> tuple[np.ndarray, int, float]:
    order = np.lexsort((np.arange(x.size), -x))  # best first, then the lower id
    mass = np.cumsum(np.exp(x[order].astype(np.float64) - log_z))
    keep = min(int(np.searchsorted(mass, top_p, side="left")) + 1, x.size)
    return order, keep, float(mass[keep - 1])


def _nucleus(x: np.ndarray, top_p: float, depth: float, need: int = 32,
             buf: CandidateBuffer | None = None) -> tuple[CandidateBuffer, int]:
    buf = buf or CandidateBuffer(x.size)
    count = _NUCLEUS(x.ctypes.data, x.size, need, _SOFTMAX_ADDRESS, *buf.nucleus_args,
                     top_p, depth)
    return buf, count


def _check(x: np.ndarray, top_p: float, depth: float, need: int = 32) -> int:
    buf, count = _nucleus(x, top_p, depth, need)
    m, z, _s, keep, mass, reach = buf.nucleus_out.tolist()
    assert m == float(x.max())
    log_z = m + math.log(z)
    assert log_z == pytest.approx(
        m + math.log(float(np.exp(x.astype(np.float64) - m).sum())), abs=1e-5)
    order, expected_keep, expected_mass = _reference(x, top_p, log_z)
    assert int(keep) == expected_keep
    assert mass == pytest.approx(expected_mass, rel=1e-12)
    assert reach == pytest.approx(m - float(x[order[expected_keep - 1]]), abs=1e-6)
    # a sorted prefix of the vocabulary, holding the nucleus and the display's best
    assert count >= max(expected_keep, need)
    assert np.array_equal(buf.ids[:count], order[:count])
    assert np.array_equal(buf.logits[:count], x[order[:count]])
    return expected_keep


@pytest.mark.parametrize("spread", [8.0, 3.0, 1.0, 0.3, 0.05])
@pytest.mark.parametrize("top_p", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("depth", [0.1, 4.0, 40.0])
def test_the_nucleus_is_the_sorted_prefix_that_reaches_top_p(
        spread: float, top_p: float, depth: float) -> None:
    """Peaked to nearly flat; a depth far too shallow (collected again, deeper) or too deep
    (many collected, few sorted)."""
    rng = np.random.default_rng(int(spread * 100) + int(top_p * 1000))
    x = (rng.standard_normal(49152) * spread).astype(np.float32)
    x[rng.integers(0, x.size, 3)] += 4.0 * spread  # a few clear favourites
    _check(x, top_p, depth)


def test_a_nucleus_of_almost_the_whole_vocabulary() -> None:
    x = (np.random.default_rng(3).standard_normal(30000) * 0.01).astype(np.float32)
    assert _check(x, 0.999, 1.0) > 29000


@pytest.mark.parametrize("seed", range(6))
def test_equal_logits_at_the_nucleus_edge_keep_llama_cpp_order(seed: int) -> None:
    """Coarse logits: whole runs of equal values, the nucleus ending inside one of them."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(-24, 8, 20000 + 131 * seed) / 4).astype(np.float32)
    x[rng.integers(0, x.size, 40)] = 0.0
    x[rng.integers(0, x.size, 40)] = -0.0  # equal to 0.0: ordered by id alone
    _check(x, 0.3 + 0.1 * seed, 0.5)


def test_masked_tokens_never_enter_the_nucleus() -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(40000) * 0.5).astype(np.float32)
    x[::3] = -np.inf
    keep = _check(x, 0.999999, 2.0)
    buf, count = _nucleus(x, 0.999999, 2.0)
    assert np.isfinite(buf.logits[:count]).all()
    assert keep <= np.isfinite(x).sum()


def test_invalid_logits_are_left_to_the_caller() -> None:
    x = np.full(4096, -np.inf, dtype=np.float32)
    buf, _count = _nucleus(x, 0.9, 4.0)
    assert buf.nucleus_out[3] == 0.0  # no nucleus: the step reports the invalid numbers
    x = np.zeros(4096, dtype=np.float32)
    x[7] = np.inf
    buf, _count = _nucleus(x, 0.9, 4.0)
    assert buf.nucleus_out[3] == 0.0


def test_a_depth_past_the_last_nucleus_is_what_the_next_step_needs() -> None:
    """The reach it reports, a nat deeper, holds the same step's nucleus in one collection."""
    x = (np.random.default_rng(11).standard_normal(49152) * 1.5).astype(np.float32)
    buf, _count = _nucleus(x, 0.9, 0.2)
    reach = float(buf.nucleus_out[5])
    keep = int(buf.nucleus_out[3])
    again, count_again = _nucleus(x, 0.9, reach + 1.0)
    assert int(again.nucleus_out[3]) == keep
    # collected within reach + 1 nat: no more than the tokens there (a prefix: the nucleus
    # part of them sorted)
    assert count_again <= int(np.count_nonzero(x >= x.max() - (reach + 1.0)))


def test_only_the_part_that_can_hold_the_nucleus_is_sorted() -> None:
    """Collected far too deep (the whole vocabulary), the bins cut it to the nucleus's
    neighbourhood before the sort."""
    x = (np.random.default_rng(13).standard_normal(49152) * 3.0).astype(np.float32)
    keep = _check(x, 0.9, 1000.0)
    _buf, count = _nucleus(x, 0.9, 1000.0)
    assert count < 2 * keep < x.size // 4
