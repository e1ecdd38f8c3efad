"""The thread adapter around the Engine: one Python thread owns it for its whole life.

llama.cpp contexts are not thread-safe, so every engine call (load, render, tokenize,
generate, close) runs on this one thread, in the order it was asked for. Widgets never call
the engine: they queue a request here and hear back through signals, which Qt delivers on
the GUI thread (queued connections, since the emitter is another thread).

Streaming: the engine yields one Step per token; the worker batches them per ~16 ms before
emitting so that a fast model does not flood the GUI's event queue with one event per token.
Step mode pulls one Step per permit (``step_once``) until ``run_to_end``.
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from tokenwise.core.interface import ChatMessage, GenerationRequest, RenderedPrompt
from tokenwise.core.trace.records import STOP_CANCELLED, Step

EMIT_INTERVAL_S = 0.016  # one batch of steps per frame at most
GIL_SWITCH_INTERVAL_S = 0.0005
EngineFactory = Callable[..., Any]


def default_engine_factory(path: str, **kwargs: Any) -> Any:
    """Import the engine (and llama_cpp) lazily, on the worker thread: keeps start-up fast."""
    from tokenwise.core.engine.local import Engine

    return Engine(path, **kwargs)


@dataclass(slots=True)
class GenerationJob:
    """One reply to generate: the chat to render, plus a reply prefix for a branch."""

    messages: list[ChatMessage]
    settings: Any  # SamplerSettings
    reply_prefix_ids: list[int] = field(default_factory=list)
    forced_first_token: int | None = None
    stop_strings: tuple[str, ...] = ()
    top_k_display: int = 32
    step_mode: bool = False
    job_id: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    job_id: int
    n_tokens: int
    stop_reason: str | None
    tokens_per_second: float
    first_token_s: float
    prompt_tokens: int
    text: str


class EngineWorker(QObject):
    """Queues requests to the engine thread and reports results as signals.

    Signals:
        load_progressed(float): model load progress, 0..1.
        model_loaded(object): ModelInfo of the loaded model.
        model_load_failed(str): a message for the user.
        prompt_rendered(int, object, object): job id, RenderedPrompt, list[Token] of it.
        steps_generated(int, object): job id, list[Step] (a batch, in order).
        generation_finished(int, object): job id, GenerationSummary.
        generation_failed(int, str): job id, a message for the user.
        tokenized(int, object): request id, list[Token].
        step_waiting(int): job id; step mode is waiting for the next permit.
    """

    load_progressed = Signal(float)
    model_loaded = Signal(object)
    model_load_failed = Signal(str)
    prompt_rendered = Signal(int, object, object)
    steps_generated = Signal(int, object)
    generation_finished = Signal(int, object)
    generation_failed = Signal(int, str)
    tokenized = Signal(int, object)
    step_waiting = Signal(int)

    def __init__(
        self, engine_factory: EngineFactory | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._factory = engine_factory or default_engine_factory
        self._queue: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = (
            queue.Queue()
        )
        self._engine: Any = None
        self._ids = itertools.count(1)
        self._jobs_lock = threading.Lock()
        self._jobs: dict[int, GenerationJob] = {}
        self._permits = threading.Semaphore(0)
        self._step_mode = False
        self._closing = threading.Event()
        # The engine thread gives up the GIL during every decode and needs it back at once
        # when the decode returns; with the default 5 ms switch interval, a busy GUI thread
        # would add up to 5 ms to every token.
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=self._run, name="tokenwise-engine", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ requests (GUI thread)

    @property
    def thread_alive(self) -> bool:
        return self._thread.is_alive()

    def load_model(self, path: str, **engine_kwargs: Any) -> None:
        """Close the current model (if any) and load ``path`` on the engine thread."""
        self._put(self._do_load, path, engine_kwargs)

    def generate(self, job: GenerationJob) -> int:
        """Queue a generation; returns its job id (carried by every signal about it)."""
        job.job_id = next(self._ids)
        job.step_mode = job.step_mode or self._step_mode
        with self._jobs_lock:
            self._jobs[job.job_id] = job
        self._put(self._do_generate, job)
        return job.job_id

    def tokenize(self, text: str) -> int:
        request_id = next(self._ids)
        self._put(self._do_tokenize, request_id, text)
        return request_id

    def cancel(self, job_id: int | None = None) -> None:
        """Stop one job (or every queued and running job); the engine checks between tokens."""
        with self._jobs_lock:
            jobs = list(self._jobs.values()) if job_id is None else [
                j for j in self._jobs.values() if j.job_id == job_id
            ]
        for job in jobs:
            job.cancel.set()
        self._permits.release()  # wake a step-mode wait

    def set_step_mode(self, on: bool) -> None:
        self._step_mode = on
        with self._jobs_lock:
            for job in self._jobs.values():
                job.step_mode = on
        if not on:
            self._permits.release()

    def step_once(self) -> None:
        self._permits.release()

    def run_to_end(self) -> None:
        self.set_step_mode(False)

    def close(self, timeout: float = 1.5) -> bool:
        """Cancel everything, close the engine on its own thread, join it. True if joined."""
        self._closing.set()
        self.cancel()
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _put(self, fn: Callable[..., None], *args: Any) -> None:
        if not self._closing.is_set():
            self._queue.put((fn, args))

    # ------------------------------------------------------------ engine thread

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                fn, args = item
                if self._closing.is_set():
                    continue
                fn(*args)
        finally:
            self._close_engine()

    def _close_engine(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.close()

    def _do_load(self, path: str, kwargs: dict[str, Any]) -> None:
        self._close_engine()
        last = [0.0]

        def progress(fraction: float) -> bool:
            if fraction - last[0] >= 0.02 or fraction >= 1.0:
                last[0] = fraction
                self.load_progressed.emit(float(fraction))
            return not self._closing.is_set()

        try:
            self._engine = self._factory(path, progress=progress, **kwargs)
        except Exception as error:  # every failure becomes a message, never a crash
            self.model_load_failed.emit(str(error) or type(error).__name__)
            return
        self.model_loaded.emit(self._engine.info)

    def _do_tokenize(self, request_id: int, text: str) -> None:
        if self._engine is None:
            self.tokenized.emit(request_id, [])
            return
        self.tokenized.emit(request_id, self._engine.tokenize(text, parse_special=True))

    def _do_generate(self, job: GenerationJob) -> None:
        try:
            self._generate(job)
        except RuntimeError as error:
            if self._closing.is_set():
                return  # the window went away while this reply was still being written
            self.generation_failed.emit(job.job_id, str(error) or type(error).__name__)
        except Exception as error:
            self.generation_failed.emit(job.job_id, str(error) or type(error).__name__)
        finally:
            with self._jobs_lock:
                self._jobs.pop(job.job_id, None)

    def _generate(self, job: GenerationJob) -> None:
        engine = self._engine
        if engine is None:
            self.generation_failed.emit(job.job_id, "No model is loaded.")
            return
        while self._permits.acquire(blocking=False):
            pass  # permits left over from an earlier cancel or step
        started = time.perf_counter()
        rendered: RenderedPrompt = engine.render_chat(job.messages)
        tokens = engine.describe(rendered.token_ids)  # the very ids the model reads
        self.prompt_rendered.emit(job.job_id, rendered, tokens)
        prompt_ids = list(rendered.token_ids) + list(job.reply_prefix_ids)
        request = GenerationRequest(
            prompt_ids=prompt_ids,
            settings=job.settings,
            stop_strings=job.stop_strings,
            forced_first_token=job.forced_first_token,
            top_k_display=job.top_k_display,
        )
        steps = engine.generate(request, job.cancel)
        batch: list[Step] = []
        pieces: list[str] = []
        first_at = last_at = 0.0
        last_emit = time.perf_counter()
        n = 0
        stop_reason: str | None = None
        while True:
            if job.step_mode and not self._wait_for_permit(job):
                break
            try:
                step = next(steps)
            except StopIteration:
                break
            now = time.perf_counter()
            if n == 0:
                first_at = now
            last_at = now
            n += 1
            pieces.append(step.text)
            batch.append(step)
            stop_reason = step.stop_reason or stop_reason
            if job.step_mode or now - last_emit >= EMIT_INTERVAL_S or step.stop_reason:
                self.steps_generated.emit(job.job_id, batch)
                batch, last_emit = [], now
        if job.cancel.is_set() and stop_reason is None:
            stop_reason = STOP_CANCELLED
        close = getattr(steps, "close", None)
        if close is not None:
            close()
        if batch:
            self.steps_generated.emit(job.job_id, batch)
        span = last_at - first_at
        tps = (n - 1) / span if n > 1 and span > 0 else 0.0
        first_s = (first_at - started) if n else 0.0
        result = getattr(steps, "result", None)  # the engine's own timings, when it has them
        if result is not None and not job.step_mode:
            tps = result.tokens_per_second or tps
            first_s = result.first_token_s or first_s
        self.generation_finished.emit(job.job_id, GenerationSummary(
            job_id=job.job_id,
            n_tokens=n,
            stop_reason=stop_reason,
            tokens_per_second=tps,
            first_token_s=first_s,
            prompt_tokens=len(prompt_ids),
            text="".join(pieces),
        ))

    def _wait_for_permit(self, job: GenerationJob) -> bool:
        """Step mode: block until a permit, the mode is switched off, or cancel. False: stop."""
        self.step_waiting.emit(job.job_id)
        while job.step_mode and not job.cancel.is_set():
            if self._permits.acquire(timeout=0.05):
                break
        return not job.cancel.is_set()


def chat_messages(system_prompt: str, turns: Sequence[tuple[str, str]]) -> list[ChatMessage]:
    """The messages handed to the chat template: the system prompt (if any) and the turns."""
    out = [ChatMessage("system", system_prompt)] if system_prompt.strip() else []
    out.extend(ChatMessage(role, content) for role, content in turns)
    return out
