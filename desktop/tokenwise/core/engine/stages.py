"""One step of inspection and sampling: the raw distribution, then llama.cpp's own stages.

Only the engine uses this module. The raw distribution's normaliser and entropy need one
pass over the whole vocabulary (numpy, in place into a preallocated buffer); everything
that decides the token runs on a small candidate subset that provably contains every
survivor: all tokens within D nats of the best logit, widened when a stage could reach
beyond it. llama.cpp's samplers (top-k, top-p, min-p, temperature, dist) then run on that
subset exactly as they would on the full array.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat

import llama_cpp
import numpy as np

from tokenwise.core.engine import draw
from tokenwise.core.engine.compiled import (
    _COUNT_ABOVE,
    _DRAW,
    _MOMENTS,
    _NUCLEUS,
    _NUCLEUS_DRAW,
    _PENALISE,
    _SCAN,
    _SCAN_COPY,
    _SCAN_MAX_NEED,
    _SCAN_TEMPERED,
    _SOFTMAX_ADDRESS,
    _TRUNCATED,
    _UNTRUNCATED,
    CandidateBuffer,
    StageRunner,
)
from tokenwise.core.engine.extension import STEP_RECORD, UNTRUNCATED_NUMBERS
from tokenwise.core.engine.numpy_path import (
    _COLUMNS,
    _SCOPE_ALL,
    _SCOPE_MIN_P,
    _SCOPE_TOP,
    _SCOPE_TOP_P,
    NumpyPath,
)
from tokenwise.core.errors import INVALID_LOGITS, InvalidLogitsError
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.sampling.stages import (
    STAGE_GREEDY,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_TEMPERATURE,
    STAGE_TOP_K,
    STAGE_TOP_P,
)
from tokenwise.core.trace.records import Candidate, Stage, Step

__all__ = ["CandidateBuffer", "Decision", "StepNumbers", "StepSampler", "scan_kind"]


@dataclass(slots=True)
class StepNumbers:
    """What one step computed, before pieces and text are attached."""

    token_id: int
    prob: float
    rank: int
    logit: float
    log_z: float
    entropy: float
    cand_ids: list[int]
    cand_logits: list[float]
    cand_probs: list[float]
    stages: tuple[Stage, ...]
    final_prob: float


@dataclass(slots=True)
class Decision:
    """The first half of a step (see :meth:`StepSampler.decide`): the token and the stages
    after penalties; what only the display needs is left to :meth:`StepSampler.finish`."""

    token: int
    final_prob: float
    rank: int  # among the shown candidates; 0: not among them
    m: float
    z: float | None  # None: the split step's finish computes the moments
    sum_ex: float | None
    cand_ids: list[int]
    cand_logits: list[float]
    head: list[int]  # the shown candidates after penalties
    pen_head: list[float] | None  # their penalised logits (None: no penalties)
    stages: list[Stage]  # after the penalties stage
    pen_delta: float = 0.0  # what the penalties change in the normaliser's sum (see _log_z)
    copied: bool = False  # the logits were copied to decide's ``copy_to`` on the way
    total: float | None = None  # the untruncated draw's normaliser (its stages: in finish)
    # the token's raw logit where the decision knows it, with ``rank`` its rank in the raw
    # distribution: finish then reads no logits (None: it does)
    logit: float | None = None


def _check(m: float, z: float) -> None:
    if not (math.isfinite(m) and math.isfinite(z) and z > 0.0):
        raise InvalidLogitsError(INVALID_LOGITS)


def _known_moments(m: float, z: float, sum_ex: float,
                   moments: bool) -> tuple[float | None, float | None]:
    """A pass's moments where it computed them (checked), else None for finish to compute
    (the max checked alone)."""
    if moments:
        _check(m, z)
        return z, sum_ex
    if not math.isfinite(m):
        raise InvalidLogitsError(INVALID_LOGITS)
    return None, None


def _rank_among(shown: list[int], token: int) -> int:
    """The token's rank among the shown candidates; 0: not among them (finish counts it)."""
    try:
        return shown.index(token) + 1
    except ValueError:
        return 0


def _raw_rank(x: np.ndarray, token: int) -> tuple[float, int]:
    """A token's raw logit, and its rank: one more than the tokens whose logits are above."""
    logit = float(x[token])
    if _COUNT_ABOVE is not None and x.dtype == np.float32 and x.flags.c_contiguous:
        return logit, int(_COUNT_ABOVE(x.ctypes.data, x.size, logit)) + 1
    return logit, int(np.count_nonzero(x > x[token])) + 1


def _pen_delta(m: float, pen_old: np.ndarray, pen_new: np.ndarray) -> float:
    """What the penalties change in sum(exp(x - m)): only the penalised tokens' terms."""
    return float(np.exp(pen_new.astype(np.float64) - m).sum()
                 - np.exp(pen_old.astype(np.float64) - m).sum())


def _log_z(m: float, z: float, pen_delta: float = 0.0) -> float:
    """The log-normaliser, after penalties that change the sum by ``pen_delta``."""
    return m + math.log(max(z + pen_delta, 1e-300))


def _probs(logits: list[float], log_z: float) -> list[float]:
    exp = math.exp
    return [exp(v - log_z) for v in logits]  # a few dozen: cheaper than numpy here


