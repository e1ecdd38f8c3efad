"""The numpy path of a step: the candidates a generation's stages can keep, found without
the compiled pass (or where it cannot reach: min-p alone, a nucleus past its limit, a
penalised nucleus), and the whole-vocabulary moments.

A mixin of :class:`~tokenwise.core.engine.stages.StepSampler`, which owns the state.
"""

from __future__ import annotations

import math

import numpy as np

from tokenwise.core.engine.compiled import _SOFTMAX, CandidateBuffer
from tokenwise.core.sampling.settings import SamplerSettings

_WINDOWS = (8.0, 12.0, 20.0, 32.0)  # nats below the best logit; narrow first: fewer hits
# which tokens a generation's stages can keep
_SCOPE_TOP = 0  # greedy or top-k: the best `need` tokens
_SCOPE_TOP_P = 1  # top-p without top-k: the nucleus, whatever its size
_SCOPE_MIN_P = 2  # min-p alone: every token within -log(min_p) of the best
_SCOPE_ALL = 3  # no truncating stage: the whole vocabulary
_COLUMNS = 4096  # a large vocabulary is read as rows of this many logits
_PARTITION_ABOVE = 512  # more candidates than this: partition before sorting
_MAX = np.maximum.reduce  # x.max() without numpy's Python-level wrapper


def _sorted(ids: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ascending ids and their logits, best first; equal logits keep the lower id first."""
    raw = x[ids]
    order = np.argsort(-raw, kind="stable")
    return ids[order], raw[order]


class NumpyPath:
    """Candidate finding and moments in numpy; the attributes are the sampler's."""

    s: SamplerSettings
    buf: CandidateBuffer
    n_vocab: int
    _scope: int
    _columns_of: np.ndarray | None
    _x2: np.ndarray | None
    _tail: np.ndarray
    _colmax: np.ndarray
    _e: np.ndarray
    _e_address: int
    _mask: np.ndarray
    _min_p_window: float

    def _moments_numpy(self, x: np.ndarray, address: int) -> tuple[float, float, float]:
        """max, sum(exp(x - max)) and sum(exp(x - max) * x) without the compiled pass."""
        e = self._e
        m = self._best_logit(x)
        if _SOFTMAX is not None:
            z = _SOFTMAX(self.n_vocab, self._e_address, address, m)
        else:
            np.subtract(x, np.float32(m), out=e)
            np.exp(e, out=e)
            z = float(e.sum())
        # numpy's pairwise sum: a float32 dot over the whole vocabulary drifts by 1e-4 nats
        with np.errstate(invalid="ignore"):
            prod = np.multiply(e, x, out=self.buf.prod_buf[: x.size])
        sum_ex = float(prod.sum())
        if math.isnan(sum_ex):  # exp(-inf) * -inf: masked tokens add nothing
            sum_ex = float(prod[e > 0].sum())
        return m, z, sum_ex

    def _subset(
        self, x: np.ndarray, m: float, z: float, need: int,
        pen_ids: np.ndarray | None, pen_new: np.ndarray | None, log_z_pen: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and raw logits, best first, holding every token a stage could keep.

        The ids are every token within a window below the best logit: every one of them
        outranks every token left out, so the sorted subset is a prefix of the sorted
        vocabulary. The window widens until the prefix is long enough for every stage.
        Equal logits keep the lower id first, as llama.cpp's own sort does.
        """
        s = self.s
        top = self._scope in (_SCOPE_TOP, _SCOPE_ALL)  # all: only the shown are needed
        found: np.ndarray | None = None
        mask = self._mask
        if top and self._x2 is not None and need <= _COLUMNS // 4:
            found = self._best_columns(need)
        elif self._scope != _SCOPE_ALL:
            for window in _WINDOWS:
                if self._scope == _SCOPE_MIN_P:
                    # min-p alone keeps logits >= max_pen + log(min_p): make sure it's inside
                    window = max(window, self._min_p_window + self._max_drop(m, pen_new))
                np.greater_equal(x, m - window, out=mask)
                hits = mask.nonzero()[0]
                if hits.size < need:
                    continue
                if self._scope == _SCOPE_TOP_P:
                    # the nucleus must lie inside: the subset's mass must reach top-p
                    if pen_ids is not None and pen_new is not None:
                        mass = self._penalised_mass(hits, x, pen_ids, pen_new, log_z_pen)
                    else:
                        mass = float(self._e[hits].sum()) / z
                    if mass < s.top_p + 1e-4:
                        continue
                found = hits
                break
        if found is None:
            found = self.buf.all_ids
        raw = x[found]
        if top and found.size > _PARTITION_ABOVE:
            # only the best `need` can be kept or shown: sort just those, and every token
            # tied with the last of them (ascending ids: ties keep the lower id first)
            cut = np.partition(raw, raw.size - need)[raw.size - need]
            best = np.flatnonzero(raw >= cut)
            found, raw = found[best], raw[best]
        if pen_ids is not None:
            return _sorted(np.union1d(found, pen_ids), x)
        order = np.argsort(-raw, kind="stable")
        if top:
            order = order[:need]
        return found[order], raw[order]

    def _best_logit(self, x: np.ndarray) -> float:
        """The largest logit; on a large vocabulary, each column's maximum on the way."""
        if self._columns_of is not x:  # the engine hands the same view until its buffer moves
            self._columns_of = x
            body = x.size - x.size % _COLUMNS
            self._x2 = x[:body].reshape(-1, _COLUMNS) if x.size >= 4 * _COLUMNS else None
            self._tail = x[body:]
        if self._x2 is None:
            return float(_MAX(x))
        _MAX(self._x2, axis=0, out=self._colmax)
        m = float(_MAX(self._colmax))
        if self._tail.size:
            m = max(m, float(_MAX(self._tail)))
        return m

    def _best_columns(self, need: int) -> np.ndarray:
        """Ids of a few more than the best `need` logits, ascending, without a full pass.

        The need-th largest column maximum is a threshold that at least `need` tokens (those
        maxima) reach, and every token above it lies in a column whose maximum reaches it.
        """
        x2, colmax, tail = self._x2, self._colmax, self._tail
        assert x2 is not None
        threshold = np.partition(colmax, _COLUMNS - need)[_COLUMNS - need]
        cols = (colmax >= threshold).nonzero()[0]
        rows, at = (x2[:, cols] >= threshold).nonzero()
        ids: np.ndarray = rows * _COLUMNS + cols[at]
        if tail.size:
            extra = (tail >= threshold).nonzero()[0]
            if extra.size:
                ids = np.concatenate((ids, extra + (x2.size)))
        return ids

    @staticmethod
    def _max_drop(m: float, pen_new: np.ndarray | None) -> float:
        return 0.0 if pen_new is None else max(0.0, m - float(pen_new.max(initial=m)))

    @staticmethod
    def _penalised_mass(
        ids: np.ndarray, x: np.ndarray, pen_ids: np.ndarray, pen_new: np.ndarray, log_z_pen: float
    ) -> float:
        vals = x[ids].astype(np.float64)
        lookup = dict(zip(pen_ids.tolist(), pen_new.tolist(), strict=True))
        for i, t in enumerate(ids.tolist()):
            if t in lookup:
                vals[i] = lookup[t]
        return float(np.exp(vals - log_z_pen).sum())
