"""Drawing from the untruncated distribution without sorting the vocabulary.

With no truncating stage (top-k, top-p and min-p all off) the distribution drawn from is
softmax((x - penalties) / T) over the whole vocabulary. Sorting 262k logits and handing them
to llama.cpp's samplers each step costs more than the rest of the step; instead:

- one pass gives the normaliser, sum(exp((x - max) / T)), and each chunk of ``CHUNK`` tokens'
  share of it (at T = 1 the inspection's own pass has already given both);
- the draw is an inverse CDF over the unsorted array: a uniform number times the normaliser,
  the chunk where the running sum passes it, then the token inside that chunk.

Penalised tokens (at most the penalty window) are a bucket of their own: their raw weights
are taken out of their chunks and their penalised weights drawn from first. The compiled
pass (``_scan.c``: ``tw_tempered``, ``tw_pick``) does the two whole-vocabulary walks; numpy
does the same when it was not built.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from tokenwise.core.errors import INVALID_LOGITS, InvalidLogitsError
from tokenwise.core.sampling.stages import STAGE_MIN_P, STAGE_TEMPERATURE, STAGE_TOP_K, STAGE_TOP_P
from tokenwise.core.trace.records import Stage

CHUNK = 2048  # as TW_CHUNK in _scan.c


def chunk_count(n_vocab: int) -> int:
    return -(-n_vocab // CHUNK)


class UntruncatedDraw:
    """One generation's draws from softmax(x / T) over the whole vocabulary.

    ``compiled``: (tw_tempered, tw_pick, softmax address, tw_pick_penalised), or None for
    numpy.
    """

    def __init__(self, n_vocab: int, temperature: float, seed: int,
                 compiled: tuple[Any, Any, int, Any] | None) -> None:
        self.n_vocab = n_vocab
        self.inv_t = float(np.float32(1.0 / temperature))
        self.rng = random.Random(seed)
        self.sums = np.zeros(chunk_count(n_vocab), dtype=np.float64)
        self._sums_ptr = self.sums.ctypes.data
        # tw_scan_tempered writes the normaliser here, and the chunk sums into self.sums
        self.tempered_out = np.zeros(1, dtype=np.float64)
        self.tempered_args = (self.inv_t, self._sums_ptr, self.tempered_out.ctypes.data)
        self.compiled = compiled
        self._y = np.empty(0, dtype=np.float32)
        self.pending: float | None = None  # a uniform number drawn and not used yet

    def uniform(self) -> float:
        """The next uniform number of this generation's draws: one drawn and left unused
        (the one-call decision could not take the step) comes first."""
        u = self.pending
        if u is not None:
            self.pending = None
            return u
        return self.rng.random()

    def _weights(self, x: np.ndarray, m: float) -> np.ndarray:
        """exp((x - m) / T) in float32, as the compiled pass computes it (numpy path)."""
        if self._y.size != x.size:
            self._y = np.empty(x.size, dtype=np.float32)
        y = self._y
        inv = np.float32(self.inv_t)
        if inv == 1.0:
            np.subtract(x, np.float32(m), out=y)
        else:
            np.multiply(x, inv, out=y)
            np.subtract(y, np.float32(m) * inv, out=y)
        np.exp(y, out=y)
        return y

    def normaliser(self, x: np.ndarray, m: float, x_address: int,
                   scan_sums: np.ndarray | None, z: float, tempered: bool = False) -> float:
        """sum(exp((x - m) / T)) over the whole vocabulary; the chunk sums kept for the draw.

        ``scan_sums`` and ``z``: the inspection pass's chunk sums and normaliser, which are
        the answer at T = 1 (None: the pass did not give them). ``tempered``: the pass gave
        them at this T already (tw_scan_tempered, into :attr:`tempered_args`).
        """
        if tempered:
            return float(self.tempered_out[0])
        if self.inv_t == 1.0 and scan_sums is not None:
            self.sums[:] = scan_sums
            return z
        if self.compiled is not None:
            tw_tempered, _, softmax, _ = self.compiled
            return float(tw_tempered(x_address, self.n_vocab, m, self.inv_t, softmax,
                                     self._sums_ptr))
        y = self._weights(x, m)
        body = y.size - y.size % CHUNK
        self.sums[: body // CHUNK] = y[:body].reshape(-1, CHUNK).sum(axis=1, dtype=np.float64)
        if body < y.size:
            self.sums[-1] = float(y[body:].sum(dtype=np.float64))
        return float(self.sums.sum())

    def weight(self, logit: float, m: float) -> float:
        return math.exp((logit - m) * self.inv_t)

    def tempered_weights(self, logits: np.ndarray, m: float) -> np.ndarray:
        """exp((logit - m) / T) in float64, for the few penalised tokens."""
        return np.exp((logits.astype(np.float64) - m) * self.inv_t)

    def draw(self, x: np.ndarray, m: float, x_address: int, total: float,
             pen_ids: np.ndarray | None, old_w: np.ndarray | None,
             new_w: np.ndarray | None) -> int:
        """A token drawn with probability weight / total (after :meth:`normaliser`).

        ``pen_ids`` / ``old_w`` / ``new_w``: the penalised tokens and their tempered weights
        (:meth:`tempered_weights`) before and after penalties (None: no penalties).
        """
        target = self.uniform() * total
        skip = np.empty(0, dtype=np.int32)
        sums = self.sums
        if (self.compiled is not None and pen_ids is not None and old_w is not None
                and new_w is not None and old_w.flags.c_contiguous
                and new_w.flags.c_contiguous):
            _, _, softmax, pick_penalised = self.compiled
            token = int(pick_penalised(x_address, self.n_vocab, m, self.inv_t, softmax,
                                       self._sums_ptr, target, pen_ids.ctypes.data,
                                       old_w.ctypes.data, new_w.ctypes.data, pen_ids.size))
            if token >= 0:
                return token
        if pen_ids is not None and old_w is not None and new_w is not None:
            bucket = np.cumsum(new_w)
            if bucket.size and target < bucket[-1]:
                return int(pen_ids[int(np.searchsorted(bucket, target, side="right"))])
            target -= float(bucket[-1]) if bucket.size else 0.0
            sums = sums.copy()
            np.subtract.at(sums, pen_ids // CHUNK, old_w)
            skip = np.sort(pen_ids).astype(np.int32)
        if self.compiled is not None:
            _, pick, softmax, _ = self.compiled
            return int(pick(x_address, self.n_vocab, m, self.inv_t, softmax,
                            sums.ctypes.data, target, skip.ctypes.data, skip.size))
        y = self._weights(x, m).astype(np.float64)
        y[skip] = 0.0
        cum = np.cumsum(y)
        at = int(np.searchsorted(cum, target, side="right"))
        if at >= y.size:  # rounding: the last token that can be drawn
            at = int(np.flatnonzero(y > 0)[-1])
        return at

    def sample(
        self, x: np.ndarray, address: int, m: float, z: float | None,
        scan_sums: np.ndarray | None,
        penalised: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None],
        forced: int | None, pen_weights: tuple[np.ndarray, np.ndarray, float, float] | None = None,
        tempered: bool = False,
    ) -> tuple[int, float, float]:
        """No truncating stage: draw by inverse CDF over the whole vocabulary.

        Returns the token, its probability in the distribution drawn from, and that
        distribution's normaliser (for :meth:`records`). The normaliser is one pass (none at
        T = 1: the inspection's, ``z``; ``tempered``: the pass gave it at this T already).
        ``pen_weights``: the penalised tokens' tempered weights before and after, and their
        sums, when the compiled pass has them (tw_penalise); else they are computed here.
        """
        total = self.normaliser(x, m, address, scan_sums, z if z is not None else math.nan,
                                tempered)
        pen_ids, pen_old, pen_new = penalised
        old_w = new_w = None
        if pen_ids is not None and pen_old is not None and pen_new is not None:
            if pen_weights is not None:
                old_w, new_w, old_sum, new_sum = pen_weights
                total += new_sum - old_sum
            else:
                old_w, new_w = self.tempered_weights(pen_old, m), self.tempered_weights(pen_new, m)
                total += float(new_w.sum() - old_w.sum())
        if not (math.isfinite(total) and total > 0.0):
            raise InvalidLogitsError(INVALID_LOGITS)
        if forced is not None:
            token = forced
        else:
            token = self.draw(x, m, address, total, pen_ids, old_w, new_w)
        logit = float(x[token])
        if pen_ids is not None and pen_new is not None:
            ids = pen_ids.tolist()
            if token in ids:  # its penalised logit
                logit = float(pen_new[ids.index(token)])
        return token, self.weight(logit, m) * (1.0 / total), total

    def records(self, head: Sequence[int], pen_logits: Sequence[float],
                pen_probs: Sequence[float], m: float, total: float,
                labels: dict[str, str]) -> list[Stage]:
        """The stages of a draw by :meth:`sample`: top-k, top-p and min-p keep the whole
        vocabulary (the shown candidates' ``pen_probs`` after penalties); the temperature
        stage's shown probabilities come from the same weights as the draw (``total``)."""
        n = self.n_vocab
        shown_ids, shown_probs = tuple(head), tuple(pen_probs)
        new = tuple.__new__  # the records straight from a tuple, without Stage's Python __new__
        stages = [new(Stage, (name, labels[name], n, shown_ids, shown_probs))
                  for name in (STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P)]
        inv_total = 1.0 / total
        exp, inv_t = math.exp, self.inv_t
        probs = [exp((v - m) * inv_t) * inv_total for v in pen_logits]
        stages.append(new(Stage, (STAGE_TEMPERATURE, labels[STAGE_TEMPERATURE], n, shown_ids,
                                  tuple(probs))))
        return stages
