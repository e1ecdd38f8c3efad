"""The compiled pass in two halves, on ggml's OpenMP pool or on one thread: the same bits.

The vocabulary is cut in two at a chunk boundary whichever way it runs, each half keeps its
own heap, running max and moments, and they are combined in a fixed order; so two threads
and one give identical results, and tw_moments (always one thread: a split step's display
half) matches a scan that ran on two.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tokenwise.core.engine import compiled
from tokenwise.core.engine.compiled import (
    _MOMENTS,
    _NUCLEUS,
    _SCAN,
    _SCAN_COPY,
    _SOFTMAX_ADDRESS,
    CandidateBuffer,
)


@pytest.fixture
def restore_parallel():
    yield
    compiled.use_parallel(True)


def _cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(21)
    cases = [("normal", (rng.standard_normal(262144) * 2.5).astype(np.float32))]
    late = (rng.standard_normal(49152) * 1.5).astype(np.float32)
    late[: 3 * 2048 + 7] = -np.inf
    late[-5] = 40.0  # the best in the second half: the first half's sums are rescaled
    cases.append(("masked-then-late-max", late))
    early = (rng.standard_normal(50000) * 1.5).astype(np.float32)
    early[3] = 40.0  # the best in the first half
    cases.append(("early-max", early))
    ties = (rng.integers(-30, 6, 40000) / 2).astype(np.float32)  # runs of equal logits
    cases.append(("ties", ties))
    cases.append(("small", (rng.standard_normal(5000)).astype(np.float32)))  # one part
    return cases


def _scan_once(x: np.ndarray, need: int, softmax: bool) -> tuple[int, np.ndarray, ...]:
    buf = CandidateBuffer(x.size)
    buf.chunk_sums[:] = np.nan
    copy = np.full(x.size, np.nan, dtype=np.float32)
    count = _SCAN_COPY(x.ctypes.data, x.size, need, _SOFTMAX_ADDRESS if softmax else None,
                       *buf.scan_args, copy.ctypes.data)
    assert np.array_equal(copy, x)  # copied as it was read
    n = max(count, 0)
    return (count, buf.scan_out.copy(), buf.ids[:n].copy(), buf.logits[:n].copy(),
            buf.chunk_sums.copy())


@pytest.mark.parametrize("need", [1, 40, 1024])
@pytest.mark.parametrize("name", [name for name, _ in _cases()])
def test_two_threads_and_one_give_the_same_bits(name: str, need: int,
                                                restore_parallel: None) -> None:
    x = dict(_cases())[name]
    results = []
    for on in (True, False):
        compiled.use_parallel(on)
        results.append(_scan_once(x, need, softmax=True))
    (count, out, ids, logits, sums), serial = results
    assert count == serial[0]
    assert count >= need
    assert out.tobytes() == serial[1].tobytes()
    assert np.array_equal(ids, serial[2]) and np.array_equal(logits, serial[3])
    assert sums.tobytes() == serial[4].tobytes()
    # the best `need` of the whole vocabulary, in llama.cpp's order
    order = np.lexsort((np.arange(x.size), -x))
    assert np.array_equal(ids[:need], order[:need])
    # a split step's display half, on one thread, gives what the two-thread scan gave
    compiled.use_parallel(True)
    split = _scan_once(x, need, softmax=False)
    assert np.array_equal(split[2], ids)
    moments = np.empty(2)
    _MOMENTS(x.ctypes.data, x.size, float(out[0]), _SOFTMAX_ADDRESS, moments.ctypes.data, None)
    assert moments.tolist() == out[1:].tolist()


@pytest.mark.parametrize("name", [name for name, _ in _cases()])
def test_the_nucleus_is_the_same_on_two_threads(name: str, restore_parallel: None) -> None:
    x = dict(_cases())[name]
    found = []
    for on in (True, False):
        compiled.use_parallel(on)
        buf = CandidateBuffer(x.size)
        count = _NUCLEUS(x.ctypes.data, x.size, 32, _SOFTMAX_ADDRESS, *buf.nucleus_args,
                         0.9, 0.5)
        found.append((count, buf.nucleus_out.tobytes(), buf.ids[:count].tolist()))
    assert found[0] == found[1]
    assert found[0][0] >= 32


def test_too_few_finite_logits_are_left_to_numpy(restore_parallel: None) -> None:
    """Masked tokens would tie at the floor: the pass declines, on either path."""
    x = np.full(20000, -np.inf, dtype=np.float32)
    x[[5, 15000]] = [1.0, 2.0]
    for on in (True, False):
        compiled.use_parallel(on)
        buf = CandidateBuffer(x.size)
        assert _SCAN(x.ctypes.data, x.size, 8, _SOFTMAX_ADDRESS, *buf.scan_args) == -1
        assert _SCAN(x.ctypes.data, x.size, 2, _SOFTMAX_ADDRESS, *buf.scan_args) == 2
        assert buf.ids[:2].tolist() == [15000, 5]


@pytest.mark.skipif(sys.platform != "linux", reason="ggml uses OpenMP in Linux builds")
def test_the_pass_finds_ggmls_openmp_pool() -> None:
    assert compiled._GOMP_PARALLEL
    assert compiled.use_parallel(True)


@pytest.mark.parametrize("name", [name for name, _ in _cases()])
def test_the_tempered_normaliser_is_the_same_on_two_threads(
        name: str, restore_parallel: None) -> None:
    tempered = compiled._DRAW[0]
    x = dict(_cases())[name]
    m = float(x.max())
    found = []
    for on in (True, False):
        compiled.use_parallel(on)
        sums = np.full(-(-x.size // 2048), np.nan)
        z = tempered(x.ctypes.data, x.size, m, 1.25, _SOFTMAX_ADDRESS, sums.ctypes.data)
        found.append((z, sums.tobytes()))
        # each chunk's sum of exp((x - max) / T), and the whole
        weights = np.exp((x.astype(np.float64) - m) * 1.25)
        expected = np.add.reduceat(weights, np.arange(0, x.size, 2048))
        assert sums == pytest.approx(expected, rel=1e-5, abs=1e-30)
        assert z == pytest.approx(float(weights.sum()), rel=1e-5)
    assert found[0] == found[1]


@pytest.mark.parametrize("name", [name for name, _ in _cases()])
def test_the_scan_gives_the_tempered_normaliser_on_the_way(
        name: str, restore_parallel: None) -> None:
    """tw_scan_tempered: the same candidates and moments as tw_scan, and the normaliser at
    T (relative to the running max, rescaled as it rose) that tw_tempered computes apart."""
    tempered, scan_tempered = compiled._DRAW[0], compiled._SCAN_TEMPERED
    x = dict(_cases())[name]
    chunks = -(-x.size // 2048)
    found = []
    for on in (True, False):
        compiled.use_parallel(on)
        buf = CandidateBuffer(x.size)
        t_sums, t_out = np.full(chunks, np.nan), np.full(1, np.nan)
        count = scan_tempered(x.ctypes.data, x.size, 40, _SOFTMAX_ADDRESS, *buf.scan_args,
                              1.25, t_sums.ctypes.data, t_out.ctypes.data, None, 1)
        found.append((count, buf.scan_out.tobytes(), buf.ids[:count].tolist(),
                      t_sums.tobytes(), t_out.tobytes()))
        # a split step's: the tempered sums alone (the same bits), the logits copied on the way
        alone = CandidateBuffer(x.size)
        a_sums, a_out = np.full(chunks, np.nan), np.full(1, np.nan)
        copy = np.full(x.size, np.nan, dtype=np.float32)
        a_count = scan_tempered(x.ctypes.data, x.size, 40, _SOFTMAX_ADDRESS, *alone.scan_args,
                                1.25, a_sums.ctypes.data, a_out.ctypes.data, copy.ctypes.data, 0)
        assert a_count == count
        assert alone.ids[:count].tolist() == buf.ids[:count].tolist()
        assert (a_sums.tobytes(), a_out.tobytes()) == (t_sums.tobytes(), t_out.tobytes())
        assert alone.scan_out[0] == buf.scan_out[0] and alone.scan_out[1:3].tolist() == [0, 0]
        assert copy.tobytes() == x.tobytes()
        plain = _scan_once(x, 40, softmax=True)
        assert (count, buf.scan_out.tobytes()) == (plain[0], plain[1].tobytes())
        assert buf.ids[:count].tolist() == plain[2].tolist()
        apart = np.empty(chunks)
        z = tempered(x.ctypes.data, x.size, float(x.max()), 1.25, _SOFTMAX_ADDRESS,
                     apart.ctypes.data)
        assert float(t_out[0]) == pytest.approx(z, rel=1e-6)
        assert t_sums == pytest.approx(apart, rel=1e-5, abs=1e-300)
    assert found[0] == found[1]


def test_the_setting_belongs_to_the_calling_thread(restore_parallel: None) -> None:
    import threading

    compiled.use_parallel(True)
    seen: list[bool] = []
    other = threading.Thread(target=lambda: seen.append(compiled.parallel_in_use()))
    other.start()
    other.join()
    assert seen == [False]  # a thread that never asked runs the pass on one thread
    assert compiled.parallel_in_use() == bool(compiled._GOMP_PARALLEL)
    compiled.use_parallel(False)
    assert not compiled.parallel_in_use()


@pytest.mark.parametrize("threads", [1, 2])
def test_an_engine_uses_two_threads_for_the_pass_only_with_a_two_thread_decode(
        starter_model_path: Path, threads: int, restore_parallel: None) -> None:
    """With one decode thread the pool's second would take the core left to the window."""
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.interface import GenerationRequest
    from tokenwise.core.sampling.settings import PRESETS

    compiled.use_parallel(threads == 1)  # the opposite: the generation sets it
    with Engine(starter_model_path, n_ctx=256, n_threads=threads) as engine:
        ids = engine.token_ids("Hello", add_special=True)
        steps = list(engine.generate(GenerationRequest(
            ids, PRESETS["Greedy"].with_(max_tokens=3), top_k_display=5)))
        assert steps
        assert compiled.parallel_in_use() == (threads == 2 and bool(compiled._GOMP_PARALLEL))
        engine._use_threads(1)  # the governor gives up a thread: the pass follows
        assert not compiled.parallel_in_use()