_PYTHON_BELOW = 256  # shorter than this, plain Python beats numpy's per-call cost
_new_tuple = tuple.__new__  # a NamedTuple record straight from C, without its Python __new__


def _prefix_weights(
    top: np.ndarray, shown: int,
) -> tuple[list[float], Sequence[float] | np.ndarray]:
    """exp(logit - best) of sorted logits (at least the first ``shown``), and running sums.

    A long prefix (top-k off: up to the whole vocabulary) is done in numpy.
    """
    first = float(top[0])
    if top.size < _PYTHON_BELOW:
        exp = math.exp
        weights = [exp(v - first) for v in top.tolist()]
        return weights, list(accumulate(weights))
    w = np.exp(top.astype(np.float64) - first)
    return w[:shown].tolist(), np.cumsum(w)


class PenaltyWindow:
    """The last ``length`` tokens (prompt and reply) and how often each distinct one occurs,
    kept as two int32 arrays that the compiled pass reads as they are: a token coming in or
    going out changes one slot, instead of the arrays being built again every step.
    A token that leaves for good gives its slot to the last one."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._tokens: deque[int] = deque()
        self._slot: dict[int, int] = {}
        self.n = 0
        self._ids = self._counts = np.zeros(0, dtype=np.int32)
        self.ids_ptr = self.counts_ptr = 0
        self._grow(64)

    def _grow(self, capacity: int) -> None:
        ids = np.zeros(capacity, dtype=np.int32)
        counts = np.zeros(capacity, dtype=np.int32)
        if self.n:
            ids[: self.n] = self._ids[: self.n]
            counts[: self.n] = self._counts[: self.n]
        self._ids, self._counts = ids, counts
        self.ids_ptr, self.counts_ptr = ids.ctypes.data, counts.ctypes.data
        # the same memory as Python ints, slot by slot (a numpy scalar each costs more)
        self._id_at, self._count_at = ids.data, counts.data

    def __len__(self) -> int:
        return self.n

    @property
    def ids(self) -> np.ndarray:
        """The distinct tokens, in their slots' order (a view: valid until the next token)."""
        return self._ids[: self.n]

    @property
    def counts(self) -> np.ndarray:
        return self._counts[: self.n]

    def add(self, token: int) -> None:
        self._tokens.append(token)
        slot = self._slot.get(token)
        if slot is None:
            if self.n == self._ids.size:
                self._grow(2 * self.n)
            slot = self._slot[token] = self.n
            self._id_at[slot] = token
            self._count_at[slot] = 1
            self.n += 1
        else:
            self._count_at[slot] += 1
        if len(self._tokens) > self.length:
            self._drop(self._tokens.popleft())

    def _drop(self, token: int) -> None:
        slot = self._slot[token]
        counts = self._count_at
        left = counts[slot] - 1
        if left:
            counts[slot] = left
            return
        del self._slot[token]
        self.n -= 1
        last = self.n
        if slot != last:  # the last slot's token moves into the freed one
            moved = self._id_at[last]
            self._id_at[slot] = moved
            counts[slot] = counts[last]
            self._slot[moved] = slot


def scan_kind() -> str:
    """Which code reads the whole vocabulary each step: "C" or "numpy"."""
    return "C" if _SCAN is not None else "numpy"


