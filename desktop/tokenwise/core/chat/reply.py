"""Writing one reply into its message: stream it from the engine's worker, report each batch
of steps, save as it goes (a crash loses at most SAVE_INTERVAL_S of it), and save how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tokenwise.core.chat.engine_tasks import (
    EngineSlot,
    PromptReady,
    ReplyEvent,
    ReplyJob,
    StepGate,
    StepsReady,
    StepWaiting,
    stream_reply,
)
from tokenwise.core.chat.listener import STORE_ERROR, ChatListener, error_text
from tokenwise.core.chat.store import ChatStore, Message
from tokenwise.core.i18n import _
from tokenwise.core.interface import GenerationResult
from tokenwise.core.tasks import SerialWorker, Task
from tokenwise.core.trace.records import STOP_CANCELLED, Step

SAVE_INTERVAL_S = 0.5  # a crash loses at most this much of a streamed reply


@dataclass(slots=True)
class Reply:
    """The reply being written: its message, the steps so far, and how much is saved."""

    message: Message
    conversation_id: int
    steps: list[Step] = field(default_factory=list)
    prefix: int = 0  # steps copied from the version a branch started from
    saved: int = 0
    prompt_tokens: int = 0
    last_save: float = 0.0
    first_token_s: float = 0.0  # as measured so far
    tokens_per_second: float = 0.0
    n_ctx: int = 0
    task: Task[ReplyEvent, GenerationResult] | None = None

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.steps)


# the reply, its final message, and an error message if it failed
ReplyEnded = Callable[[Reply, Message, str | None], None]


def dropped_notice(dropped: int, n_ctx: int) -> str:
    return _("{count} earlier message(s) are left out of what the model sees: the "
             "conversation is longer than its {size}-token context. The system prompt is "
             "kept.").format(count=dropped, size=f"{n_ctx:,}")


class ReplyWriter:
    """Writes one reply at a time; ``ended`` hears how each one ended."""

    def __init__(self, *, store: SerialWorker[ChatStore], engine: SerialWorker[EngineSlot],
                 listener: ChatListener, ended: ReplyEnded,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.engine = engine
        self.listener = listener
        self.ended = ended
        self.clock = clock
        self.gate = StepGate()
        self.current: Reply | None = None

    def start(self, message: Message, conversation_id: int, job: ReplyJob,
              prefix: list[Step], n_ctx: int) -> Reply:
        reply = Reply(message, conversation_id, steps=list(prefix), prefix=len(prefix),
                      last_save=self.clock(), n_ctx=n_ctx)
        gate = self.gate
        reply.task = self.engine.stream(
            lambda slot, state: stream_reply(slot, state, job, gate),
            progress=lambda event: self._on_event(reply, event),
            returned=lambda result: self._finish(reply, result.stop_reason,
                                                 result.tokens_per_second, result.first_token_s,
                                                 result.details),
            aborted=lambda: self._finish(reply, STOP_CANCELLED, reply.tokens_per_second,
                                         reply.first_token_s),
            failed=lambda error: self._fail(reply, error_text(error)))
        self.current = reply
        return reply

    def stop(self) -> None:
        """Ask the reply to stop; it ends as usual, with the stop reason "cancelled"."""
        if self.current is not None and self.current.task is not None:
            self.current.task.cancel()

    def abandon(self) -> None:
        """Closing: keep what streamed of an unfinished reply, marked as stopped."""
        reply, self.current = self.current, None
        if reply is not None:
            self._save(reply, complete=False, stop_reason=STOP_CANCELLED,
                       n_tokens=len(reply.steps))

    def _on_event(self, reply: Reply, event: ReplyEvent) -> None:
        if reply is not self.current:
            return
        if isinstance(event, StepsReady):
            reply.steps.extend(event.steps)
            reply.first_token_s = event.first_token_s
            reply.tokens_per_second = event.tokens_per_second
            self.listener.on_steps_arrived(event.steps)
            used = reply.prompt_tokens + len(reply.steps) - reply.prefix
            stats: dict[str, float] = {"context_used": used}
            if event.tokens_per_second > 0:  # the speed so far, while it streams
                stats["tokens_per_second"] = event.tokens_per_second
                stats["first_token_s"] = event.first_token_s
            self.listener.on_stats_changed(stats)
            if self.clock() - reply.last_save >= SAVE_INTERVAL_S:
                self._save(reply)
        elif isinstance(event, PromptReady):
            rendered = event.rendered
            reply.prompt_tokens = len(rendered.token_ids) + reply.prefix
            notice = (dropped_notice(rendered.dropped_messages, reply.n_ctx)
                      if rendered.dropped_messages else rendered.note)
            self.listener.on_prompt_rendered(event.tokens, notice)
            self.listener.on_stats_changed({"context_used": reply.prompt_tokens})
        elif isinstance(event, StepWaiting):
            self.listener.on_step_waiting()

    def _save(self, reply: Reply, *, complete: bool | None = None,
              stop_reason: str | None = None, tokens_per_second: float | None = None,
              first_token_s: float | None = None, n_tokens: int | None = None,
              settings: dict[str, Any] | None = None) -> None:
        """Save the steps not saved yet and the text so far (and how it ended)."""
        new = reply.steps[reply.saved:]
        reply.saved = len(reply.steps)
        reply.last_save = self.clock()
        mid, prompt_tokens, saved, text = (reply.message.id, reply.prompt_tokens, reply.saved,
                                           reply.text)

        def write(store: ChatStore, _state: object) -> None:
            if new:
                store.save_trace(mid, new, prompt_tokens)
            store.update_message(mid, content=text, complete=complete, stop_reason=stop_reason,
                                 tokens_per_second=tokens_per_second,
                                 first_token_s=first_token_s, n_tokens=n_tokens,
                                 settings=settings)

        self.store.submit(write, returned=lambda _none: self.listener.on_reply_saved(mid, saved),
                          failed=lambda error: self.listener.on_error(
                              _(STORE_ERROR).format(error)))

    def _finish(self, reply: Reply, stop_reason: str, tokens_per_second: float,
                first_token_s: float, details: dict[str, object] | None = None) -> None:
        if reply is not self.current:
            return
        self.current = None
        n = len(reply.steps)
        # a remote server's reply: what it honoured and what its numbers are, kept with it
        settings = {**reply.message.settings, "engine": dict(details)} if details else None
        self._save(reply, complete=True, stop_reason=stop_reason,
                   tokens_per_second=tokens_per_second, first_token_s=first_token_s,
                   n_tokens=n, settings=settings)
        self.ended(reply, replace(reply.message, content=reply.text, complete=True,
                                  stop_reason=stop_reason, tokens_per_second=tokens_per_second,
                                  first_token_s=first_token_s, n_tokens=n,
                                  settings=settings or reply.message.settings), None)

    def _fail(self, reply: Reply, error: str) -> None:
        if reply is not self.current:
            return
        self.current = None
        self._save(reply, complete=False)
        self.ended(reply, replace(reply.message, content=reply.text, complete=False), error)
