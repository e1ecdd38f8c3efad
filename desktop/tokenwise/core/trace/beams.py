"""The record of a beam search: per step, every live beam's raw distribution, the extensions
considered, and which were kept, pruned or ended; then the finished hypotheses.

A beam search has no sampler stages: each step reads the model's raw distribution and keeps
the extensions with the highest cumulative log-probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tokenwise.core.i18n import _
from tokenwise.core.trace.records import Candidate

MAX_BEAM_WIDTH = 8

KEPT = "kept"  # the extension became a live beam of the next step
PRUNED = "pruned"  # considered and dropped: W better extensions were kept
ENDED = "ended"  # the extension was an end token: a finished hypothesis

BEAM_STOP_EARLY = "early_stop"  # W hypotheses ended and no live beam could beat them
BEAM_STOP_ALL_ENDED = "all_ended"
BEAM_STOP_MAX_TOKENS = "max_tokens"
BEAM_STOP_CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class BeamSettings:
    """How a beam search runs. ``length_penalty`` is alpha in
    score = total log-probability / (generated tokens, end token included) ** alpha."""

    width: int = 4
    max_tokens: int = 64
    length_penalty: float = 1.0
    top_k_display: int = 8
    mask_end: bool = False  # never take an end token (fixed-length searches)
    early_stopping: bool = True

    def validate(self) -> None:
        if not 1 <= self.width <= MAX_BEAM_WIDTH:
            raise ValueError(_("a beam width of {width} is not supported: choose 1 to {most}")
                             .format(width=self.width, most=MAX_BEAM_WIDTH))
        if self.max_tokens < 1:
            raise ValueError(_("max tokens must be at least 1"))
        if not math.isfinite(self.length_penalty) or not -2.0 <= self.length_penalty <= 4.0:
            raise ValueError(_("the length penalty (alpha) must be between -2 and 4"))


def beam_score(total_logprob: float, length: int, alpha: float) -> float:
    """The length-penalised score of a hypothesis of ``length`` generated tokens."""
    divisor: float = float(max(1, length)) ** alpha
    return total_logprob / divisor


@dataclass(frozen=True, slots=True)
class BeamRow:
    """One live beam's raw distribution at one step."""

    beam: int
    cumulative: float  # the beam's log-probability before this step
    log_z: float
    entropy: float
    candidates: tuple[Candidate, ...]  # raw top-K, most probable first


@dataclass(frozen=True, slots=True)
class BeamExtension:
    """A beam extended by one token, as considered at one step."""

    parent: int  # the beam it extends (0: the prompt)
    token_id: int
    piece: bytes
    logprob: float  # log P(token | the parent's text)
    cumulative: float  # the parent's cumulative log-probability plus logprob
    status: str  # KEPT, PRUNED or ENDED
    beam: int = -1  # the id it got as a beam or hypothesis (-1: pruned)


@dataclass(frozen=True, slots=True)
class BeamStep:
    index: int
    rows: tuple[BeamRow, ...]
    extensions: tuple[BeamExtension, ...]  # best cumulative first
    elapsed_ms: float = 0.0  # the whole step: reading the rows, choosing, decoding
    decode_ms: float = 0.0  # of which the batched llama_decode


@dataclass(frozen=True, slots=True)
class BeamHypothesis:
    """A finished candidate reply: ended by its end token, or cut at the token limit."""

    beam: int
    token_ids: tuple[int, ...]  # the end token included when ``ended``
    logprobs: tuple[float, ...]
    total_logprob: float
    score: float
    ended: bool
    text: str = ""

    @property
    def perplexity(self) -> float:
        n = len(self.logprobs)
        return math.exp(-self.total_logprob / n) if n else float("nan")


@dataclass(slots=True)
class BeamResult:
    settings: BeamSettings
    prompt_tokens: int
    hypotheses: list[BeamHypothesis] = field(default_factory=list)  # best score first
    steps: list[BeamStep] = field(default_factory=list)
    stop_reason: str = BEAM_STOP_MAX_TOKENS
    seconds: float = 0.0
    decode_seconds: float = 0.0  # of which llama_decode

    @property
    def best(self) -> BeamHypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None

    def lineage(self) -> dict[int, int]:
        """Beam id -> the id of the beam it extends (0 is the prompt)."""
        return {e.beam: e.parent for step in self.steps for e in step.extensions if e.beam >= 0}