@pytest.mark.parametrize("n", [1, 7, 8, 37, 2048, 262144 + 3])
def test_counting_the_logits_above_one_is_numpys_count(n: int) -> None:
    """tw_count_above (a drawn token's rank, outside the candidates shown) against numpy's
    x > v: ties, NaN, infinities and a tail past the vectors included."""
    count_above = compiled._COUNT_ABOVE
    assert count_above is not None
    rng = np.random.default_rng(n)
    x = (rng.integers(-20, 20, n) / 4).astype(np.float32)  # coarse: many ties
    x[rng.integers(0, n, max(1, n // 50))] = np.nan
    x[rng.integers(0, n, max(1, n // 50))] = -np.inf
    x[rng.integers(0, n, max(1, n // 500))] = np.inf
    for v in [*x[rng.integers(0, n, 12)].tolist(), -1e30, 1e30, 0.125, -np.inf, np.inf]:
        assert count_above(x.ctypes.data, n, v) == int(np.count_nonzero(x > np.float32(v)))


def test_the_engine_can_keep_the_pass_on_one_thread(engine, restore_parallel: None) -> None:
    """Engine.pass_parallel False: the pass keeps to the generating thread (for a decode that
    leaves ggml's pool asleep, as a fully offloaded one may); None: two where the decode has
    two. The same tokens either way."""
    from tokenwise.core.interface import ChatMessage, GenerationRequest
    from tokenwise.core.sampling.settings import PRESETS

    ids = engine.render_chat([ChatMessage("user", "Name a colour.")]).token_ids
    seen, tokens = [], []
    try:
        for parallel in (False, None):
            engine.pass_parallel = parallel
            engine._trim(0)
            steps = list(engine.generate(GenerationRequest(
                ids, PRESETS["Balanced"].with_(max_tokens=4, seed=3))))
            seen.append(compiled.parallel_in_use())
            tokens.append([s.token_id for s in steps])
    finally:
        engine.pass_parallel = None
    two = engine.threads_now >= 2 and bool(compiled._GOMP_PARALLEL)
    assert seen == [False, two]
    assert tokens[0] == tokens[1]
