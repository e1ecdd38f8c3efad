"""The lab's work on the engine's thread: one Compare column, one scoring pass.

Work functions for the engine's SerialWorker: each takes the EngineSlot and its task's state,
reports progress as (done, total) and returns a plain result. Cancel is the task's flag,
checked between steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

from tokenwise.core.chat.engine_tasks import EngineSlot
from tokenwise.core.errors import TokenwiseError
from tokenwise.core.i18n import _
from tokenwise.core.interface import ChatMessage, GenerationRequest, LabEngine
from tokenwise.core.lab.compare import StrategyResult, run_strategy
from tokenwise.core.lab.strategies import Strategy
from tokenwise.core.sampling.settings import PRESETS
from tokenwise.core.tasks import TaskState
from tokenwise.core.trace.scores import ScoreResult

GENERATION_PROBE_TOKENS = 32  # tokens generated to time generation beside a scoring pass


def lab_engine(slot: EngineSlot, capability: str) -> LabEngine:
    engine = slot.require()
    caps = engine.info.capabilities
    if not getattr(caps, capability):
        raise TokenwiseError(caps.reason(capability))
    return cast(LabEngine, engine)


def prompt_ids(engine: LabEngine, prompt: str, reserve: int) -> list[int]:
    if not prompt.strip():
        raise TokenwiseError(_("The prompt is empty: write something for the model to answer."))
    ids = engine.render_chat([ChatMessage("user", prompt)]).token_ids
    if len(ids) + reserve > engine.info.n_ctx:
        raise TokenwiseError(_(
            "The prompt has {prompt} tokens and the reply may need {reserve} more; the context "
            "holds {n_ctx}. Shorten the prompt or lower max tokens.").format(
                prompt=f"{len(ids):,}", reserve=f"{reserve:,}", n_ctx=f"{engine.info.n_ctx:,}"))
    return ids


def compare_column(slot: EngineSlot, state: TaskState[tuple[int, int]], prompt: str,
                   strategy: Strategy) -> StrategyResult:
    """One column of the Compare view: the prompt written with ``strategy``."""
    engine = lab_engine(slot, "beam_search" if strategy.beam is not None else "stage_view")
    ids = prompt_ids(engine, prompt, strategy.max_tokens)
    return run_strategy(engine, ids, strategy, state.cancel_event,
                        lambda done, total: state.report((done, total)))


@dataclass(slots=True)
class ScoredText:
    result: ScoreResult
    generation_s_per_token: float  # measured on a short greedy run right after

    @property
    def generation_estimate_s(self) -> float:
        return self.generation_s_per_token * self.result.n_tokens


def score_text(slot: EngineSlot, state: TaskState[tuple[int, int]], *,
               text: str) -> ScoredText:
    """Score a pasted text (after BOS where the model uses one), then time a short greedy
    generation so the pass can be set against writing as many tokens."""
    if not text.strip():
        raise TokenwiseError(_("The text is empty: there is nothing to score."))
    engine = lab_engine(slot, "scoring")
    ids, start = engine.text_for_scoring(text)
    result = engine.score(ids, start, cancel=state.cancel_event,
                          progress=lambda done, total: state.report((done, total)))
    per_token = 0.0
    if not result.cancelled and ids:
        request = GenerationRequest(ids[:max(1, start)], PRESETS["Greedy"].with_(
            max_tokens=GENERATION_PROBE_TOKENS + 1), extra={"ignore_eog": True})
        stream = engine.generate(request, state.cancel_event)
        next(stream, None)  # the first token carries the prompt's evaluation: not timed
        t0 = time.perf_counter()
        count = sum(1 for _ in stream)
        per_token = (time.perf_counter() - t0) / max(1, count)
    return ScoredText(result, per_token)
