"""The stage pipeline in plain numpy.

The engine runs llama.cpp's own stages on the live logits. This module re-runs the same
stages, in the same order and with the same rules, on stored logits: that is what lets a
slider move redraw a step's stage view without running the model (what-if).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.sampling.stages import (
    STAGE_GREEDY,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_TEMPERATURE,
    STAGE_TOP_K,
    STAGE_TOP_P,
)


@dataclass(frozen=True, slots=True)
class StageResult:
    """One stage's outcome on a candidate list: survivors, in order, with their probabilities."""

    name: str
    label: str
    ids: np.ndarray  # int32, most probable first
    logits: np.ndarray  # float32, as the next stage sees them
    probs: np.ndarray  # float64, renormalised over these survivors

    @property
    def survivors(self) -> int:
        return int(self.ids.size)


def softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max()
    np.exp(x, out=x)
    x /= x.sum()
    return x


def penalize(
    ids: np.ndarray, logits: np.ndarray, history: Sequence[int], s: SamplerSettings
) -> np.ndarray:
    """llama.cpp's repetition / frequency / presence penalties, on a copy of ``logits``."""
    out = logits.astype(np.float32, copy=True)
    if not s.penalties_active or not history:
        return out
    window = list(history) if s.repeat_last_n < 0 else list(history)[-s.repeat_last_n:]
    if not window:
        return out
    seen, counts = np.unique(np.asarray(window, dtype=np.int64), return_counts=True)
    pos = np.searchsorted(seen, ids)
    pos[pos >= seen.size] = 0
    hit = seen[pos] == ids
    if not hit.any():
        return out
    x = out[hit]
    c = counts[pos[hit]].astype(np.float32)
    x = np.where(x <= 0, x * np.float32(s.repeat_penalty), x / np.float32(s.repeat_penalty))
    x = x - c * np.float32(s.frequency_penalty) - np.float32(s.presence_penalty)
    out[hit] = x.astype(np.float32)
    return out


def run_stages(
    ids: np.ndarray,
    logits: np.ndarray,
    settings: SamplerSettings,
    history: Sequence[int] = (),
) -> list[StageResult]:
    """Apply the stages in llama.cpp's order to a candidate list; return each stage's result.

    ``ids`` / ``logits`` may be the whole vocabulary or only its top-N; with top-N the
    results are exact as long as every survivor of top-k lies within it (see
    :func:`approximation_note`).
    """
    labels = settings.stage_labels()
    ids = np.asarray(ids, dtype=np.int32)
    x = penalize(ids, np.asarray(logits, dtype=np.float32), history, settings)
    order = np.argsort(-x, kind="stable")
    ids, x = ids[order], x[order]
    results = [StageResult(STAGE_PENALTIES, labels[STAGE_PENALTIES], ids, x, softmax(x))]
    if settings.greedy:
        results.append(StageResult(STAGE_GREEDY, labels[STAGE_GREEDY], ids[:1], x[:1],
                                   np.ones(1)))
        return results
    if settings.top_k > 0:
        ids, x = ids[: settings.top_k], x[: settings.top_k]
    results.append(StageResult(STAGE_TOP_K, labels[STAGE_TOP_K], ids, x, softmax(x)))
    if settings.top_p < 1.0:
        p = softmax(x)
        cum = np.cumsum(p)
        # the smallest prefix whose mass reaches top_p (llama.cpp: cum_sum >= p, keep >= 1)
        keep = int(np.searchsorted(cum, settings.top_p, side="left")) + 1
        keep = max(1, min(keep, x.size))
        ids, x = ids[:keep], x[:keep]
    results.append(StageResult(STAGE_TOP_P, labels[STAGE_TOP_P], ids, x, softmax(x)))
    if settings.min_p > 0.0 and x.size:
        min_logit = float(x[0]) + math.log(settings.min_p)
        keep = max(1, int(np.count_nonzero(x >= min_logit)))
        ids, x = ids[:keep], x[:keep]
    results.append(StageResult(STAGE_MIN_P, labels[STAGE_MIN_P], ids, x, softmax(x)))
    xt = (x / np.float32(settings.temperature)).astype(np.float32)
    results.append(StageResult(STAGE_TEMPERATURE, labels[STAGE_TEMPERATURE], ids, xt,
                               softmax(xt)))
    return results


def approximation_note(
    settings: SamplerSettings, stored: int, vocab_size: int, stored_mass: float
) -> str | None:
    """Say how far a what-if on the top-``stored`` logits can differ from the full vocabulary."""
    if stored >= vocab_size:
        return None
    if settings.greedy or 0 < settings.top_k <= stored:
        return None
    return (
        f"Approximate: top-k is {'off' if settings.top_k == 0 else settings.top_k}, but only the "
        f"top {stored} of {vocab_size:,} tokens were stored; they held "
        f"{stored_mass:.1%} of the probability, so later stages may differ by up to "
        f"{1.0 - stored_mass:.1%}."
    )