class StepSampler(NumpyPath):
    """Runs the stages of one generation's settings, step after step.

    Owns its llama.cpp sampler objects; call :meth:`close` when the generation ends.
    """

    def __init__(
        self,
        buffer: CandidateBuffer,
        n_vocab: int,
        settings: SamplerSettings,
        seed: int,
        history: list[int],
        top_k_display: int,
    ) -> None:
        self.buf = buffer
        self.n_vocab = n_vocab
        self.s = settings
        self.k_display = max(1, top_k_display)
        self.labels = settings.stage_labels()
        self._samplers: list[object] = []
        window_len = settings.repeat_last_n if settings.repeat_last_n >= 0 else 1 << 30
        self._window_len = window_len if settings.penalties_active else 0
        self._counts = PenaltyWindow(self._window_len)
        for token in history:
            self.accept(token)
        s = settings
        self.top_k = (
            self._make(llama_cpp.llama_sampler_init_top_k(s.top_k)) if s.top_k > 0 else None
        )
        self.top_p = (
            self._make(llama_cpp.llama_sampler_init_top_p(s.top_p, 1))
            if s.top_p < 1.0 and s.top_k > 0 else None
        )
        self.min_p = (
            self._make(llama_cpp.llama_sampler_init_min_p(s.min_p, 1)) if s.min_p > 0 else None
        )
        self.temp = self._make(llama_cpp.llama_sampler_init_temp(s.temperature))
        self.dist = self._make(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        self._stages = StageRunner(buffer, [self.top_k, self.top_p, self.min_p, self.temp,
                                            self.dist])
        self.need = max(self.k_display, s.top_k if s.top_k > 0 else 0)
        if s.greedy or s.top_k > 0:
            self._scope = _SCOPE_TOP
        elif s.top_p < 1.0:
            self._scope = _SCOPE_TOP_P
        elif s.min_p > 0.0:
            self._scope = _SCOPE_MIN_P
        else:
            self._scope = _SCOPE_ALL
        self._min_p_window = -math.log(s.min_p) + 1.0 if s.min_p > 0.0 else 0.0
        self._columns_of: np.ndarray | None = None
        self._where: np.ndarray | None = None  # see _penalised
        self._x2: np.ndarray | None = None
        self._tail = np.empty(0, dtype=np.float32)
        self._colmax = np.empty(_COLUMNS, dtype=np.float32)
        self._e = buffer.exp_buf[:n_vocab]
        self._e_address = buffer.exp_ptr
        self._moments_out = np.empty(2, dtype=np.float64)
        self._pieces: Mapping[int, bytes] = {}
        self._record_consts: tuple[object, ...] = ()
        self._mask = buffer.mask[:n_vocab]
        # the C pass finds the best `need` tokens: enough for greedy, top-k and the untruncated
        # draw's display; tw_nucleus also finds the nucleus of top-p without top-k (with
        # penalties, and for min-p without top-k, the numpy path widens to fit)
        nucleus = self._scope == _SCOPE_TOP_P and not self._window_len
        if nucleus:
            self._scan = _SCAN if _NUCLEUS is not None else None
        else:
            self._scan = _SCAN if self._scope in (_SCOPE_TOP, _SCOPE_ALL) else None
        self._nucleus_depth = 4.0  # nats below the best it collects: a nat past the last one's
        self._nucleus: tuple[int, float] | None = None  # this step's: its size, its mass
        # no truncating stage: draw by inverse CDF over the unsorted vocabulary
        self._untruncated = (
            draw.UntruncatedDraw(n_vocab, s.temperature, seed,
                                 _DRAW if _SCAN is not None else None)
            if self._scope == _SCOPE_ALL and not s.greedy else None
        )
        # at T other than 1 the same pass gives the untruncated draw's normaliser too
        self._tempered_scan = (
            _SCAN_TEMPERED if self._untruncated is not None and self._scan is _SCAN
            and self._untruncated.inv_t != 1.0 else None)
        # the untruncated draw's decision in one call (tw_untruncated)
        self._one_call = (self._untruncated is not None and self._scan is _SCAN
                          and _UNTRUNCATED is not None and UNTRUNCATED_NUMBERS is not None)
        if self._one_call:  # what tw_untruncated writes for the step (see it)
            self._draw_out = np.zeros(10 + 4 * self.k_display, dtype=np.float64)
            self._draw_address = self._draw_out.ctypes.data
        # top-k's, with the stages and their records' weights (tw_truncated; where the
        # records' weights are summed in plain Python, not numpy, and the stages run in one
        # call)
        self._truncated_call = (
            _TRUNCATED is not None and self._scan is _SCAN and not s.greedy
            and self.top_k is not None and s.top_k < _PYTHON_BELOW
            and self.need <= _SCAN_MAX_NEED and self._stages.one_call)
        # top-p's without top-k, with the stages and their records (tw_nucleus_draw; no
        # penalties or min-p, whose records read past the shown candidates)
        self._nucleus_call = (
            _NUCLEUS_DRAW is not None and nucleus and self._scan is _SCAN and not s.greedy
            and self.min_p is None and self.k_display < _PYTHON_BELOW
            and self.need <= _SCAN_MAX_NEED and self._stages.one_call)
        if self._truncated_call or self._nucleus_call:  # what either call writes
            prefix = s.top_k if self._truncated_call else self.k_display
            self._call_weights = np.zeros(prefix, dtype=np.float64)
            self._call_cum = np.zeros(prefix, dtype=np.float64)
            # the size after each sampler, then the selected index
            self._call_sizes = np.zeros(self._stages.sizes.size + 1, dtype=np.int64)
            self._shown_ids = np.zeros(self.k_display, dtype=np.int32)
            self._shown_logits = np.zeros(self.k_display, dtype=np.float32)
            # the records' probabilities: three stages', the final distribution's, the token
            # (tw_nucleus_draw: then the token's rank and raw logit)
            self._call_recs = np.zeros(4 * self.k_display + 4, dtype=np.float64)
        if self._nucleus_call:
            self._nucleus_args = (
                self.k_display, self._call_weights.ctypes.data,
                self._call_cum.ctypes.data, self.k_display, self._shown_ids.ctypes.data,
                self._shown_logits.ctypes.data, *self._stages.apply_args,
                self._call_sizes.ctypes.data, self._call_recs.ctypes.data)
        if self._truncated_call:
            # which sampler's size each stage record reads: top-k's, top-p's (or top-k's
            # when off), min-p's (or the one before when off), as _records reads them
            top_p_at = 1 if s.top_p < 1.0 else 0
            self._stage_at = (0, top_p_at, 2 if self.min_p is not None else top_p_at)
            self._stage_of = np.array(self._stage_at, dtype=np.int32)
            self._truncated_args = (
                self._call_weights.ctypes.data, self._call_cum.ctypes.data,
                self.k_display, self._shown_ids.ctypes.data, self._shown_logits.ctypes.data,
                *self._stages.apply_args, self._call_sizes.ctypes.data,
                self._stage_of.ctypes.data, self._call_recs.ctypes.data)

    def _make(self, sampler: object) -> object:
        self._samplers.append(sampler)
        return sampler

    def close(self) -> None:
        for sampler in self._samplers:
            llama_cpp.llama_sampler_free(sampler)
        self._samplers.clear()

    def accept(self, token: int) -> None:
        """Record a token in the penalty window (prompt tokens and generated ones)."""
        if self._window_len:
            self._counts.add(token)

    # ------------------------------------------------------------------ one step

    @property
    def can_split(self) -> bool:
        """Whether a step can be split around the next decode (see :meth:`decide`).

        Greedy and top-k decide from the best candidates alone: the normaliser, the entropy
        and the raw probabilities only feed the display. The untruncated draw needs the
        normaliser of softmax(x / T) alone (at T other than 1, not the raw one), and leaves
        its stage records to the display half. Top-p without top-k (in one call) needs the
        whole normaliser, and leaves the display half the records that read no logits.
        """
        return ((self._scope == _SCOPE_TOP or self._untruncated is not None
                 or self._nucleus_call)
                and self._scan is _SCAN and _SCAN is not None
                and self.need + len(self._counts) <= _SCAN_MAX_NEED)

    def step(self, x: np.ndarray, forced: int | None = None, x_address: int = 0) -> StepNumbers:
        """Inspect the logits ``x`` (the live llama.cpp buffer, read only) and draw a token.

        ``x_address`` is the buffer's address when the caller knows it (saves a lookup).
        """
        return self.finish(self.decide(x, forced, x_address), x)

    def decide(self, x: np.ndarray, forced: int | None = None, x_address: int = 0,
               *, split: bool = False, copy_to: int = 0) -> Decision:
        """The half of a step that draws the token and records the stages after penalties.

        ``split`` (only where :attr:`can_split`): leave the whole-vocabulary moments (where
        the token does not need them) to :meth:`finish`, which may then run on a copy of the
        logits while the next token decodes. The numbers are the same either way (the same
        arithmetic, in other calls).
        ``copy_to``: the address of that copy's buffer, written by the compiled pass as it
        reads the logits (``Decision.copied`` says whether it was).
        """
        s = self.s
        counts = self._counts
        need = self.need + len(counts)  # penalised tokens may drop out of the best
        address = x_address or x.ctypes.data
        if self._one_call and need <= _SCAN_MAX_NEED:
            decision = self._decide_untruncated(x, address, need, forced, split, copy_to)
            if decision is not None:
                return decision
        elif self._truncated_call and not counts:
            decision = self._decide_top_k(x, address, need, forced, split, copy_to)
            if decision is not None:
                return decision
        elif self._nucleus_call:
            decision = self._decide_top_p(x, address, forced)
            if decision is not None:
                return decision
        scanned = 0
        copied = False
        z: float | None = None
        sum_ex: float | None = None
        tempered = False
        moments = True
        out = self.buf.scan_out
        if self._scan is not None:
            if self._scope == _SCOPE_TOP_P:
                scanned = self._scan_nucleus(address)
                out = self.buf.nucleus_out
            elif need <= _SCAN_MAX_NEED:
                # split: the raw moments only where the token needs them (the draw at T = 1)
                moments = not split or (self._untruncated is not None
                                        and self._tempered_scan is None)
                if self._tempered_scan is not None and self._untruncated is not None:
                    scanned = self._tempered_scan(address, self.n_vocab, need, _SOFTMAX_ADDRESS,
                                                  *self.buf.scan_args,
                                                  *self._untruncated.tempered_args,
                                                  copy_to or None, moments)
                    tempered = scanned > 0
                    copied = tempered and bool(copy_to)
                elif copy_to and _SCAN_COPY is not None and self._scan is _SCAN:
                    scanned = _SCAN_COPY(address, self.n_vocab, need,
                                         _SOFTMAX_ADDRESS if moments else None,
                                         *self.buf.scan_args, copy_to)
                    copied = scanned > 0
                else:
                    scanned = self._scan(address, self.n_vocab, need,
                                         _SOFTMAX_ADDRESS if moments else None,
                                         *self.buf.scan_args)
        if scanned > 0:
            m, z_found, s_found = out.tolist()[:3]
            z, sum_ex = _known_moments(m, z_found, s_found, moments)
        else:
            m, z, sum_ex = self._moments_numpy(x, address)
            _check(m, z)

        # penalties touch only the tokens in the window
        pen_ids = pen_old = pen_new = None
        pen_weights: tuple[np.ndarray, np.ndarray, float, float] | None = None
        union = 0  # > 0: tw_penalise joined them to the scanned candidates
        pen_delta = 0.0
        if counts:
            n_pen = len(counts)
            pen_ids = counts.ids
            if scanned > 0 and _PENALISE is not None:
                buf = self.buf
                # the weights tw_penalise writes are the untruncated draw's (T = 1 otherwise)
                inv_t = self._untruncated.inv_t if self._untruncated is not None else 1.0
                union = _PENALISE(address, counts.ids_ptr, counts.counts_ptr, n_pen,
                                  s.repeat_penalty, s.frequency_penalty, s.presence_penalty,
                                  m, inv_t, *buf.penalise_args, scanned, buf.union_ptr)
            if union > 0:
                pen_old, pen_new = buf.pen_old[:n_pen], buf.pen_new[:n_pen]
                s_old, s_new, t_old, t_new = buf.pen_sums.tolist()
                pen_weights = (buf.pen_w_old[:n_pen], buf.pen_w_new[:n_pen], t_old, t_new)
                pen_delta = s_new - s_old
            else:
                times = counts.counts.astype(np.float32)
                old = pen_old = x[pen_ids]
                rp = np.float32(s.repeat_penalty)
                pen_new = np.where(old <= 0, old * rp, old / rp)
                pen_new = (pen_new - times * np.float32(s.frequency_penalty)
                           - np.float32(s.presence_penalty)).astype(np.float32)
                pen_delta = _pen_delta(m, pen_old, pen_new)
        # z is None only in a split step, whose token does not read it
        log_z_pen = _log_z(m, z, pen_delta) if z is not None else math.nan

        loaded = False
        if scanned > 0:  # the best `need` (and any ties), sorted, already in the token data
            ids, raw = self.buf.ids[:scanned], self.buf.logits[:scanned]
            if pen_ids is None:
                if self._scope != _SCOPE_TOP_P:  # the nucleus: every candidate scanned
                    ids, raw = ids[:need], raw[:need]
                loaded = True
        else:
            assert z is not None
            ids, raw = self._subset(x, m, z, need, pen_ids, pen_new, log_z_pen)  # best first
        k = self.k_display
        cand_list = ids[:k].tolist()
        logits_list = raw[:k].tolist()
        head = cand_list
        pen = raw
        pen_head = None
        if union > 0:
            ids, pen = self.buf.union_ids[:union], self.buf.union_pen[:union]
            head = ids[:k].tolist()
            pen_head = pen[:k].tolist()
        elif pen_ids is not None and pen_new is not None:
            ids, pen = self._penalised(ids, raw, x, pen_ids, pen_new)
            head = ids[:k].tolist()
            pen_head = pen[:k].tolist()

        stages: list[Stage] = []
        total: float | None = None
        if s.greedy:
            best = head[0]
            stages.append(Stage(STAGE_GREEDY, self.labels[STAGE_GREEDY], 1, (best,), (1.0,)))
            token = best if forced is None else forced
            final_prob = 1.0 if token == best else 0.0
        elif self._untruncated is not None:  # its stage records: in finish
            token, final_prob, total = self._untruncated.sample(
                x, address, m, z, self.buf.chunk_sums if scanned > 0 else None,
                (pen_ids, pen_old, pen_new), forced, pen_weights, tempered)
        else:
            token, final_prob = self._sample(ids, head, pen, log_z_pen, stages, forced, loaded)
        return Decision(token, final_prob, _rank_among(cand_list, token), m, z, sum_ex,
                        cand_list, logits_list, head, pen_head, stages, pen_delta, copied, total)

    def _decide_untruncated(self, x: np.ndarray, address: int, need: int,
                            forced: int | None, split: bool, copy_to: int) -> Decision | None:
        """:meth:`decide` for the untruncated draw, in one compiled call: the pass, the
        penalties and the draw (tw_untruncated). The same numbers as the calls it joins; None:
        it could not take the step (the other path does, with the same uniform number)."""
        untruncated = self._untruncated
        assert untruncated is not None and _UNTRUNCATED is not None
        s, buf, counts = self.s, self.buf, self._counts
        n_pen = len(counts)
        # split: the raw moments are the display's, except at T = 1 where they are the draw's
        moments = not split or untruncated.inv_t == 1.0
        u = untruncated.uniform() if forced is None else 0.0
        k = self.k_display
        scanned = _UNTRUNCATED(
            address, self.n_vocab, need, _SOFTMAX_ADDRESS, *buf.scan_args,
            *untruncated.tempered_args, copy_to or None, moments,
            counts.ids_ptr, counts.counts_ptr, n_pen, s.repeat_penalty,
            s.frequency_penalty, s.presence_penalty, *buf.penalise_args[:5], buf.union_ptr,
            u, -1 if forced is None else forced, k, self._draw_address)
        if scanned <= 0:
            if forced is None:
                untruncated.pending = u
            return None
        # what the call wrote, read in one compiled call (cold caches make every numpy call
        # and every Python object dear here)
        assert UNTRUNCATED_NUMBERS is not None
        (valid, total, token_f, final_prob, m, z, sum_ex, pen_delta, cand_list, logits_list,
         head, pen_head) = UNTRUNCATED_NUMBERS(self._draw_address, k, moments, n_pen)
        if not valid or token_f < 0:  # invalid logits: a normaliser not positive
            raise InvalidLogitsError(INVALID_LOGITS)
        token = int(token_f)
        return Decision(token, final_prob, _rank_among(cand_list, token), m, z, sum_ex,
                        cand_list, logits_list, head, pen_head, [], pen_delta, bool(copy_to),
                        total)

    def finish(self, d: Decision, x: np.ndarray) -> StepNumbers:
        """The half of a step that only feeds the display: moments, raw probabilities, rank.

        ``x``: the logits the decision was made on (a copy, once the next decode has begun).
        """
        z, sum_ex, rank, logit = self._display_inputs(d, x)
        log_z = d.m + math.log(z)
        # H = log Z - sum(p * x), with p = exp(x - m) / z
        entropy = log_z - sum_ex / z
        if entropy < 0.0:
            entropy = 0.0
        probs = _probs(d.cand_logits, log_z)
        if d.pen_head is None:
            pen_logits, pen_probs = d.cand_logits, probs
        else:  # the same sums as the decision's, whether or not the step was split
            pen_logits = d.pen_head
            pen_probs = _probs(pen_logits, _log_z(d.m, z, d.pen_delta))
        later = d.stages
        if d.total is not None and self._untruncated is not None:
            later = self._untruncated.records(d.head, pen_logits, pen_probs, d.m, d.total,
                                              self.labels)
        stages = (_new_tuple(Stage, (STAGE_PENALTIES, self.labels[STAGE_PENALTIES],
                                     self.n_vocab, tuple(d.head), tuple(pen_probs))), *later)
        return StepNumbers(
            token_id=d.token,
            prob=math.exp(logit - log_z),
            rank=rank,
            logit=logit,
            log_z=log_z,
            entropy=entropy,
            cand_ids=d.cand_ids,
            cand_logits=d.cand_logits,
            cand_probs=probs,
            stages=stages,
            final_prob=d.final_prob,
        )

    def _display_inputs(self, d: Decision, x: np.ndarray) -> tuple[float, float, int, float]:
        """What the display half needs that the decision may have left: the moments (a split
        step's, from ``x``) and the token's rank and raw logit (a token past the candidates
        shown: counted in ``x``)."""
        z, sum_ex = d.z, d.sum_ex
        if z is None or sum_ex is None:
            assert _MOMENTS is not None
            out = self._moments_out
            _MOMENTS(x.ctypes.data, self.n_vocab, d.m, _SOFTMAX_ADDRESS, out.ctypes.data, None)
            z, sum_ex = out.tolist()
            _check(d.m, z)
        rank = d.rank
        if d.logit is not None:
            logit = d.logit
        elif rank:
            logit = d.cand_logits[rank - 1]
        else:
            logit, rank = _raw_rank(x, d.token)
        return z, sum_ex, rank, logit

    def use_pieces(self, pieces: Mapping[int, bytes]) -> None:
        """The vocabulary's pieces, for :meth:`record` (once per generation)."""
        untruncated = None
        if self._untruncated is not None:
            labels = self.labels
            untruncated = (self._untruncated.inv_t, tuple(
                (name, labels[name])
                for name in (STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P, STAGE_TEMPERATURE)))
        self._pieces = pieces
        self._record_consts = (Step, Candidate, Stage, pieces, STAGE_PENALTIES,
                               self.labels[STAGE_PENALTIES], self.n_vocab, untruncated)

    def record(self, d: Decision, x: np.ndarray, index: int, text: str, reason: str | None,
               forced: bool) -> Step:
        """The step's Step record (:meth:`finish`, then the record), in one compiled call
        where the extension was built (step_record: the same numbers, tested); after
        :meth:`use_pieces`. ``elapsed_ms`` is left at 0 for the caller."""
        if STEP_RECORD is not None:
            z, sum_ex, rank, logit = self._display_inputs(d, x)
            return STEP_RECORD(  # type: ignore[no-any-return]
                self._record_consts, index, text, reason, forced, d.token, rank, logit, d.m,
                z, sum_ex, d.cand_ids, d.cand_logits, d.head, d.pen_head, d.pen_delta,
                d.stages, d.total, d.final_prob)
        nums = self.finish(d, x)
        pieces = self._pieces
        # tuple.__new__ straight from C: the Candidates without a Python call each
        cands = tuple(map(_new_tuple, repeat(Candidate), zip(
            nums.cand_ids, map(pieces.__getitem__, nums.cand_ids),
            nums.cand_logits, nums.cand_probs, strict=True)))
        return Step(
            index=index, token_id=nums.token_id, piece=pieces[nums.token_id], text=text,
            prob=nums.prob, rank=nums.rank, logit=nums.logit, log_z=nums.log_z,
            entropy=nums.entropy, candidates=cands, stages=nums.stages,
            final_prob=nums.final_prob, forced=forced, stop_reason=reason)

    def _penalised(self, ids: np.ndarray, raw: np.ndarray, x: np.ndarray,
                   pen_ids: np.ndarray, pen_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidates and the penalised tokens, with their penalised logits, best first.

        ``ids`` / ``raw``: the candidates, best raw logit first. Equal penalised logits keep
        the raw order (then the lower id first), as a stable sort of the raw order would.
        A few small numpy calls: a vocabulary-sized index says where each candidate is.
        """
        where = self._where
        if where is None:
            where = self._where = np.zeros(self.n_vocab, dtype=np.int32)
        n = ids.size
        where[ids] = np.arange(n, dtype=np.int32)
        at = where[pen_ids]
        np.clip(at, 0, n - 1, out=at)  # an index left from another step points elsewhere
        inside = ids[at] == pen_ids
        if not inside.all():
            extra = pen_ids[~inside]
            at[~inside] = np.arange(n, n + extra.size, dtype=np.int32)
            ids = np.concatenate((ids, extra))
            raw = np.concatenate((raw, x[extra]))
        pen = raw.copy()
        pen[at] = pen_new
        order = np.lexsort((ids, -raw, -pen))
        return ids[order], pen[order]

    def _scan_nucleus(self, address: int) -> int:
        """The compiled pass, finding the nucleus on the way (tw_nucleus); 0: it could not.

        It collects every token within a depth of the best, deeper where they hold less than
        top-p; the depth starts a nat past the last step's nucleus.
        """
        assert _NUCLEUS is not None
        buf = self.buf
        scanned = _NUCLEUS(address, self.n_vocab, self.need, _SOFTMAX_ADDRESS,
                           *buf.nucleus_args, self.s.top_p, self._nucleus_depth)
        if scanned <= 0:
            return 0
        _m, _z, _s, keep, mass, depth = buf.nucleus_out.tolist()
        if keep > 0:  # 0: invalid numbers, which the step reports
            self._nucleus = (int(keep), mass)
            self._nucleus_depth = depth + 1.0
        return scanned

    def _decide_top_k(self, x: np.ndarray, address: int, need: int, forced: int | None,
                      split: bool, copy_to: int) -> Decision | None:
        """:meth:`decide` for top-k without penalties, in one compiled call: the pass, the
        prefix weights the stage records need, and llama.cpp's stages (tw_truncated). The
        same numbers as the calls it joins; None: it could not take the step (the other path
        does; nothing was drawn)."""
        assert _TRUNCATED is not None
        buf, top_k = self.buf, self.s.top_k
        scanned = _TRUNCATED(
            address, self.n_vocab, need, None if split else _SOFTMAX_ADDRESS, *buf.scan_args,
            copy_to or None, min(need, top_k), min(need, top_k), *self._truncated_args)
        if scanned <= 0:
            return None
        m, z_found, s_found = buf.scan_out.tolist()
        z, sum_ex = _known_moments(m, z_found, s_found, not split)
        prefix = min(need, top_k, scanned)
        *stage_sizes, selected = self._call_sizes.tolist()
        cand_list = self._shown_ids[:min(self.k_display, scanned)].tolist()
        logits_list = self._shown_logits[:len(cand_list)].tolist()
        if (forced is not None or selected < 0 or stage_sizes[-1] <= 0 or prefix < 1
                or max(stage_sizes[:3]) >= self.n_vocab):
            log_z = _log_z(m, z) if z is not None else math.nan  # split: not reached
            token, final_prob, stages = self._python_records(
                cand_list, logits_list, prefix, log_z, stage_sizes, selected, forced)
        else:
            token, final_prob, stages = self._call_records(
                cand_list, [stage_sizes[i] for i in self._stage_at], stage_sizes[-1], prefix)
        return Decision(token, final_prob, _rank_among(cand_list, token), m, z, sum_ex,
                        cand_list, logits_list, cand_list, None, stages, 0.0, bool(copy_to))

    def _decide_top_p(self, x: np.ndarray, address: int,
                      forced: int | None) -> Decision | None:
        """:meth:`decide` for top-p without top-k (no penalties, no min-p), in one compiled
        call: the nucleus, the prefix weights the stage records need, and llama.cpp's stages
        (tw_nucleus_draw). The same numbers as the calls it joins; None: it could not take
        the step (the other path does; nothing was drawn)."""
        assert _NUCLEUS_DRAW is not None
        buf, k = self.buf, self.k_display
        scanned = _NUCLEUS_DRAW(address, self.n_vocab, self.need, _SOFTMAX_ADDRESS,
                                *buf.nucleus_args, self.s.top_p, self._nucleus_depth,
                                *self._nucleus_args)
        if scanned <= 0:
            return None
        m, z, sum_ex, keep_f, mass, depth = buf.nucleus_out.tolist()
        keep = int(keep_f)
        self._nucleus_depth = depth + 1.0
        prefix = min(k, scanned)
        *stage_sizes, selected = self._call_sizes.tolist()
        cand_list = self._shown_ids[:prefix].tolist()
        logits_list = self._shown_logits[:prefix].tolist()
        if forced is not None or selected < 0 or stage_sizes[-1] <= 0:
            token, final_prob, stages = self._python_records(
                cand_list, logits_list, prefix, _log_z(m, z), stage_sizes, selected, forced,
                keep, mass)
            rank = _rank_among(cand_list, token)
            logit, rank = (logits_list[rank - 1], rank) if rank else _raw_rank(x, token)
        else:
            token, final_prob, stages = self._call_records(
                cand_list, [self.n_vocab, keep, keep], stage_sizes[-1], prefix)
            rank_f, logit = self._call_recs[4 * k + 2:4 * k + 4].tolist()
            rank = int(rank_f)
        return Decision(token, final_prob, rank, m, z, sum_ex, cand_list, logits_list,
                        cand_list, None, stages, 0.0, False, logit=logit)

    def _python_records(
        self, head: list[int], logits: list[float], prefix: int, log_z: float,
        stage_sizes: list[int], selected: int, forced: int | None, keep: int = 0,
        kept_mass: float = 1.0,
    ) -> tuple[int, float, list[Stage]]:
        """What a one-call decision leaves to Python (a forced token, a stage that keeps
        the whole vocabulary): :meth:`_records`, from the weights the call wrote."""
        stages: list[Stage] = []
        token, final_prob = self._records(
            head, self._call_weights[:prefix].tolist(), self._call_cum[:prefix].tolist(),
            logits[0], log_z, stage_sizes, selected, stages, forced, keep, kept_mass)
        return token, final_prob, stages

    def _call_records(self, head: list[int], survivors: list[int], n: int,
                      prefix: int) -> tuple[int, float, list[Stage]]:
        """The drawn token, its probability and the stage records of a one-call decision
        (tw_truncated, tw_nucleus_draw), as :meth:`_records` makes them: the probabilities
        were computed in the call. ``survivors``: the top-k, top-p and min-p stages' sizes;
        ``n``: the final distribution's."""
        k = self.k_display
        recs = self._call_recs.tolist()
        labels = self.labels
        stages = []
        for i, name in enumerate((STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P)):
            length = min(k, survivors[i], prefix)
            stages.append(_new_tuple(Stage, (name, labels[name], survivors[i],
                                             tuple(head[:length]),
                                             tuple(recs[i * k:i * k + length]))))
        length = min(k, n)
        stages.append(_new_tuple(Stage, (STAGE_TEMPERATURE, labels[STAGE_TEMPERATURE], n,
                                         tuple(head[:length]),
                                         tuple(recs[3 * k:3 * k + length]))))
        return int(recs[4 * k]), recs[4 * k + 1], stages

    def _sample(
        self, ids: np.ndarray, head: list[int], pen: np.ndarray, log_z_pen: float,
        stages: list[Stage], forced: int | None, loaded: bool = False,
    ) -> tuple[int, float]:
        """Run llama.cpp's stages on the sorted candidates; record each stage's outcome.

        The candidates go in sorted, so every stage keeps a prefix of them: a stage's
        distribution is the softmax over its first ``survivors`` entries. ``loaded``: they
        are in the token data array already (``ids`` and ``pen`` are views of it, and the
        samplers change it: read them first).
        """
        s = self.s
        buf = self.buf
        array = buf.array
        k = self.k_display
        top_p_alone = self.top_k is None and s.top_p < 1.0
        keep = 0
        kept_mass = 1.0
        if top_p_alone:
            # top-k off: top-p over the whole vocabulary, whose normaliser is known exactly
            if self._nucleus is not None:  # the compiled pass found it, with the same sums
                keep, kept_mass = self._nucleus
                self._nucleus = None
            else:
                mass = np.cumsum(np.exp(pen.astype(np.float64) - log_z_pen))
                keep = min(int(np.searchsorted(mass, s.top_p, side="left")) + 1, ids.size)
                kept_mass = float(mass[keep - 1])
        # read before the samplers run: with ``loaded`` they change what ``pen`` views; the
        # stages after top-k read no further than the nucleus (min-p, inside it)
        if top_p_alone:
            prefix = max(keep, k) if self.min_p is not None else min(k, ids.size)
        else:
            prefix = min(ids.size, s.top_k or ids.size)
        weights, cum = _prefix_weights(pen[:prefix], k)
        first = float(pen[0])
        if self.top_k is not None:
            n_in = min(ids.size, s.top_k)
            if loaded:
                array.size, array.selected, array.sorted = n_in, -1, True
            else:
                buf.load(ids[:n_in], pen[:n_in], is_sorted=True)
        elif top_p_alone:
            if loaded:  # the nucleus is the start of the token data already
                array.size, array.selected, array.sorted = keep, -1, True
            else:
                buf.load(ids[:keep], pen[:keep], is_sorted=True)
        else:
            buf.load(ids, pen, is_sorted=True)
        # top-k, top-p, min-p, temperature, then dist (softmax and one draw), in one call
        sizes = self._stages.apply()
        return self._records(head, weights, cum, first, log_z_pen, sizes, array.selected,
                             stages, forced, keep, kept_mass)

    def _records(
        self, head: list[int], weights: list[float], cum: Sequence[float] | np.ndarray,
        first: float, log_z_pen: float, sizes: list[int], selected: int,
        stages: list[Stage], forced: int | None, keep: int = 0, kept_mass: float = 1.0,
    ) -> tuple[int, float]:
        """The stage records of a step whose samplers have run (see :meth:`_sample`), and
        the token with its probability in the final distribution.

        ``weights`` / ``cum``: exp(logit - ``first``) of the sorted candidates' prefix and
        their running sums; ``sizes``: the array's size after each sampler; ``keep`` and
        ``kept_mass``: top-p alone's nucleus."""
        s, buf, k = self.s, self.buf, self.k_display
        top_p_alone = self.top_k is None and s.top_p < 1.0
        size_k, size_p, size_m, _, n = sizes
        after_k = self.n_vocab if self.top_k is None else size_k
        after_p = size_p if s.top_p < 1.0 else after_k
        after_m = size_m if self.min_p is not None else after_p

        # stage distributions: softmax over each stage's prefix, from one cumulative sum
        labels = self.labels
        for name, survivors in ((STAGE_TOP_K, after_k), (STAGE_TOP_P, after_p),
                                (STAGE_MIN_P, after_m)):
            shown = min(k, survivors, len(cum))
            if survivors >= self.n_vocab:
                total = math.exp(log_z_pen - first)  # the whole vocabulary
            elif top_p_alone and survivors == keep:
                total = kept_mass * math.exp(log_z_pen - first)  # the nucleus
            else:
                total = float(cum[min(survivors, len(cum)) - 1])
            inv = 1.0 / total
            stages.append(Stage(name, labels[name], survivors, tuple(head[:shown]),
                                tuple([w * inv for w in weights[:shown]])))
        shown = min(k, n)
        probs = buf.probs
        stages.append(Stage(STAGE_TEMPERATURE, labels[STAGE_TEMPERATURE], n,
                            tuple(head[:shown]), tuple(probs[:shown].tolist())))
        if forced is not None:
            pos = np.flatnonzero(buf.ids[:n] == forced)
            return forced, float(probs[pos[0]]) if pos.size else 0.0
        return int(buf.ids[selected]), float(probs[selected])
