"""The compiled pass over the logits (``_scan.c``) and the token data it writes into.

ggml's vectorised softmax kernel is found in llama.cpp's own CPU library; the C pass (an
optional extension) is loaded with ctypes. Without either, the engine uses numpy.
"""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from tokenwise.core.engine import draw, extension

_TOKEN_DTYPE = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
_UNION_DTYPE = np.dtype([("id", "<i4"), ("raw", "<f4"), ("pen", "<f4")])  # tw_union


def _ggml_cpu() -> tuple[Any, int]:
    """From llama.cpp's own CPU library: ggml's vectorised y = exp(x - max), returning the
    sum (one pass instead of three), and the address of GOMP_parallel where ggml runs its
    threads with OpenMP (0: it does not; the compiled pass then keeps to one thread)."""
    folder = Path(llama_cpp.__file__).resolve().parent / "lib"
    for name in ("libggml-cpu.so", "libggml-cpu.dylib", "ggml-cpu.dll"):
        try:
            lib = ctypes.CDLL(str(folder / name))
            fn = lib.ggml_vec_soft_max_f32
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float]
        parallel = getattr(lib, "GOMP_parallel", None)  # found among its dependencies
        address = ctypes.cast(parallel, ctypes.c_void_p).value if parallel is not None else 0
        return fn, address or 0
    return None, 0


_SOFTMAX, _GOMP_PARALLEL = _ggml_cpu()


_USE_PARALLEL: Any = None
_PARALLEL_IN_USE: Any = None


def use_parallel(on: bool) -> bool:
    """Whether the compiled pass, called from this thread, runs its two halves on two
    threads: on ggml's own OpenMP pool (the one this thread's decode has just used), where
    ggml has one. Returns whether it does.

    Only worth it where the decode itself runs on two threads or more: with one, the pool's
    second thread would take the core left to the rest of the app (the window's GUI thread).
    """
    if _USE_PARALLEL is None:
        return False
    _USE_PARALLEL(_GOMP_PARALLEL if on and _GOMP_PARALLEL else None)
    return bool(on and _GOMP_PARALLEL)


def parallel_in_use() -> bool:
    """Whether the compiled pass runs on two threads when called from this thread."""
    return bool(_PARALLEL_IN_USE is not None and _PARALLEL_IN_USE())


def _scan_library() -> ctypes.CDLL | None:
    """The compiled pass (``_scan.c``), if it was built and ggml's softmax kernel was found."""
    if _SOFTMAX is None:
        return None
    try:
        module = importlib.import_module("tokenwise.core.engine._scan")
        return ctypes.CDLL(module.__file__)
    except (ImportError, OSError):
        return None


_LIB = _scan_library()


