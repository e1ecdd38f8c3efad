"""One step of inspection and sampling: the raw distribution, then llama.cpp's own stages.

Only the engine uses this module. The raw distribution's normaliser and entropy need one
pass over the whole vocabulary (numpy, in place into a preallocated buffer); everything
that decides the token runs on a small candidate subset that provably contains every
survivor: all tokens within D nats of the best logit, widened when a stage could reach
beyond it. llama.cpp's samplers (top-k, top-p, min-p, temperature, dist) then run on that
subset exactly as they would on the full array.
"""

from __future__ import annotations

import ctypes
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from .sampling import (
    STAGE_GREEDY,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_TEMPERATURE,
    STAGE_TOP_K,
    STAGE_TOP_P,
    SamplerSettings,
)
from .trace import Stage

_TOKEN_DTYPE = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
_WINDOWS = (8.0, 12.0, 20.0, 32.0)  # nats below the best logit; narrow first: fewer hits


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


def _fused_softmax() -> Callable[[int, int, int, float], float] | None:
    """ggml's vectorised y = exp(x - max), returning the sum: one pass instead of three."""
    folder = Path(llama_cpp.__file__).resolve().parent / "lib"
    for name in ("libggml-cpu.so", "libggml-cpu.dylib", "ggml-cpu.dll"):
        try:
            fn = ctypes.CDLL(str(folder / name)).ggml_vec_soft_max_f32
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float]
        return fn  # type: ignore[no-any-return]
    return None


_SOFTMAX = _fused_softmax()


