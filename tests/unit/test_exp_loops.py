"""The compiled pass's exponentials, in each loop it can take on this CPU.

Level 0 is ggml's softmax kernel with a dot product after it; 1 and 2 are the pass's own AVX2
and AVX-512 loops, which compute every sum a chunk needs in one read of it. Each level is held
here to float64 textbook formulas, and within each level what the pass computes together or
apart comes out the same to the bit: the moments of tw_scan and of tw_moments, the tempered
sums with or without the moments. tw_pick walks through the weights of the chunk its sums
point to, computed again in the same loop.
"""

from __future__ import annotations

import numpy as np
import pytest

from tokenwise.core.engine import compiled
from tokenwise.core.engine.compiled import (
    _DRAW,
    _MOMENTS,
    _SCAN,
    _SCAN_TEMPERED,
    _SOFTMAX_ADDRESS,
    CandidateBuffer,
)
from tokenwise.core.engine.draw import CHUNK, chunk_count

#: every level this CPU takes (the last is the default); none where the pass was not built
LEVELS = list(range(compiled.use_exps(2) + 1)) if _SCAN is not None else []

pytestmark = pytest.mark.skipif(_SCAN is None, reason="the compiled pass was not built")


@pytest.fixture(autouse=True)
def _default_level():
    yield
    compiled.use_exps(2)


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    cases = {"normal": (rng.standard_normal(262144) * 3.0).astype(np.float32)}
    # a tail past the last chunk and the last vector, and masked tokens among the rest
    tail = (rng.standard_normal(5 * CHUNK + 37) * 2.0).astype(np.float32)
    tail[rng.integers(0, tail.size, 300)] = -np.inf
    tail[-3:] = [-np.inf, 6.5, -np.inf]
    cases["tail-and-masked"] = tail
    # logits 150 nats apart: weights that underflow to 0 at every temperature
    wide = np.linspace(-140.0, 10.0, 49152, dtype=np.float32)
    rng.shuffle(wide)
    cases["underflow"] = wide
    return cases


CASES = _cases()


def _tempered(x: np.ndarray, inv_t: float, t_sums: np.ndarray,
              moments: bool) -> tuple[np.ndarray, float, list[float]]:
    """tw_scan_tempered: (its chunk sums, its tempered sum, its max and moments)."""
    buf = CandidateBuffer(x.size)
    out = np.zeros(1)
    count = _SCAN_TEMPERED(x.ctypes.data, x.size, 32, _SOFTMAX_ADDRESS, *buf.scan_args,
                           inv_t, t_sums.ctypes.data, out.ctypes.data, None, int(moments))
    assert count >= 32
    return t_sums.copy(), float(out[0]), buf.scan_out.tolist()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", list(CASES))
def test_each_loop_computes_the_textbook_sums(level: int, name: str) -> None:
    assert compiled.use_exps(level) == level
    x = CASES[name]
    finite = x[np.isfinite(x)].astype(np.float64)
    m = float(finite.max())
    e = np.exp(finite - m)
    buf = CandidateBuffer(x.size)
    assert _SCAN(x.ctypes.data, x.size, 32, _SOFTMAX_ADDRESS, *buf.scan_args) >= 32
    got_m, z, s = buf.scan_out.tolist()
    assert got_m == m
    assert z == pytest.approx(e.sum(), rel=1e-6)
    assert s == pytest.approx((e * finite).sum(), rel=1e-5, abs=1e-4)
    # each chunk's share, as the untruncated draw reads them
    padded = np.where(np.isfinite(x), np.exp(x.astype(np.float64) - m), 0.0)
    shares = np.add.reduceat(padded, np.arange(0, x.size, CHUNK))
    assert buf.chunk_sums[:chunk_count(x.size)] == pytest.approx(shares, rel=1e-6, abs=1e-300)
    for inv_t in (2.0, 1.25, 0.6):
        t_sums = np.zeros(chunk_count(x.size))
        _, t, _ = _tempered(x, inv_t, t_sums, moments=True)
        expected = np.exp((finite - m) * np.float32(inv_t)).sum()
        assert t == pytest.approx(expected, rel=2e-6)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", list(CASES))
def test_what_is_computed_together_or_apart_is_the_same(level: int, name: str) -> None:
    compiled.use_exps(level)
    x = CASES[name]
    n = x.size
    # the moments: tw_scan's and tw_moments' (a split step's display half)
    buf = CandidateBuffer(n)
    _SCAN(x.ctypes.data, n, 32, _SOFTMAX_ADDRESS, *buf.scan_args)
    m, z, s = buf.scan_out.tolist()
    alone = np.zeros(2)
    _MOMENTS(x.ctypes.data, n, m, _SOFTMAX_ADDRESS, alone.ctypes.data, None)
    assert alone.tolist() == [z, s]
    # the tempered sums with the moments and without them (a split step's decision)
    with_m = _tempered(x, 1.25, np.zeros(chunk_count(n)), moments=True)
    without = _tempered(x, 1.25, np.zeros(chunk_count(n)), moments=False)
    assert with_m[0].tobytes() == without[0].tobytes()
    assert with_m[1] == without[1]
    assert with_m[2] == [m, z, s]
    # tw_tempered (a draw's normaliser where the scan did not give one) sums relative to the
    # overall max from the start, the scan relative to the running max: close
    tempered, _, softmax, _ = _DRAW
    for inv_t, scanned, scanned_sums in ((1.25, with_m[1], with_m[0]),
                                         (1.0, z, buf.chunk_sums[:chunk_count(n)])):
        sums = np.zeros(chunk_count(n))
        total = tempered(x.ctypes.data, n, m, inv_t, softmax, sums.ctypes.data)
        assert total == pytest.approx(scanned, rel=1e-6)
        assert sums == pytest.approx(scanned_sums, rel=5e-6, abs=1e-300)


@pytest.mark.parametrize("level", LEVELS)
def test_the_draw_walks_the_weights_it_summed(level: int) -> None:
    """tw_pick finds the chunk by the chunk sums, then walks the weights computed again in
    the same loop: the token it returns is where the float64 running sum passes the target,
    within the loops' rounding."""
    compiled.use_exps(level)
    x = CASES["tail-and-masked"]
    n = x.size
    m = float(x[np.isfinite(x)].max())
    tempered, pick, softmax, _ = _DRAW
    sums = np.zeros(chunk_count(n))
    total = tempered(x.ctypes.data, n, m, 1.25, softmax, sums.ctypes.data)
    weights = np.where(np.isfinite(x), np.exp((x.astype(np.float64) - m) * 1.25), 0.0)
    cum = np.cumsum(weights)
    no_skip = np.zeros(1, dtype=np.int32)
    rng = np.random.default_rng(3)
    for u in [*rng.random(200), 0.0, 1.0 - 1e-12]:
        target = u * total
        token = pick(x.ctypes.data, n, m, 1.25, softmax, sums.ctypes.data, target,
                     no_skip.ctypes.data, 0)
        assert 0 <= token < n
        assert weights[token] > 0.0  # never a masked token
        before = cum[token] - weights[token]
        assert before <= target * (1 + 1e-6) + 1e-12
        assert cum[token] >= target * (1 - 1e-6)


def test_the_levels_choose_within_what_the_cpu_has() -> None:
    top = compiled.use_exps(2)
    assert top in (0, 1, 2)
    assert compiled.use_exps(0) == 0
    assert compiled.use_exps(1) == min(1, top)
    assert compiled.use_exps(5) == top  # asking for more takes what there is
    assert compiled.use_exps(-1) == 0
    assert compiled.EXP_LOOPS[top]