def _compiled_pass() -> tuple[Callable[..., int] | None, tuple[Any, Any, int, Any] | None,
                              Any, Callable[..., int] | None, Callable[..., int] | None,
                              Callable[..., int] | None, Callable[..., int] | None]:
    """The C pass over the logits, if it was built; None: numpy does the work.

    Also its untruncated-draw functions (tw_tempered, tw_pick, ggml's softmax address,
    tw_pick_penalised), tw_moments, tw_penalise, tw_scan_copy, tw_nucleus and
    tw_scan_tempered.
    """
    lib = _LIB
    if lib is None:
        return None, None, None, None, None, None, None
    try:
        fn, tempered, pick = lib.tw_scan, lib.tw_tempered, lib.tw_pick
        penalise, scan_copy, nucleus = lib.tw_penalise, lib.tw_scan_copy, lib.tw_nucleus
        scan_tempered = lib.tw_scan_tempered
    except AttributeError:
        return None, None, None, None, None, None, None
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                   ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    scan_copy.restype = ctypes.c_int
    scan_copy.argtypes = [*fn.argtypes, ctypes.c_void_p]
    scan_tempered.restype = ctypes.c_int
    scan_tempered.argtypes = [*fn.argtypes, ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_int]
    nucleus.restype = ctypes.c_int
    nucleus.argtypes = [*fn.argtypes[:7], ctypes.c_double, ctypes.c_float]
    tempered.restype = ctypes.c_double
    tempered.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_float,
                         ctypes.c_void_p, ctypes.c_void_p]
    pick.restype = ctypes.c_int
    pick.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_float,
                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_double, ctypes.c_void_p,
                     ctypes.c_int]
    moments = lib.tw_moments
    moments.restype = None
    moments.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_void_p,
                        ctypes.c_void_p, ctypes.c_void_p]
    pick_penalised = lib.tw_pick_penalised
    pick_penalised.restype = ctypes.c_int
    pick_penalised.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_float,
                               ctypes.c_void_p, ctypes.c_void_p, ctypes.c_double,
                               ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    penalise.restype = ctypes.c_int
    penalise.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                         ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_double,
                         ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                         ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                         ctypes.c_void_p]
    address = ctypes.cast(_SOFTMAX, ctypes.c_void_p).value or 0
    global _USE_PARALLEL, _PARALLEL_IN_USE
    _USE_PARALLEL = getattr(lib, "tw_use_parallel", None)
    _PARALLEL_IN_USE = getattr(lib, "tw_parallel_in_use", None)
    if _USE_PARALLEL is not None and _PARALLEL_IN_USE is not None:
        _USE_PARALLEL.restype = None
        _USE_PARALLEL.argtypes = [ctypes.c_void_p]
        _PARALLEL_IN_USE.restype = ctypes.c_int
        _PARALLEL_IN_USE.argtypes = []
    use_parallel(True)
    return (fn, (tempered, pick, address, pick_penalised), moments, penalise, scan_copy,
            nucleus, scan_tempered)


_SCAN, _DRAW, _MOMENTS, _PENALISE, _SCAN_COPY, _NUCLEUS, _SCAN_TEMPERED = _compiled_pass()


def _bind(name: str, restype: Any, argtypes: list[Any]) -> Any:
    """A later function of the compiled pass, typed (None: the pass or the function is not
    built)."""
    fn = getattr(_LIB, name, None) if _SCAN is not None else None
    if fn is not None:
        fn.restype = restype
        fn.argtypes = argtypes
    return fn


_p, _i, _f, _d = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_double
#: tw_apply_stages, and llama.cpp's own llama_sampler_apply it calls
_APPLY_STAGES = _bind("tw_apply_stages", None, [_p, _p, _i, _p, _p])
_LLAMA_APPLY = ctypes.cast(llama_cpp.llama_sampler_apply, ctypes.c_void_p).value or 0
#: tw_untruncated: the untruncated draw's decision in one call
_UNTRUNCATED_CTYPES = _bind("tw_untruncated", _i, [
    _p, _i, _i, _p, _p, _i, _p, _p,  # as tw_scan
    _f, _p, _p, _p, _i,  # as tw_scan_tempered
    _p, _p, _i, _f, _f, _f, _p, _p, _p, _p, _p, _p,  # as tw_penalise
    _d, _i, _i, _p])  # the uniform number, the forced token, how many shown, the numbers
#: tw_count_above: how many logits are above a value, in one pass
_COUNT_ABOVE = _bind("tw_count_above", ctypes.c_int64, [_p, _i, _f])
#: tw_simd_avx2: the wide loops on (where the CPU has AVX2) or off
_SIMD_AVX2 = _bind("tw_simd_avx2", _i, [_i])


def use_avx2(allow: bool) -> bool:
    """Whether the compiled pass's whole-vocabulary loops take AVX2 where the CPU has it
    (the default) or keep to SSE2 (for tests that compare the two). Returns whether they do."""
    return bool(_SIMD_AVX2(int(allow))) if _SIMD_AVX2 is not None else False


#: tw_simd_exps: which loop computes the pass's exponentials
_SIMD_EXPS = _bind("tw_simd_exps", _i, [_i])

