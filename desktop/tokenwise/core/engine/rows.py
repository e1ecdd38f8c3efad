"""Many logit rows from one decode: a hand-filled batch and a pass over each row.

A beam search decodes one token for each live beam (each in its own sequence, at its own
position) and a scoring pass decodes a whole text with every row's logits kept; both then read
each row once for its normaliser, entropy and best tokens. The pass is the compiled one the
generation loop uses (``_scan.c``) where it was built, numpy otherwise.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import llama_cpp
import numpy as np

from tokenwise.core.engine import compiled as engine_compiled
from tokenwise.core.errors import InvalidLogitsError


class ContextOwner(Protocol):
    """What the beam search and the scoring pass use of the engine (its context, cache and
    vocabulary), so that they need not import it."""

    ctx: Any
    memory: Any
    n_ctx: int
    n_batch: int
    n_vocab: int
    beam_sequences: int
    offloaded: bool
    bos_id: int
    vocabulary: Any
    _cached: list[int]

    def _prepare(self, prompt: list[int]) -> int: ...

    def _decode(self, tokens: Sequence[int], start: int,
                cancel: threading.Event | None) -> bool: ...

    def _trim(self, keep: int) -> None: ...

    def wait_checked(self) -> None: ...

    def _set_abort(self, cancel: threading.Event | None) -> None: ...

    def detokenize(self, ids: Sequence[int], *, special: bool = False) -> str: ...

    def token_ids(self, text: str, *, add_special: bool = False,
                  parse_special: bool = True) -> list[int]: ...


_TOKEN_DTYPE = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
_SCAN_MAX_NEED = 1024
_SCAN_CAP = 4096


def _address_function(name: str, argtypes: list[object]) -> Any:
    fn = llama_cpp.llama_cpp._lib[name]  # item access: a private function object
    fn.argtypes = argtypes
    fn.restype = ctypes.c_void_p
    return fn


_LOGITS_ITH = _address_function("llama_get_logits_ith",
                                 [llama_cpp.llama_context_p_ctypes, ctypes.c_int32])


def logits_address(ctx: llama_cpp.llama_context_p, row: int) -> int:
    """The address of output row ``row`` of the last decode (valid until the next one)."""
    address = _LOGITS_ITH(ctx, row)
    if not address:
        raise InvalidLogitsError(f"llama.cpp kept no logits for row {row} of the last batch.")
    return int(address)


class SeqBatch:
    """A llama_batch filled by hand: each token with its own position and sequence."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.batch = llama_cpp.llama_batch_init(capacity, 0, 1)
        self._freed = False

    def fill(self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int],
             *, all_logits: bool = True) -> Any:
        n = len(tokens)
        if n > self.capacity:
            raise ValueError(f"{n} tokens do not fit a batch of {self.capacity}")
        b = self.batch
        for i in range(n):
            b.token[i] = tokens[i]
            b.pos[i] = positions[i]
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seqs[i]
            b.logits[i] = 1 if all_logits or i == n - 1 else 0
        b.n_tokens = n
        return b

    def free(self) -> None:
        if not self._freed:
            self._freed = True
            llama_cpp.llama_batch_free(self.batch)


@dataclass(frozen=True, slots=True)
class RowStats:
    """One row of logits: its normaliser, entropy and best tokens (best first)."""

    log_z: float
    entropy: float
    ids: list[int]
    logits: list[float]


class RowScanner:
    """Reads rows of ``n_vocab`` logits at given addresses."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        cap = min(_SCAN_CAP, n_vocab)
        self._cands = np.zeros(cap, dtype=_TOKEN_DTYPE)
        self._out = np.zeros(3, dtype=np.float64)
        self._args = (self._cands.ctypes.data, cap, self._out.ctypes.data)
        self._scan = getattr(engine_compiled, "_SCAN", None)
        # (x, n, need, softmax, cands, cap, out) and, in later builds, optional outputs
        # (NULL: not wanted) after them
        extra = len(getattr(self._scan, "argtypes", None) or ()) - 7
        self._extra: tuple[None, ...] = (None,) * max(0, extra)
        self._softmax = getattr(engine_compiled, "_SOFTMAX_ADDRESS", None)
        self._e = np.empty(n_vocab, dtype=np.float32)

    def row(self, address: int) -> np.ndarray:
        ptr = ctypes.cast(address, ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def scan(self, address: int, need: int) -> RowStats:
        need = max(1, min(need, self.n_vocab))
        if self._scan is not None and self._softmax is not None and need <= _SCAN_MAX_NEED:
            found = int(self._scan(address, self.n_vocab, need, self._softmax, *self._args,
                                   *self._extra))
            if found > 0:
                m, z, sum_ex = self._out.tolist()
                top = self._cands[:need]
                return self._stats(m, z, sum_ex, top["id"].tolist(), top["logit"].tolist())
        x = self.row(address)
        m = float(x.max())
        e = self._e
        np.subtract(x, np.float32(m), out=e)
        np.exp(e, out=e)
        z = float(e.sum())
        with np.errstate(invalid="ignore"):
            sum_ex = float(np.nansum(e * x))
        part = np.argpartition(x, x.size - need)[x.size - need:]
        part.sort()  # ascending ids: equal logits keep the lower id first
        order = np.argsort(-x[part], kind="stable")
        ids = part[order]
        return self._stats(m, z, sum_ex, ids.tolist(), x[ids].tolist())

    @staticmethod
    def _stats(m: float, z: float, sum_ex: float, ids: list[int],
               logits: list[float]) -> RowStats:
        if not (math.isfinite(m) and math.isfinite(z) and z > 0.0):
            raise InvalidLogitsError(
                "The model produced invalid numbers (NaN or infinite logits), so there is no "
                "distribution to read. The model file may be damaged, or the GPU build may be "
                "computing wrongly: try it with GPU layers set to 0.")
        log_z = m + math.log(z)
        return RowStats(log_z, max(0.0, log_z - sum_ex / z), ids, logits)

    def rank_of(self, address: int, token: int, stats: RowStats) -> tuple[int, float]:
        """The 1-based rank and the logit of ``token`` in the row."""
        try:
            i = stats.ids.index(token)
        except ValueError:
            x = self.row(address)
            value = x[token]
            return int(np.count_nonzero(x > value)) + 1, float(value)
        return i + 1, stats.logits[i]
