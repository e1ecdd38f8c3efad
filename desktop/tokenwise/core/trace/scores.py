"""The record of scoring a text (teacher forcing): for every token, P(token | everything
before it), its rank, the entropy and the best alternatives; then the text's perplexity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tokenwise.core.trace.records import Candidate, piece_label


@dataclass(frozen=True, slots=True)
class ScoredToken:
    index: int  # position in the scored text (0: its first scored token)
    token_id: int
    piece: bytes
    logprob: float  # log P(token | everything before), raw distribution
    rank: int  # 1-based, in the raw distribution
    entropy: float  # of the distribution the token was read from, in nats
    candidates: tuple[Candidate, ...]  # raw top-K, most probable first

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)

    @property
    def label(self) -> str:
        return piece_label(self.piece)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "token_id": self.token_id, "piece": self.label,
            "piece_bytes": self.piece.hex(), "prob": self.prob, "logprob": self.logprob,
            "rank": self.rank, "entropy": self.entropy,
            "candidates": [{"token_id": c.token_id, "piece": c.label, "prob": c.prob}
                           for c in self.candidates],
        }


@dataclass(slots=True)
class ScoreResult:
    context_tokens: int  # tokens before the first scored one (BOS, or a reply's prompt)
    tokens: list[ScoredToken] = field(default_factory=list)
    seconds: float = 0.0  # the whole pass
    decode_seconds: float = 0.0  # of which llama_decode
    unscored_first: bool = False  # a text without BOS: its first token has nothing before it
    cancelled: bool = False

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def total_logprob(self) -> float:
        return math.fsum(t.logprob for t in self.tokens)

    @property
    def perplexity(self) -> float:
        n = len(self.tokens)
        return math.exp(-self.total_logprob / n) if n else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"n_tokens": self.n_tokens, "perplexity": self.perplexity,
                "total_logprob": self.total_logprob, "seconds": round(self.seconds, 4),
                "context_tokens": self.context_tokens,
                "unscored_first": self.unscored_first}