#: the loops tw_simd_exps chooses among, by level
EXP_LOOPS = ("ggml's softmax kernel", "AVX2", "AVX-512")


def use_exps(level: int) -> int:
    """Which loop computes the pass's exponentials: at most ``level`` (0: ggml's softmax kernel
    with a dot product after it; 1: this pass's own AVX2 loop; 2: its AVX-512 one), as far as
    the CPU goes (the default: as far as it goes). For tests that compare them. Returns the
    level taken."""
    return int(_SIMD_EXPS(int(level))) if _SIMD_EXPS is not None else 0


#: tw_scan_prepass: the pass's heap started from a prepass's bound (on) or not
_SCAN_PREPASS = _bind("tw_scan_prepass", _i, [_i])


def use_prepass(on: bool) -> bool:
    """Whether the pass starts each part's heap from a bound its prepass finds (the
    default) or from the part's first logits (for tests that compare the two). Returns
    whether it does."""
    return bool(_SCAN_PREPASS(int(on))) if _SCAN_PREPASS is not None else False


#: tw_truncated: a top-k step's decision in one call
_TRUNCATED_CTYPES = _bind("tw_truncated", _i, [
    _p, _i, _i, _p, _p, _i, _p, _p,  # as tw_scan
    _p, _i, _i, _p, _p,  # the copy, n_in, prefix, the weights and running sums
    _i, _p, _p,  # the candidates shown: how many, their ids and logits
    _p, _p, _i, _p, _p,  # as tw_apply_stages
    _p, _p])  # which size each stage record reads, the records' probabilities
#: tw_nucleus_draw: top-p's decision without top-k in one call
_NUCLEUS_DRAW_CTYPES = _bind("tw_nucleus_draw", _i, [
    _p, _i, _i, _p, _p, _i, _p, _d, _f,  # as tw_nucleus
    _i, _p, _p,  # prefix, the weights and running sums
    _i, _p, _p,  # the candidates shown: how many, their ids and logits
    _p, _p, _i, _p, _p,  # as tw_apply_stages
    _p])  # the records' probabilities


def _call(name: str, binding: Any) -> Any:
    """The extension's own call for a one-call decision (the same arguments as its ctypes
    binding, converted in C: a tenth of ctypes' cost on cold caches), where both exist; else
    the binding."""
    fn = extension.function(name) if binding is not None else None
    return fn if fn is not None else binding


#: the one-call decisions: tw_untruncated, tw_truncated, tw_nucleus_draw
_UNTRUNCATED = _call("untruncated", _UNTRUNCATED_CTYPES)
_TRUNCATED = _call("truncated", _TRUNCATED_CTYPES)
_NUCLEUS_DRAW = _call("nucleus_draw", _NUCLEUS_DRAW_CTYPES)


class StageRunner:
    """llama.cpp's samplers of one step, applied in order (None: skipped), with the array's
    size after each: in one call where the compiled pass is built, one call each otherwise."""

    def __init__(self, buffer: CandidateBuffer, samplers: list[Any]) -> None:
        self._samplers = samplers
        self._ref = buffer.ref
        self._array = buffer.array
        self.sizes = np.zeros(len(samplers), dtype=np.int64)
        if _APPLY_STAGES is not None and _LLAMA_APPLY:
            addresses = [ctypes.cast(s, ctypes.c_void_p).value if s is not None else None
                         for s in samplers]
            self._pointers = (ctypes.c_void_p * len(samplers))(*addresses)
            self._args: tuple[Any, ...] | None = (
                _LLAMA_APPLY, ctypes.addressof(self._pointers), len(samplers),
                ctypes.addressof(buffer.array), self.sizes.ctypes.data)
        else:
            self._args = None

    @property
    def one_call(self) -> bool:
        """Whether the samplers run in one compiled call (:attr:`apply_args` is then set)."""
        return self._args is not None

    @property
    def apply_args(self) -> tuple[Any, ...]:
        """What tw_apply_stages takes before its sizes: llama_sampler_apply, the samplers,
        their count and the array."""
        assert self._args is not None
        return self._args[:4]

    def apply(self) -> list[int]:
        """Run them; the sizes after each."""
        if self._args is not None:
            _APPLY_STAGES(*self._args)
            return self.sizes.tolist()
        sizes = []
        for sampler in self._samplers:
            if sampler is not None:
                llama_cpp.llama_sampler_apply(sampler, self._ref)
            sizes.append(int(self._array.size))
        return sizes