class CandidateBuffer:
    """A llama_token_data_array over preallocated memory, shared by every generation."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data = (llama_cpp.llama_token_data * capacity)()
        raw = memoryview(self._data).cast("B")
        self.view = np.frombuffer(raw, dtype=_TOKEN_DTYPE)
        self.array = llama_cpp.llama_token_data_array(
            data=self._data, size=0, selected=-1, sorted=False
        )
        self.ref = ctypes.byref(self.array)
        self.exp_buf = np.empty(capacity, dtype=np.float32)
        self.exp_ptr = self.exp_buf.ctypes.data
        self.mask = np.empty(capacity, dtype=np.bool_)
        self.all_ids = np.arange(capacity, dtype=np.int32)

    def load(self, ids: np.ndarray, logits: np.ndarray, *, is_sorted: bool = False) -> None:
        n = ids.size
        self.view["id"][:n] = ids
        self.view["logit"][:n] = logits
        self.array.size = n
        self.array.selected = -1
        self.array.sorted = is_sorted



class StepSampler:
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
        self._window: deque[int] = deque()
        self._counts: Counter[int] = Counter()
        window_len = settings.repeat_last_n if settings.repeat_last_n >= 0 else 1 << 30
        self._window_len = window_len if settings.penalties_active else 0
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
        self.need = max(self.k_display, s.top_k if s.top_k > 0 else 0)

    def _make(self, sampler: object) -> object:
        self._samplers.append(sampler)
        return sampler

    def close(self) -> None:
        for sampler in self._samplers:
            llama_cpp.llama_sampler_free(sampler)
        self._samplers.clear()

    def accept(self, token: int) -> None:
        """Record a token in the penalty window (prompt tokens and generated ones)."""
        if not self._window_len:
            return
        self._window.append(token)
        self._counts[token] += 1
        if len(self._window) > self._window_len:
            old = self._window.popleft()
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]

    # ------------------------------------------------------------------ one step

    def step(self, x: np.ndarray, forced: int | None = None) -> StepNumbers:
        """Inspect the logits ``x`` (the live llama.cpp buffer, read only) and draw a token."""
        s = self.s
        e = self.buf.exp_buf[: x.size]
        m = float(x.max())
        shift = m
        if _SOFTMAX is not None:
            z = _SOFTMAX(x.size, self.buf.exp_ptr, x.ctypes.data, m)
        else:
            np.subtract(x, np.float32(m), out=e)
            np.exp(e, out=e)
            z = float(e.sum())
        log_z = shift + math.log(z)
        # H = log Z - sum(p * x), with p = e / z
        entropy = max(0.0, log_z - float(np.dot(e, x)) / z)

        # penalties touch only the tokens in the window
        pen_ids = pen_new = None
        log_z_pen = log_z
        if self._counts:
            pen_ids = np.fromiter(self._counts.keys(), dtype=np.int32, count=len(self._counts))
            counts = np.fromiter(self._counts.values(), dtype=np.float32, count=pen_ids.size)
            old = x[pen_ids]
            rp = np.float32(s.repeat_penalty)
            pen_new = np.where(old <= 0, old * rp, old / rp)
            pen_new = (pen_new - counts * np.float32(s.frequency_penalty)
                       - np.float32(s.presence_penalty)).astype(np.float32)
            delta = (np.exp(pen_new.astype(np.float64) - shift).sum()
                     - np.exp(old.astype(np.float64) - shift).sum())
            log_z_pen = shift + math.log(max(z + delta, 1e-300))

        ids, raw = self._subset(x, m, e, z, pen_ids, pen_new, log_z_pen, shift)
        order = np.argsort(-raw, kind="stable")
        ids, raw = ids[order], raw[order]
        k = self.k_display
        cand_ids, cand_logits = ids[:k], raw[:k]
        cand_probs = np.exp(cand_logits.astype(np.float64) - log_z)

        pen = raw
        pen_probs = cand_probs
        if pen_ids is not None:
            pen = raw.copy()
            hit = np.isin(ids, pen_ids)
            if hit.any() and pen_new is not None:
                lookup = dict(zip(pen_ids.tolist(), pen_new.tolist(), strict=True))
                pen[hit] = [lookup[t] for t in ids[hit].tolist()]
            order = np.argsort(-pen, kind="stable")
            ids, pen = ids[order], pen[order]
            pen_probs = np.exp(pen[:k].astype(np.float64) - log_z_pen)
        head = ids[:k].tolist()
        stages: list[Stage] = [Stage(STAGE_PENALTIES, self.labels[STAGE_PENALTIES], self.n_vocab,
                                     tuple(head), tuple(pen_probs.tolist()))]

        if s.greedy:
            stages.append(Stage(STAGE_GREEDY, self.labels[STAGE_GREEDY], 1,
                                (int(ids[0]),), (1.0,)))
            token = int(ids[0]) if forced is None else forced
            final_prob = 1.0 if token == int(ids[0]) else 0.0
        else:
            token, final_prob = self._sample(ids, head, pen, log_z_pen, stages, forced)

        # raw probability and rank of the chosen token
        hit_pos = np.flatnonzero(cand_ids == token)
        if hit_pos.size:
            rank = int(hit_pos[0]) + 1
            logit = float(cand_logits[rank - 1])
        else:
            logit = float(x[token])
            rank = int(np.count_nonzero(x > x[token])) + 1
        return StepNumbers(
            token_id=token,
            prob=math.exp(logit - log_z),
            rank=rank,
            logit=logit,
            log_z=log_z,
            entropy=entropy,
            cand_ids=cand_ids.tolist(),
            cand_logits=cand_logits.tolist(),
            cand_probs=cand_probs.tolist(),
            stages=tuple(stages),
            final_prob=final_prob,
        )

    def _subset(
        self, x: np.ndarray, m: float, e: np.ndarray, z: float,
        pen_ids: np.ndarray | None, pen_new: np.ndarray | None, log_z_pen: float, shift: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids (raw logits) that hold every token a stage could keep or show."""
        s = self.s
        need = self.need + (pen_ids.size if pen_ids is not None else 0)
        full_needed = not s.greedy and s.top_k == 0 and s.top_p >= 1.0 and s.min_p <= 0.0
        if not full_needed:
            for window in _WINDOWS:
                if s.top_k == 0 and not s.greedy and s.top_p >= 1.0:
                    # min-p alone keeps logits >= max_pen + log(min_p): make sure it's inside
                    window = max(window, -math.log(s.min_p) + 1.0 + self._max_drop(m, pen_new))
                mask = self.buf.mask[: x.size]
                np.greater_equal(x, np.float32(m - window), out=mask)
                ids = np.flatnonzero(mask).astype(np.int32)
                if ids.size < need:
                    continue
                if s.top_k == 0 and not s.greedy and s.top_p < 1.0:
                    # the nucleus must lie inside: the subset's mass must reach top-p
                    mass = float(e[ids].sum()) / z
                    if pen_ids is not None and pen_new is not None:
                        mass = self._penalised_mass(ids, x, pen_ids, pen_new, log_z_pen)
                    if mass < s.top_p + 1e-4:
                        continue
                elif ids.size > 4 * need + 256:
                    part = np.argpartition(-x[ids], need)[:need]
                    ids = ids[part]
                break
            else:
                full_needed = True
        if full_needed:
            ids = self.buf.all_ids[: x.size]
        if pen_ids is not None:
            ids = np.union1d(ids, pen_ids).astype(np.int32)
        return ids, x[ids]

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

    def _sample(
        self, ids: np.ndarray, head: list[int], pen: np.ndarray, log_z_pen: float,
        stages: list[Stage], forced: int | None,
    ) -> tuple[int, float]:
        """Run llama.cpp's stages on the sorted candidates; record each stage's outcome.

        The candidates go in sorted, so every stage keeps a prefix of them: a stage's
        distribution is the softmax over its first ``survivors`` entries.
        """
        s = self.s
        buf = self.buf
        k = self.k_display
        if self.top_k is not None:
            n_in = min(ids.size, s.top_k)
            buf.load(ids[:n_in], pen[:n_in], is_sorted=True)
            llama_cpp.llama_sampler_apply(self.top_k, buf.ref)
        elif s.top_p < 1.0:
            # top-k off: top-p over the whole vocabulary, whose normaliser is known exactly
            cum = np.cumsum(np.exp(pen.astype(np.float64) - log_z_pen))
            keep = min(int(np.searchsorted(cum, s.top_p, side="left")) + 1, ids.size)
            buf.load(ids[:keep], pen[:keep], is_sorted=True)
        else:
            buf.load(ids, pen, is_sorted=True)
        after_k = self.n_vocab if self.top_k is None else int(buf.array.size)
        if self.top_p is not None:
            llama_cpp.llama_sampler_apply(self.top_p, buf.ref)
        after_p = int(buf.array.size) if s.top_p < 1.0 else after_k
        if self.min_p is not None:
            llama_cpp.llama_sampler_apply(self.min_p, buf.ref)
        after_m = int(buf.array.size) if self.min_p is not None else after_p
        llama_cpp.llama_sampler_apply(self.temp, buf.ref)
        llama_cpp.llama_sampler_apply(self.dist, buf.ref)  # softmax, then one draw
        n = int(buf.array.size)
        selected = int(buf.array.selected)

        # stage distributions: softmax over each stage's prefix, from one cumulative sum
        top = pen[: min(ids.size, after_k)].astype(np.float64)
        weights = np.exp(top - top[0])
        cum = np.cumsum(weights)
        for name, survivors in ((STAGE_TOP_K, after_k), (STAGE_TOP_P, after_p),
                                (STAGE_MIN_P, after_m)):
            shown = min(k, survivors, weights.size)
            if survivors >= self.n_vocab:
                total = math.exp(log_z_pen - float(pen[0]))  # the whole vocabulary
            else:
                total = float(cum[min(survivors, cum.size) - 1])
            stages.append(Stage(name, self.labels[name], survivors, tuple(head[:shown]),
                                tuple((weights[:shown] / total).tolist())))
        shown = min(k, n)
        stages.append(Stage(STAGE_TEMPERATURE, self.labels[STAGE_TEMPERATURE], n,
                            tuple(head[:shown]), tuple(buf.view["p"][:shown].tolist())))
        if forced is not None:
            pos = np.flatnonzero(buf.view["id"][:n] == forced)
            return forced, float(buf.view["p"][pos[0]]) if pos.size else 0.0
        return int(buf.view["id"][selected]), float(buf.view["p"][selected])
