"""Step, Candidate and Stage records of one generated reply.

A Step is what the engine yields per generated token. It is kept compact: the raw top-K
candidates plus, per sampler stage, the survivor count and the probabilities of the
stage's first candidates (ids where the stage reordered them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tokenwise.core.i18n import N_, TranslatedMapping

STOP_EOG = "eog"  # the model emitted an end-of-generation token
STOP_MAX_TOKENS = "max_tokens"
STOP_STRING = "stop_string"
STOP_CANCELLED = "cancelled"
STOP_CONTEXT_FULL = "context_full"
STOP_SERVER_CLOSED = "server_closed"  # a remote server closed the stream mid-reply
STOP_REASONS = (STOP_EOG, STOP_MAX_TOKENS, STOP_STRING, STOP_CANCELLED, STOP_CONTEXT_FULL,
                STOP_SERVER_CLOSED)

STOP_REASON_TEXT = TranslatedMapping({
    STOP_EOG: N_("the model wrote its end-of-turn token"),
    STOP_MAX_TOKENS: N_("the maximum number of tokens was reached"),
    STOP_STRING: N_("a stop string appeared"),
    STOP_CANCELLED: N_("stopped by the user"),
    STOP_CONTEXT_FULL: N_("the context window is full"),
    STOP_SERVER_CLOSED: N_("the server closed the connection mid-reply"),
})


class Candidate(NamedTuple):
    """One candidate next token: its id, raw bytes, logit and probability."""

    token_id: int
    piece: bytes
    logit: float
    prob: float

    @property
    def label(self) -> str:
        return piece_label(self.piece)


class Stage(NamedTuple):
    """The distribution after one sampler stage.

    ``ids`` and ``probs`` are the stage's first candidates, most probable first; probs are
    renormalised over the stage's survivors. ``survivors`` counts every token still in play.
    """

    name: str
    label: str
    survivors: int
    ids: tuple[int, ...]
    probs: tuple[float, ...]

    def prob_of(self, token_id: int) -> float:
        try:
            return self.probs[self.ids.index(token_id)]
        except ValueError:
            return 0.0


@dataclass(slots=True)
class Step:
    """One generated token and everything that led to it."""

    index: int
    token_id: int
    piece: bytes
    text: str
    prob: float  # raw probability of the chosen token (softmax over the whole vocabulary)
    rank: int  # 1-based rank of the chosen token in the raw distribution
    logit: float
    log_z: float  # log of the softmax normaliser over the whole vocabulary
    entropy: float  # of the raw distribution, in nats
    candidates: tuple[Candidate, ...]  # raw top-K, most probable first
    stages: tuple[Stage, ...] = ()
    final_prob: float = 1.0  # probability of the chosen token in the distribution it was drawn from
    forced: bool = False  # chosen by the user (branch), not drawn
    stop_reason: str | None = None
    elapsed_ms: float = 0.0  # time of this step (decode + inspection + draw)

    @property
    def label(self) -> str:
        return piece_label(self.piece)

    @property
    def other_mass(self) -> float:
        """Probability of every token outside the stored top-K candidates."""
        return max(0.0, 1.0 - sum(c.prob for c in self.candidates))

    def stage(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name == name:
                return stage
        return None


@dataclass(slots=True)
class Trace:
    """A whole reply: its steps plus what produced them."""

    steps: list[Step] = field(default_factory=list)
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = 0
    stop_reason: str | None = None
    text: str = ""
    tokens_per_second: float = 0.0
    first_token_s: float = 0.0


def piece_label(piece: bytes) -> str:
    """A readable form of a token's bytes: the text, or <0xE5> for a partial UTF-8 byte."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(_byte_label(piece))
    return text.replace("\n", "↵").replace("\t", "⇥")


def _byte_label(piece: bytes) -> Iterable[str]:
    i = 0
    while i < len(piece):
        # keep any whole characters that sit inside a piece with a broken tail
        for j in range(min(len(piece), i + 4), i, -1):
            try:
                yield piece[i:j].decode("utf-8")
                i = j
                break
            except UnicodeDecodeError:
                continue
        else:
            yield f"<0x{piece[i]:02X}>"
            i += 1
