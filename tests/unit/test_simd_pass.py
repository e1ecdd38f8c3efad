"""The compiled pass's shortcuts against the plain pass: the same numbers.

The wide loops (AVX2, where the CPU has it) only look at 32 or 64 floats at once where SSE2
looks at 16: every block that may hold a candidate is still read float by float, so the
candidates, the max, the heap's threshold and every count are the same to the bit. Only
sum(exp(x - max) * x) is folded in another order (close, not equal). On a CPU without AVX2
both runs take SSE2 and the comparison still holds.

The exponentials come from the pass's own AVX-512 or AVX2 loop where the CPU has it, else
from ggml's softmax kernel: the plain run here takes ggml's, so its sums are close, not equal
(test_exp_loops.py holds each loop to the textbook).

The prepass finds a bound below each part's need-th largest logit (from its blocks' largest)
and the main pass collects only what reaches it, where the plain pass keeps a heap whose
threshold rises as it reads: every number is the same to the bit. Where the bound collects
more than the candidates hold (a crowd just below the best), or the blocks are fewer than the
logits wanted, the heap takes the part after all.
"""

from __future__ import annotations

import numpy as np
import pytest

from tokenwise.core.engine import compiled
from tokenwise.core.engine.compiled import (
    _COUNT_ABOVE,
    _MOMENTS,
    _NUCLEUS,
    _SCAN,
    _SOFTMAX_ADDRESS,
    CandidateBuffer,
)


@pytest.fixture
def wide_restored():
    yield
    compiled.use_avx2(True)
    compiled.use_exps(2)
    compiled.use_prepass(True)


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    cases = {"normal": (rng.standard_normal(262144) * 2.5).astype(np.float32)}
    peaked = (rng.standard_normal(49152) * 1.5).astype(np.float32)
    peaked[rng.integers(0, peaked.size, 6)] += 14.0
    cases["peaked"] = peaked
    # best values on the edges of 16-, 64- and 2048-float blocks, and a tail past them
    edges = (rng.standard_normal(3 * 2048 + 37) - 4.0).astype(np.float32)
    for i in (15, 16, 63, 64, 2047, 2048, 4095, 6143, edges.size - 1):
        edges[i] = 5.0 + (i % 7) / 8.0
    cases["block-edges"] = edges
    ties = (rng.integers(-30, 6, 40000) / 2).astype(np.float32)  # runs of equal logits
    ties[ties == 0.0] = -0.0  # -0 and +0 on the threshold
    ties[::97] = 0.0
    cases["ties-signed-zero"] = ties
    masked = (rng.standard_normal(30001)).astype(np.float32)
    masked[: 5 * 2048 + 3] = -np.inf  # a masked start, then the best appears late
    masked[-11] = 30.0
    cases["masked-then-late"] = masked
    crowd = (rng.standard_normal(262144) * 2.0).astype(np.float32)
    crowd[rng.choice(131072, 6000, replace=False)] = rng.uniform(10.0, 10.05, 6000)
    cases["crowd-below-best"] = crowd  # more at the bound than a part's candidates hold
    spread = (rng.standard_normal(131072) - 200.0).astype(np.float32)
    spread[::128] = np.linspace(0.0, -120.0, 1024, dtype=np.float32)  # blocks 120 nats apart
    cases["blocks-spread-wide"] = spread  # the bound's bins hold too few: a selection
    return cases


