"""The conversation flows: send, stop, regenerate, edit, versions, branch, titles, switching
and listing conversations. Plain Python, no Qt.

A ConversationFlow holds the open conversation, its active path of message versions and which
reply the inspector shows; its ReplyWriter (tokenwise.core.chat.reply) streams a reply into
its message and saves it as it goes. Nothing here blocks: every store call runs on the store's
worker and every engine call on the engine's (tokenwise.core.tasks), and what happens is
reported to a ChatListener, which the window's adapter draws. Call it from one thread, the one
the workers report to (the GUI thread in the app, the test's own thread with a Mailbox).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from tokenwise.core.chat.engine_tasks import (
    EngineOptions,
    EngineSlot,
    ReplyJob,
    chat_messages,
    load_model,
    tokenize,
)
from tokenwise.core.chat.listener import STORE_ERROR, ChatListener, error_text
from tokenwise.core.chat.reply import Reply, ReplyWriter
from tokenwise.core.chat.store import ChatStore, Conversation, Message, RecordNotFoundError
from tokenwise.core.i18n import _
from tokenwise.core.interface import ChatMessage, ModelInfo, Token
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.settings import AppSettings
from tokenwise.core.tasks import SerialWorker
from tokenwise.core.trace.records import Step

W = TypeVar("W")  # what a store write hands back
TITLE_LENGTH = 48
NEW_TITLE = "New chat"


def conversation_title(first_message: str) -> str:
    """A new conversation is named after its first message: one line, cut short."""
    return " ".join(first_message.split())[:TITLE_LENGTH] or NEW_TITLE


def settings_of(message: Message | None, current: SamplerSettings) -> SamplerSettings:
    """The settings a reply was drawn with (as stored with it); else the current ones."""
    data = message.settings if message is not None else None
    return SamplerSettings.from_dict(data) if data else current


class ConversationFlow:
    """The open conversation and the flows that change it."""

    def __init__(self, *, store: SerialWorker[ChatStore], engine: SerialWorker[EngineSlot],
                 settings: AppSettings, listener: ChatListener,
                 sampler_settings: Callable[[], SamplerSettings] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.listener = listener
        self._sampler_settings = sampler_settings or (lambda: self.settings.sampler)
        self.writer = ReplyWriter(store=store, engine=engine, listener=listener,
                                  ended=self._reply_ended, clock=clock)
        self.model_info: ModelInfo | None = None
        self.conversation: Conversation | None = None
        self.path: list[Message] = []
        self.traces: dict[int, list[Step]] = {}
        self.inspected: int | None = None  # the reply whose steps the inspector shows
        self.search = ""
        # continue the last message as raw text, no chat template (a base model: the tour's
        # Chinese run on Gemma-3-270M)
        self.raw_text = False
        self._preparing = False  # a reply's messages are being written

    # ------------------------------------------------------------------ state

    @property
    def reply(self) -> Reply | None:
        """The reply being written, if any."""
        return self.writer.current

    @property
    def busy(self) -> bool:
        return self.reply is not None or self._preparing

    @property
    def n_ctx(self) -> int:
        return self.model_info.n_ctx if self.model_info is not None else 0

    @property
    def model_name(self) -> str:
        return self.model_info.name if self.model_info is not None else ""

    @property
    def system_prompt(self) -> str:
        return self.conversation.system_prompt if self.conversation is not None else ""

    def sampler_settings(self) -> SamplerSettings:
        return self._sampler_settings()

    def _index(self, message_id: int | None) -> int:
        return next((i for i, m in enumerate(self.path) if m.id == message_id), -1)

    def _store_failed(self, error: Exception) -> None:
        self.listener.on_error(_(STORE_ERROR).format(error))

    def _write(self, work: Callable[[ChatStore], object],
               done: Callable[[], None] | None = None) -> None:
        self.store.submit(lambda store, _state: work(store),
                          returned=lambda _result: done() if done else None,
                          failed=self._store_failed)

    # ------------------------------------------------------------------ the model

    def load_model(self, path: str) -> None:
        self.model_info = None
        options = EngineOptions(n_ctx=self.settings.n_ctx, n_gpu_layers=self.settings.n_gpu_layers,
                                n_threads=self.settings.n_threads)
        self.engine.submit(lambda slot, state: load_model(slot, state, path, options),
                           progress=self.listener.on_load_progressed,
                           returned=self._model_loaded,
                           failed=lambda e: self.listener.on_model_load_failed(error_text(e)))

    def _model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self.listener.on_model_loaded(info)

    def tokenize(self, text: str, done: Callable[[list[Token]], None]) -> None:
        """The tokens of ``text`` as the loaded model reads them (an older request is dropped)."""
        self.engine.submit(lambda slot, state: tokenize(slot, state, text), key="tokenize",
                           returned=done)

    # ------------------------------------------------------------------ conversations

    def report_recovery(self) -> None:
        """Say so if the chat history was damaged at start and a new one begun."""
        def said(kept: Path | None) -> None:
            if kept is not None:
                self.listener.on_error(
                    _("The chat history was damaged or not Tokenwise's; it was kept as {name} "
                      "beside the new one, which starts empty.").format(name=kept.name))

        self.store.submit(lambda store, _state: store.recovered_from, returned=said,
                          failed=self._store_failed)

    def refresh_conversations(self, search: str | None = None) -> None:
        """List the conversations (matching the search); the newest request wins."""
        if search is not None:
            self.search = search
        query = self.search
        current = self.conversation.id if self.conversation is not None else None
        self.store.submit(lambda store, _state: store.list_conversations(query),
                          key="conversations", failed=self._store_failed,
                          returned=lambda items: self.listener.on_conversations_listed(
                              items, current))

    def new_conversation(self) -> None:
        """A blank chat; it is stored when its first message is sent."""
        self.stop()
        self.conversation = None
        self.path = []
        self.listener.on_conversation_cleared()
        self._inspect(None, [])

    def reopen(self, conv_id: int) -> None:
        """At start: open the conversation the user was in, if it still exists."""
        def read(store: ChatStore) -> tuple[Conversation, list[Message]] | None:
            try:
                return store.get_conversation(conv_id), store.active_path(conv_id)
            except RecordNotFoundError:
                return None

        def done(found: tuple[Conversation, list[Message]] | None) -> None:
            if found is not None and self.conversation is None:
                self.conversation, self.path = found
                self.listener.on_conversation_loaded(*found)

        self.store.submit(lambda store, _state: read(store), key="open", returned=done,
                          failed=self._store_failed)

    def continue_reply(self, message_id: int) -> None:
        """A reply cut off (the app was closed or killed, or the user stopped it): write on
        from where it stopped, as a new version that keeps every token it had."""
        k = self._index(message_id)
        steps = self.traces.get(message_id)
        if self._can_start() and k >= 1 and steps:
            message = self.path[k]
            prefix = [s for s in steps if s.stop_reason is None]
            self._new_reply_version(k, settings_of(message, self.sampler_settings()), prefix)

    def open_conversation(self, conv_id: int) -> None:
        self.stop()

        def read(store: ChatStore) -> tuple[Conversation, list[Message]]:
            return store.get_conversation(conv_id), store.active_path(conv_id)

        def done(found: tuple[Conversation, list[Message]]) -> None:
            self.conversation, self.path = found
            self.listener.on_conversation_loaded(*found)

        self.store.submit(lambda store, _state: read(store), key="open", returned=done,
                          failed=self._store_failed)

    def load_traces(self, message_ids: list[int]) -> None:
        """Fetch the traces of these replies; then the inspector shows the last reply."""
        wanted = [mid for mid in message_ids if mid not in self.traces]

        def done(found: dict[int, list[Step]]) -> None:
            self.traces.update(found)
            last = next((m for m in reversed(self.path) if m.role == "assistant"), None)
            if last is not None and self.reply is None:
                self._inspect(last, self.traces.get(last.id, []))
            self.listener.on_traces_loaded(found)

        self.store.submit(lambda store, _state: {mid: store.load_trace(mid) for mid in wanted},
                          returned=done, failed=self._store_failed)

    def rename_conversation(self, conv_id: int, title: str) -> None:
        def done() -> None:
            if self.conversation is not None and self.conversation.id == conv_id:
                self.conversation = replace(self.conversation, title=title)
            self.refresh_conversations()

        self._write(lambda store: store.rename_conversation(conv_id, title), done)

    def delete_conversation(self, conv_id: int) -> None:
        if self.conversation is not None and self.conversation.id == conv_id:
            self.new_conversation()
        self._write(lambda store: store.delete_conversation(conv_id),
                    self.refresh_conversations)

    def set_system_prompt(self, text: str) -> None:
        conv = self.conversation
        if conv is None:  # the chat is stored now, with its instructions
            model = self.model_name
            self.store.submit(
                lambda store, _state: store.create_conversation(
                    title=NEW_TITLE, system_prompt=text, model=model),
                returned=self._adopt, failed=self._store_failed)
            return
        self.conversation = replace(conv, system_prompt=text)
        self._write(lambda store: store.set_system_prompt(conv.id, text))

    def _adopt(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.refresh_conversations()

    # ------------------------------------------------------------------ writing a reply

    def _can_start(self) -> bool:
        return not self.busy and self.model_info is not None

    def _prepare(self, write: Callable[[ChatStore], W], done: Callable[[W], None]) -> None:
        """Write a reply's messages; then ``done`` starts it. Busy from now on."""
        self._preparing = True
        self.listener.on_busy_changed(True)  # at once: a second Enter must not send twice

        def written(messages: W) -> None:
            self._preparing = False
            done(messages)

        def failed(error: Exception) -> None:
            self._preparing = False
            self.listener.on_busy_changed(False)
            self._store_failed(error)

        self.store.submit(lambda store, _state: write(store), returned=written, failed=failed)

    def send(self, text: str) -> None:
        if not self._can_start():
            return
        conv = self.conversation
        parent = self.path[-1].id if self.path else None
        model, settings = self.model_name, self.sampler_settings()
        title = conversation_title(text)

        def write(store: ChatStore) -> tuple[Conversation, Message, Message]:
            c = conv or store.create_conversation(title=title, model=model)
            user = store.add_message(c.id, parent, "user", text, model=model)
            reply = store.add_message(c.id, user.id, "assistant", "", model=model,
                                      settings=settings.to_dict(), complete=False)
            return c, user, reply

        def done(written: tuple[Conversation, Message, Message]) -> None:
            conversation, user, reply = written
            fresh = self.conversation is None
            self.conversation = conversation
            history = [*self.path, user]
            self.path = [*history, reply]
            self.listener.on_message_added(user)
            self._start(reply, history, settings)
            if fresh:
                self.refresh_conversations()

        self._prepare(write, done)

    def regenerate_last(self) -> None:
        last = next((m for m in reversed(self.path) if m.role == "assistant"), None)
        if last is not None:
            self.regenerate(last.id)

    def regenerate(self, message_id: int) -> None:
        """A new version of a reply; the old one stays reachable among the versions."""
        k = self._index(message_id)
        if self._can_start() and k >= 1:
            self._new_reply_version(k, self.sampler_settings())

    def branch(self, step_index: int, token_id: int) -> None:
        """Write the inspected reply again from step ``step_index``, drawing ``token_id``."""
        mid = self.inspected
        k = self._index(mid)
        steps = self.traces.get(mid, []) if mid is not None else []
        if self._can_start() and k >= 1 and 0 <= step_index <= len(steps):
            self._new_reply_version(k, self.sampler_settings(), steps[:step_index], token_id)

    def _new_reply_version(self, k: int, settings: SamplerSettings,
                           prefix: list[Step] | None = None, forced: int | None = None) -> None:
        conv, parent, history = self.conversation, self.path[k - 1], self.path[:k]
        model = self.model_name
        assert conv is not None

        def write(store: ChatStore) -> Message:
            return store.add_message(conv.id, parent.id, "assistant", "", model=model,
                                     settings=settings.to_dict(), complete=False)

        def done(reply: Message) -> None:
            self.path = [*history, reply]
            self.listener.on_path_changed(self.path, False)
            self._start(reply, history, settings, list(prefix or []), forced)

        self._prepare(write, done)

    def last_reply(self) -> tuple[list[ChatMessage], list[int], float] | None:
        """The chat up to the last reply, the reply's tokens and its seconds per token (for
        scoring the reply after its own prompt); None without a finished, traced reply."""
        k = next((i for i in range(len(self.path) - 1, -1, -1)
                  if self.path[i].role == "assistant"), None)
        if k is None or self.path[k].id not in self.traces:
            return None
        reply = self.path[k]
        messages = chat_messages(self.system_prompt,
                                 [(m.role, m.content) for m in self.path[:k]])
        rate = reply.tokens_per_second
        return (messages, [s.token_id for s in self.traces[reply.id]],
                1.0 / rate if rate > 0 else 0.0)

    def add_reply_version(self, prompt: str, text: str, steps: list[Step],
                          settings: dict[str, object]) -> bool:
        """A reply written elsewhere (a beam search's hypothesis) as a new version of the
        reply to the last user message, when that message is ``prompt``; False otherwise."""
        conv = self.conversation
        k = next((i for i in range(len(self.path) - 1, -1, -1)
                  if self.path[i].role == "user"), None)
        if (conv is None or k is None or self.busy
                or self.path[k].content.strip() != prompt.strip()):
            return False
        parent, history, model = self.path[k], self.path[:k + 1], self.model_name

        def write(store: ChatStore) -> Message:
            reply = store.add_message(conv.id, parent.id, "assistant", text, model=model,
                                      settings=dict(settings))
            store.save_trace(reply.id, steps)
            return reply

        def done(reply: Message) -> None:
            self.traces[reply.id] = steps
            self.path = [*history, reply]
            self.listener.on_path_changed(self.path, False)

        self.store.submit(lambda store, _state: write(store), returned=done,
                          failed=self._store_failed)
        return True

    def edit_and_resend(self, message_id: int, text: str) -> None:
        """A new version of a user message, and a reply to it."""
        k = self._index(message_id)
        if not self._can_start() or k < 0 or self.conversation is None:
            return
        conv, old, history = self.conversation, self.path[k], self.path[:k]
        model, settings = self.model_name, self.sampler_settings()

        def write(store: ChatStore) -> tuple[Message, Message]:
            user = store.add_message(conv.id, old.parent_id, "user", text, model=model)
            reply = store.add_message(conv.id, user.id, "assistant", "", model=model,
                                      settings=settings.to_dict(), complete=False)
            return user, reply

        def done(written: tuple[Message, Message]) -> None:
            user, reply = written
            self.path = [*history, user, reply]
            self.listener.on_path_changed(self.path, False)
            self._start(reply, [*history, user], settings)

        self._prepare(write, done)

    def switch_version(self, message_id: int, delta: int) -> None:
        """Show the version ``delta`` away from this message (with its own later path)."""
        if self.busy or self.conversation is None:
            return
        conv_id = self.conversation.id

        def write(store: ChatStore) -> list[Message]:
            versions = store.versions(message_id)
            index = next(i for i, m in enumerate(versions) if m.id == message_id)
            target = versions[max(0, min(len(versions) - 1, index + delta))]
            store.set_active_version(target.id)
            return store.active_path(conv_id)

        def done(path: list[Message]) -> None:
            self.path = path
            self.listener.on_path_changed(path, True)

        self.store.submit(lambda store, _state: write(store), returned=done,
                          failed=self._store_failed)

    def _start(self, message: Message, history: list[Message], settings: SamplerSettings,
               prefix: list[Step] | None = None, forced: int | None = None) -> None:
        assert self.conversation is not None
        prefix = prefix or []
        job = ReplyJob(
            messages=chat_messages(self.system_prompt, [(m.role, m.content) for m in history]),
            settings=settings, prefix_ids=[s.token_id for s in prefix],
            forced_first_token=forced, top_k_display=self.settings.top_k_display,
            raw=self.raw_text)
        self.writer.start(message, self.conversation.id, job, prefix, self.n_ctx)
        self.listener.on_reply_started(message, list(prefix))
        self._inspect(message, list(prefix), settings)
        self.listener.on_busy_changed(True)

    def _reply_ended(self, reply: Reply, message: Message, error: str | None) -> None:
        self.listener.on_busy_changed(False)
        if error is not None:
            self.listener.on_reply_failed(message, error)
            return
        self.traces[message.id] = reply.steps
        self.path = [message if m.id == message.id else m for m in self.path]
        self.listener.on_stats_changed({"tokens_per_second": message.tokens_per_second,
                                        "first_token_s": message.first_token_s})
        in_view = self.conversation is not None and reply.conversation_id == self.conversation.id
        self.listener.on_reply_finished(message, in_view)

    def stop(self) -> None:
        self.writer.stop()

    def abandon_reply(self) -> None:
        """Closing: keep what streamed of an unfinished reply, marked as stopped."""
        self.writer.abandon()

    def set_step_mode(self, on: bool) -> None:
        self.writer.gate.set_step_mode(on)

    def step_once(self) -> None:
        self.writer.gate.step_once()

    def set_stream_interval(self, seconds: float) -> None:
        """How often a streaming reply sends its steps (the window's frame interval)."""
        self.writer.gate.emit_interval_s = seconds

    def run_to_end(self) -> None:
        self.writer.gate.set_step_mode(False)

    # ------------------------------------------------------------------ inspection

    def _inspect(self, message: Message | None, steps: list[Step],
                 settings: SamplerSettings | None = None) -> None:
        self.inspected = message.id if message is not None else None
        settings = settings or settings_of(message, self.sampler_settings())
        self.listener.on_inspection_changed(self.inspected, list(steps), settings)

    def inspect(self, message_id: int) -> None:
        """Show this reply's steps in the inspector (a token of it was clicked)."""
        if message_id == self.inspected:
            return
        reply = self.reply
        if reply is not None and reply.message.id == message_id:
            self._inspect(reply.message, reply.steps)
            return
        k = self._index(message_id)
        self._inspect(self.path[k] if k >= 0 else None, self.traces.get(message_id, []))