_SCAN_MAX_NEED = 1024  # as TW_MAX_NEED in _scan.c
_SCAN_CAP = 4096  # candidates it may return (ties at the threshold included)
_SOFTMAX_ADDRESS = ctypes.cast(_SOFTMAX, ctypes.c_void_p).value if _SOFTMAX is not None else None


class CandidateBuffer:
    """A llama_token_data_array over preallocated memory, shared by every generation."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data = (llama_cpp.llama_token_data * capacity)()
        raw = memoryview(self._data).cast("B")
        self.view = np.frombuffer(raw, dtype=_TOKEN_DTYPE)
        self.ids = self.view["id"]  # field views, made once: each lookup costs a new view
        self.logits = self.view["logit"]
        self.probs = self.view["p"]
        self.array = llama_cpp.llama_token_data_array(
            data=self._data, size=0, selected=-1, sorted=False
        )
        self.ref = ctypes.byref(self.array)
        self.exp_buf = np.empty(capacity, dtype=np.float32)
        self.exp_ptr = self.exp_buf.ctypes.data
        self.prod_buf = np.empty(capacity, dtype=np.float32)
        self.mask = np.empty(capacity, dtype=np.bool_)
        # the compiled pass writes its candidates straight into the token data array
        self.scan_out = np.empty(3, dtype=np.float64)
        self.chunk_sums = np.zeros(draw.chunk_count(capacity), dtype=np.float64)
        self.scan_args = (ctypes.addressof(self._data), min(_SCAN_CAP, capacity),
                          self.scan_out.ctypes.data, self.chunk_sums.ctypes.data)
        # tw_nucleus: (cands, cap, out), the cap the whole array (a nucleus has no size limit);
        # out: max, sum, sum(e * x), the nucleus's size, its probability, its depth
        self.nucleus_out = np.empty(6, dtype=np.float64)
        self.nucleus_args = (ctypes.addressof(self._data), capacity,
                             self.nucleus_out.ctypes.data)
        self.all_ids = np.arange(capacity, dtype=np.intp)
        # tw_penalise: the penalised tokens' numbers and the union with the candidates
        self.pen_old = np.empty(_SCAN_MAX_NEED, dtype=np.float32)
        self.pen_new = np.empty(_SCAN_MAX_NEED, dtype=np.float32)
        self.pen_w_old = np.empty(_SCAN_MAX_NEED, dtype=np.float64)
        self.pen_w_new = np.empty(_SCAN_MAX_NEED, dtype=np.float64)
        self.pen_sums = np.empty(4, dtype=np.float64)
        union = np.empty(_SCAN_CAP + _SCAN_MAX_NEED, dtype=_UNION_DTYPE)
        self.union_ids, self.union_pen = union["id"], union["pen"]
        self._union = union
        self.penalise_args = (
            self.pen_old.ctypes.data, self.pen_new.ctypes.data, self.pen_w_old.ctypes.data,
            self.pen_w_new.ctypes.data, self.pen_sums.ctypes.data, ctypes.addressof(self._data))
        self.union_ptr = union.ctypes.data

    def load(self, ids: np.ndarray, logits: np.ndarray, *, is_sorted: bool = False) -> None:
        n = ids.size
        self.ids[:n] = ids
        self.logits[:n] = logits
        self.array.size = n
        self.array.selected = -1
        self.array.sorted = is_sorted
