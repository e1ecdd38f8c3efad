"""The chat's work on the engine's thread: load a model, tokenize, write one reply.

These are work functions for the engine's SerialWorker (tokenwise.core.tasks): each takes the
EngineSlot that lives on that thread, and its task's state. ``stream_reply`` renders the chat,
evaluates it and yields what the owner shows: the prompt's tokens once, then the Steps in
batches of at most one per frame (a fast model must not flood the owner with one report per
token), and in step mode a StepWaiting before every token it waits for leave to draw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.interface import (
    ChatEngine,
    ChatMessage,
    EngineFactory,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    RenderedPrompt,
    Token,
)
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.tasks import TaskState
from tokenwise.core.trace.records import STOP_CANCELLED, Step

EMIT_INTERVAL_S = 0.033  # one batch of steps per frame at most, until the window paces it
LOAD_PROGRESS_STEP = 0.02  # report model loading in steps of 2 %


class EngineSlot:
    """The engine a chat uses, replaced by each model load. Lives on the engine's thread:
    the engine is created, used and closed there."""

    def __init__(self, factory: EngineFactory) -> None:
        self.factory = factory
        self.engine: ChatEngine | None = None

    def require(self) -> ChatEngine:
        if self.engine is None:
            raise TokenwiseError("No model is loaded.")
        return self.engine

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()


@dataclass(frozen=True, slots=True)
class EngineOptions:
    n_ctx: int = 4096
    n_gpu_layers: int = -1
    n_threads: int | None = None


def load_model(slot: EngineSlot, state: TaskState[float], path: str,
               options: EngineOptions) -> ModelInfo:
    """Close the current model and load ``path``; reports the load's progress, 0..1."""
    slot.close()
    last = [0.0]

    def progress(fraction: float) -> bool:
        if fraction - last[0] >= LOAD_PROGRESS_STEP or fraction >= 1.0:
            last[0] = fraction
            state.report(float(fraction))
        return not state.cancelled

    slot.engine = slot.factory(path, progress=progress, n_ctx=options.n_ctx,
                               n_gpu_layers=options.n_gpu_layers, n_threads=options.n_threads)
    return slot.engine.info


def tokenize(slot: EngineSlot, _state: TaskState[None], text: str) -> list[Token]:
    """The tokens of ``text`` (special tokens parsed); none while no model is loaded."""
    return [] if slot.engine is None else slot.engine.tokenize(text, parse_special=True)


class StepGate:
    """Step mode: the reply draws one token per permit until the mode is switched off; and
    how often the reply sends its steps (``emit_interval_s``: the window's frame interval).

    Switched and stepped from the owner's thread; waited on by the engine's.
    """

    def __init__(self) -> None:
        self._on = False
        self._permits = threading.Semaphore(0)
        self.emit_interval_s = EMIT_INTERVAL_S  # set from the owner's thread, read per step

    @property
    def step_mode(self) -> bool:
        return self._on

    def set_step_mode(self, on: bool) -> None:
        self._on = on
        if not on:
            self._permits.release()  # wake a waiting reply

    def step_once(self) -> None:
        self._permits.release()

    def forget_permits(self) -> None:
        """Drop permits left over from an earlier reply."""
        while self._permits.acquire(blocking=False):
            pass

    def wait(self, cancel: threading.Event) -> bool:
        """Block until a permit, the end of step mode, or cancel. False: cancelled."""
        while self._on and not cancel.is_set():
            if self._permits.acquire(timeout=0.05):
                break
        return not cancel.is_set()


def chat_messages(system_prompt: str, turns: Sequence[tuple[str, str]]) -> list[ChatMessage]:
    """The messages handed to the chat template: the system prompt (if any) and the turns."""
    out = [ChatMessage("system", system_prompt)] if system_prompt.strip() else []
    out.extend(ChatMessage(role, content) for role, content in turns)
    return out


@dataclass(frozen=True, slots=True)
class ReplyJob:
    """One reply to write: the chat to render, and for a branch the steps it starts with."""

    messages: list[ChatMessage]
    settings: SamplerSettings
    prefix_ids: list[int] = field(default_factory=list)
    forced_first_token: int | None = None
    top_k_display: int = 32
    raw: bool = False  # no chat template: the last message's text is continued as it is


@dataclass(frozen=True, slots=True)
class PromptReady:
    rendered: RenderedPrompt
    tokens: list[Token]  # the very ids the model reads, described


@dataclass(frozen=True, slots=True)
class StepsReady:
    steps: list[Step]
    first_token_s: float  # so far: how the reply ended is known only at the end
    tokens_per_second: float


@dataclass(frozen=True, slots=True)
class StepWaiting:
    """Step mode: the reply waits for leave to draw its next token."""


ReplyEvent = PromptReady | StepsReady | StepWaiting


def stream_reply(slot: EngineSlot, state: TaskState[ReplyEvent], job: ReplyJob,
                 gate: StepGate) -> Generator[ReplyEvent, None, GenerationResult]:
    """Write one reply; the Steps of a branch are numbered after its prefix."""
    engine = slot.require()
    gate.forget_permits()
    started = time.perf_counter()
    if job.raw:
        text = job.messages[-1].content if job.messages else ""
        ids = [t.token_id for t in engine.tokenize(text, add_special=True, parse_special=False)]
        rendered = RenderedPrompt(text, ids)
    else:
        rendered = engine.render_chat(job.messages)
    yield PromptReady(rendered, engine.describe(rendered.token_ids))
    prompt_ids = [*rendered.token_ids, *job.prefix_ids]
    offset = len(job.prefix_ids)
    request = GenerationRequest(prompt_ids=prompt_ids, settings=job.settings,
                                forced_first_token=job.forced_first_token,
                                top_k_display=job.top_k_display)
    stream = engine.generate(request, state.cancel_event)
    batch: list[Step] = []
    pieces: list[str] = []
    first_at = last_at = 0.0
    last_emit = time.perf_counter()
    stepped = False
    stop_reason: str | None = None

    def timings() -> tuple[float, float]:
        n, span = len(pieces), last_at - first_at
        tps = (n - 1) / span if n > 1 and span > 0 else 0.0
        return (first_at - started if n else 0.0), tps

    try:
        while True:
            if gate.step_mode:
                stepped = True
                yield StepWaiting()
                if not gate.wait(state.cancel_event):
                    break
            try:
                step = next(stream)
            except StopIteration:
                break
            now = time.perf_counter()
            if not pieces:
                first_at = now
            last_at = now
            step.index += offset  # a fresh record, not yet seen by any other thread
            pieces.append(step.text)
            batch.append(step)
            stop_reason = step.stop_reason or stop_reason
            if gate.step_mode or now - last_emit >= gate.emit_interval_s or step.stop_reason:
                out, batch, last_emit = batch, [], now
                yield StepsReady(out, *timings())
    finally:
        stream.close()
    if batch:
        yield StepsReady(batch, *timings())
    if state.cancelled and stop_reason is None:
        stop_reason = STOP_CANCELLED
    first_token_s, tps = timings()
    result = stream.result  # the engine's own timings, when it has them
    if result is not None and not stepped:
        tps = result.tokens_per_second or tps
        first_token_s = result.first_token_s or first_token_s
    return GenerationResult(
        stop_reason=stop_reason or STOP_CANCELLED, text="".join(pieces), n_tokens=len(pieces),
        prompt_tokens=len(prompt_ids), reused_tokens=result.reused_tokens if result else 0,
        first_token_s=first_token_s, tokens_per_second=tps,
        seed=result.seed if result else 0, details=dict(result.details) if result else {})
