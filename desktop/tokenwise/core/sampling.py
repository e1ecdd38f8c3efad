"""Sampler settings, presets, and the stage pipeline in plain numpy.

The engine runs llama.cpp's own stages on the live logits. This module re-runs the same
stages, in the same order and with the same rules, on stored logits: that is what lets a
slider move redraw a step's stage view without running the model (what-if).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

STAGE_PENALTIES = "penalties"
STAGE_TOP_K = "top_k"
STAGE_TOP_P = "top_p"
STAGE_MIN_P = "min_p"
STAGE_TEMPERATURE = "temperature"
STAGE_GREEDY = "greedy"
#: the order llama.cpp applies them in; the last stage is the distribution drawn from
STAGE_ORDER = (STAGE_PENALTIES, STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P, STAGE_TEMPERATURE)
STAGE_TITLES = {
    "raw": "raw",
    STAGE_PENALTIES: "penalties",
    STAGE_TOP_K: "top-k",
    STAGE_TOP_P: "top-p",
    STAGE_MIN_P: "min-p",
    STAGE_TEMPERATURE: "temperature",
    STAGE_GREEDY: "greedy",
}


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    """Everything that shapes the draw of one token. Temperature 0 means greedy."""

    temperature: float = 0.7
    top_k: int = 40  # 0 = off
    top_p: float = 0.95  # 1.0 = off
    min_p: float = 0.05  # 0.0 = off
    repeat_penalty: float = 1.0  # 1.0 = off
    repeat_last_n: int = 64
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None  # None: a new random seed per reply
    max_tokens: int = 512

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    @property
    def penalties_active(self) -> bool:
        return self.repeat_last_n != 0 and (
            self.repeat_penalty != 1.0
            or self.presence_penalty != 0.0
            or self.frequency_penalty != 0.0
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplerSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> SamplerSettings:
        return replace(self, **changes)

    def validate(self) -> None:
        """Raise ValueError with a readable message for out-of-range settings."""
        checks = [
            (self.temperature >= 0, "temperature must be 0 or more"),
            (self.top_k >= 0, "top-k must be 0 (off) or more"),
            (0.0 < self.top_p <= 1.0, "top-p must be in (0, 1]"),
            (0.0 <= self.min_p <= 1.0, "min-p must be in [0, 1]"),
            (self.repeat_penalty > 0, "repeat penalty must be above 0"),
            (self.repeat_last_n >= -1, "repeat window must be -1 (whole context), 0 or more"),
            (self.max_tokens >= 1, "max tokens must be at least 1"),
            (self.seed is None or 0 <= self.seed < 2**32, "seed must be in 0 .. 4294967295"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def stage_labels(self) -> dict[str, str]:
        return {
            STAGE_PENALTIES: _penalty_label(self),
            STAGE_TOP_K: f"top-k {self.top_k}" if self.top_k > 0 else "top-k off",
            STAGE_TOP_P: f"top-p {self.top_p:g}" if self.top_p < 1.0 else "top-p off",
            STAGE_MIN_P: f"min-p {self.min_p:g}" if self.min_p > 0.0 else "min-p off",
            STAGE_TEMPERATURE: f"temperature {self.temperature:g}",
            STAGE_GREEDY: "greedy (temperature 0)",
        }


def _penalty_label(s: SamplerSettings) -> str:
    if not s.penalties_active:
        return "penalties off"
    parts = []
    if s.repeat_penalty != 1.0:
        parts.append(f"repeat {s.repeat_penalty:g}")
    if s.presence_penalty:
        parts.append(f"presence {s.presence_penalty:g}")
    if s.frequency_penalty:
        parts.append(f"frequency {s.frequency_penalty:g}")
    window = "all" if s.repeat_last_n < 0 else str(s.repeat_last_n)
    return f"penalties ({', '.join(parts)}; last {window})"


PRESETS: dict[str, SamplerSettings] = {
    "Greedy": SamplerSettings(temperature=0.0, top_k=0, top_p=1.0, min_p=0.0),
    "Precise": SamplerSettings(temperature=0.3, top_k=20, top_p=0.8, min_p=0.1),
    "Balanced": SamplerSettings(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05),
    "Creative": SamplerSettings(
        temperature=1.1, top_k=100, top_p=0.98, min_p=0.02, repeat_penalty=1.1
    ),
}
DEFAULT_PRESET = "Balanced"


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
