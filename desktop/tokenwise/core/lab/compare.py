"""Write one prompt with one strategy and measure it on the model's own distribution.

Every per-token log-probability is log P(token | everything before) under the raw
distribution (temperature 1, nothing cut, no penalties), whatever drew the token: columns drawn
with different settings compare fairly, and can be checked by scoring the same tokens again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenwise.core.interface import GenerationRequest, LabEngine
from tokenwise.core.lab.loops import Loop, find_loops
from tokenwise.core.lab.strategies import BEAM, Strategy
from tokenwise.core.trace.beams import BeamResult, BeamStep
from tokenwise.core.trace.records import STOP_CANCELLED, Step

#: done, total (steps or tokens), after each step
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class StrategyResult:
    """One strategy's reply and its measures."""

    strategy: str
    kind: str
    text: str
    token_ids: list[int]
    pieces: list[bytes]
    logprobs: list[float]
    seconds: float
    stop_reason: str
    seed: int | None = None
    steps: list[Step] = field(default_factory=list)  # greedy and sampling: every step
    beam: BeamResult | None = None  # beam search: the whole search

    @property
    def total_logprob(self) -> float:
        return math.fsum(self.logprobs)

    @property
    def perplexity(self) -> float:
        n = len(self.logprobs)
        return math.exp(-self.total_logprob / n) if n else float("nan")

    @property
    def loops(self) -> list[Loop]:
        return find_loops(self.token_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "text": self.text,
            "token_ids": self.token_ids,
            "logprobs": self.logprobs,
            "total_logprob": self.total_logprob,
            "perplexity": self.perplexity,
            "seconds": round(self.seconds, 4),
            "stop_reason": self.stop_reason,
            "seed": self.seed,
            "loops": [{"start": lp.start, "end": lp.end, "period": lp.period,
                       "repeats": lp.repeats} for lp in self.loops],
        }


def run_strategy(
    engine: LabEngine,
    prompt_ids: Sequence[int],
    strategy: Strategy,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> StrategyResult:
    """Write a reply to ``prompt_ids`` with ``strategy`` (on the engine's thread)."""
    if strategy.kind == BEAM:
        return _run_beam(engine, prompt_ids, strategy, cancel, progress)
    assert strategy.sampler is not None
    t0 = time.perf_counter()
    stream = engine.generate(GenerationRequest(list(prompt_ids), strategy.sampler,
                                               top_k_display=16), cancel)
    steps: list[Step] = []
    total = strategy.sampler.max_tokens
    for step in stream:
        steps.append(step)
        if progress is not None:
            progress(len(steps), total)
    result = stream.result
    seconds = time.perf_counter() - t0
    return StrategyResult(
        strategy=strategy.name, kind=strategy.kind,
        text=result.text if result is not None else "".join(s.text for s in steps),
        token_ids=[s.token_id for s in steps], pieces=[s.piece for s in steps],
        logprobs=[s.logit - s.log_z for s in steps], seconds=seconds,
        stop_reason=result.stop_reason if result is not None else STOP_CANCELLED,
        seed=None if strategy.sampler.greedy else (
            result.seed if result is not None else strategy.sampler.seed), steps=steps)


def _run_beam(engine: LabEngine, prompt_ids: Sequence[int], strategy: Strategy,
              cancel: threading.Event | None, progress: Progress | None) -> StrategyResult:
    assert strategy.beam is not None
    total = strategy.beam.max_tokens

    def on_step(step: BeamStep) -> None:
        if progress is not None:
            progress(step.index + 1, total)

    t0 = time.perf_counter()
    search = engine.beam_search(prompt_ids, strategy.beam, cancel, on_step)
    seconds = time.perf_counter() - t0
    best = search.best
    ids = list(best.token_ids) if best is not None else []
    described = engine.describe(ids)
    return StrategyResult(
        strategy=strategy.name, kind=strategy.kind, text=best.text if best else "",
        token_ids=ids, pieces=[t.piece for t in described],
        logprobs=list(best.logprobs) if best else [], seconds=seconds,
        stop_reason=search.stop_reason, beam=search)
