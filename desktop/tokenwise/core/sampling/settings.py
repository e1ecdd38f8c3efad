"""Sampler settings and their named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from tokenwise.core.i18n import N_, TranslatedMapping
from tokenwise.core.sampling.stages import (
    STAGE_GREEDY,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_TEMPERATURE,
    STAGE_TOP_K,
    STAGE_TOP_P,
)


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
#: the presets' names as shown (the keys above are what settings files store)
PRESET_TITLES = TranslatedMapping({"Greedy": N_("Greedy"), "Precise": N_("Precise"),
                                   "Balanced": N_("Balanced"), "Creative": N_("Creative")})