def _run(x: np.ndarray, need: int) -> dict[str, object]:
    buf = CandidateBuffer(x.size)
    count = _SCAN(x.ctypes.data, x.size, need, _SOFTMAX_ADDRESS, *buf.scan_args)
    n = max(count, 0)
    m, z, s = buf.scan_out.tolist()
    select = CandidateBuffer(x.size)  # the candidates alone (a split step's decision)
    selected = _SCAN(x.ctypes.data, x.size, need, None, *select.scan_args)
    moments = np.empty(2)
    _MOMENTS(x.ctypes.data, x.size, m, _SOFTMAX_ADDRESS, moments.ctypes.data, None)
    nucleus = CandidateBuffer(x.size)
    kept = _NUCLEUS(x.ctypes.data, x.size, 32, _SOFTMAX_ADDRESS, *nucleus.nucleus_args,
                    0.9, 2.0)
    third = float(np.sort(x[np.isfinite(x)])[-3])
    return {
        "count": count, "ids": buf.ids[:n].tolist(), "logits": buf.logits[:n].tobytes(),
        "m": m, "z": z, "s": s, "chunk_sums": buf.chunk_sums.tobytes(),
        "selected": (selected, select.ids[:max(selected, 0)].tolist(),
                     select.scan_out[0]),
        "moments": moments.tolist(),
        "nucleus": (kept, nucleus.ids[:max(kept, 0)].tolist(), nucleus.nucleus_out[3:].tolist()),
        "above": [int(_COUNT_ABOVE(x.ctypes.data, x.size, v)) for v in (third, 0.0, -1.0)],
    }


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("need", [1, 40, 300])
def test_the_wide_loops_find_what_sse2_finds(name: str, need: int,
                                             wide_restored: None) -> None:
    x = _cases()[name]
    compiled.use_avx2(False)
    compiled.use_exps(0)
    narrow = _run(x, need)
    compiled.use_avx2(True)
    compiled.use_exps(2)
    wide = _run(x, need)
    for key in ("count", "ids", "logits", "m", "selected", "above"):
        assert wide[key] == narrow[key], key
    # the nucleus: its size and depth the same, its mass close (the sums are)
    assert wide["nucleus"][:2] == narrow["nucleus"][:2]
    assert wide["nucleus"][2] == pytest.approx(narrow["nucleus"][2], rel=1e-6)
    assert wide["z"] == pytest.approx(narrow["z"], rel=1e-6)
    assert np.frombuffer(wide["chunk_sums"]) == pytest.approx(
        np.frombuffer(narrow["chunk_sums"]), rel=1e-6, abs=1e-300)
    assert wide["s"] == pytest.approx(narrow["s"], rel=1e-5, abs=1e-3)
    assert wide["moments"][0] == pytest.approx(narrow["moments"][0], rel=1e-6)
    assert wide["moments"][1] == pytest.approx(narrow["moments"][1], rel=1e-5, abs=1e-3)
    # and the pass's own halves agree in each: tw_moments folds as tw_scan did
    assert wide["moments"] == [wide["z"], wide["s"]]
    # the candidates are the true best, whichever loops found them
    finite = np.isfinite(x)
    best = np.sort(x[finite])[::-1][:need]
    assert np.frombuffer(wide["logits"], dtype=np.float32)[:need].tolist() == best.tolist()
    assert wide["above"][1] == int(np.count_nonzero(x > 0.0))


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("need", [1, 40, 300, 1024])
def test_the_prepass_changes_no_number(name: str, need: int, wide_restored: None) -> None:
    x = _cases()[name]
    compiled.use_prepass(False)
    plain = _run(x, need)
    assert compiled.use_prepass(True)
    bounded = _run(x, need)
    assert bounded == plain


def test_the_prepass_bound_holds_where_few_logits_rise_above_it(wide_restored: None) -> None:
    """Ties at the bound, and fewer logits above it than are needed: the bound is then the
    need-th largest, and every tie at it is a candidate."""
    rng = np.random.default_rng(9)
    x = np.minimum(rng.normal(-6.0, 1.0, 20000), 0.5).astype(np.float32)
    x[::128] = 1.0  # every block's largest: the bound, and the need-th largest
    x[[5, 77, 901]] = [4.0, 2.5, 2.0]  # three above it
    x[12800:] = -5.0  # 100 ties at 1.0 in all, within what the candidates can hold
    for prepass in (False, True):
        compiled.use_prepass(prepass)
        buf = CandidateBuffer(x.size)
        count = _SCAN(x.ctypes.data, x.size, 40, _SOFTMAX_ADDRESS, *buf.scan_args)
        assert count == 3 + 100  # the three, then every tie at 1.0
        assert buf.logits[:4].tolist() == [4.0, 2.5, 2.0, 1.0]
        assert buf.ids[3:count].tolist() == list(range(0, 12800, 128))


def test_the_wide_loops_are_taken_where_the_cpu_has_them(wide_restored: None) -> None:
    assert compiled.use_avx2(False) is False
    on = compiled.use_avx2(True)
    assert isinstance(on, bool)
    assert compiled.use_avx2(True) is on  # asking again changes nothing
