"""The chat's flows: send, stream, stop, regenerate, edit, versions, branch, switch chats.

It sits between the widgets (chat view, sidebar, composer, inspector), the engine worker
and the database worker. Nothing here blocks: every engine and store call is queued to its
thread, and the results come back as signals or callbacks on the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from tokenwise.core.settings import AppSettings
from tokenwise.core.trace.records import STOP_CANCELLED, Step
from tokenwise.ui.chat.composer import Composer
from tokenwise.ui.chat.conversations import ConversationList
from tokenwise.ui.chat.view import WINDOW, ChatView
from tokenwise.ui.db_worker import DbWorker
from tokenwise.ui.engine_worker import EngineWorker, GenerationJob, chat_messages
from tokenwise.ui.inspector import InspectorPanel

FRAME_MS = 16  # streamed tokens are drawn at most once per frame
SAVE_INTERVAL_S = 0.5  # a crash loses at most this much of a streamed reply
TITLE_LENGTH = 48


@dataclass(slots=True)
class Generation:
    """The reply being generated."""

    job_id: int
    message: Any  # store.Message (assistant)
    conversation_id: int
    settings: Any  # SamplerSettings
    steps: list[Step] = field(default_factory=list)
    prefix: int = 0  # steps copied from the version a branch started from
    saved: int = 0
    prompt_tokens: int = 0
    last_save: float = 0.0


def sampler_dict(settings: Any) -> dict[str, Any]:
    return dict(settings.to_dict()) if hasattr(settings, "to_dict") else {}


class ChatController(QObject):
    """Runs the conversation flows for the main window.

    Signals:
        model_loaded(object): ModelInfo.
        model_load_failed(str): message.
        busy_changed(bool): a reply started (True) or ended (False).
        stats_changed(dict): tokens_per_second / first_token_s / context_used.
        error_reported(str): a message for the user.
        reply_finished(int): id of the assistant message that finished (saved or saving).
        reply_saved(int, int): message id and steps on disk, after each save of a reply.
        conversation_loaded(int): a conversation is shown.
        conversations_listed(): the sidebar was refreshed.
        traces_loaded(): the visible replies' traces arrived.
    """

    model_loaded = Signal(object)
    model_load_failed = Signal(str)
    busy_changed = Signal(bool)
    stats_changed = Signal(dict)
    error_reported = Signal(str)
    reply_finished = Signal(int)
    reply_saved = Signal(int, int)
    conversation_loaded = Signal(int)
    conversations_listed = Signal()
    traces_loaded = Signal()

    def __init__(self, *, view: ChatView, sidebar: ConversationList, composer: Composer,
                 inspector: InspectorPanel, settings: AppSettings, engine: EngineWorker,
                 db: DbWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.sidebar = sidebar
        self.composer = composer
        self.inspector = inspector
        self.engine = engine
        self.db = db
        self.settings = settings
        self.model_info: Any = None
        self.conversation: Any = None
        self.path: list[Any] = []
        self.generation: Generation | None = None
        self.traces: dict[int, list[Step]] = {}
        self.inspected: int | None = None  # message id shown in the inspector
        self._pending: list[Step] = []
        self._search = ""
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._draw_pending)

        engine.model_loaded.connect(self._on_model_loaded)
        engine.model_load_failed.connect(self.model_load_failed)
        engine.prompt_rendered.connect(self._on_prompt_rendered)
        engine.steps_generated.connect(self._on_steps)
        engine.generation_finished.connect(self._on_finished)
        engine.generation_failed.connect(self._on_failed)
        engine.tokenized.connect(self._on_tokenized)
        self._tokenize_callbacks: dict[int, Callable[[list[Any]], None]] = {}
        db.task_failed.connect(self.error_reported)

        composer.send_requested.connect(self.send)
        composer.stop_requested.connect(self.stop)
        sidebar.conversation_selected.connect(self.open_conversation)
        sidebar.new_requested.connect(self.new_conversation)
        sidebar.rename_requested.connect(self.rename_conversation)
        sidebar.delete_requested.connect(self.delete_conversation)
        sidebar.search_changed.connect(self._on_search)
        self.view.step_clicked.connect(self.inspect_step)
        self.view.regenerate_requested.connect(self.regenerate)
        self.view.edit_submitted.connect(self.edit_and_resend)
        self.view.version_requested.connect(self.switch_version)
        self.view.earlier_requested.connect(self._show_earlier)
        self._connect_inspector()

    def _connect_inspector(self) -> None:
        panel: Any = self.inspector  # the InspectorPanel, or a placeholder without signals
        if not hasattr(panel, "step_selected"):
            return
        panel.step_selected.connect(self._on_inspector_step)
        panel.branch_requested.connect(self.branch)
        panel.step_mode_toggled.connect(self.engine.set_step_mode)
        panel.step_once_requested.connect(self.engine.step_once)
        panel.run_to_end_requested.connect(self.engine.run_to_end)
        if hasattr(panel, "set_sampler_settings"):
            panel.set_sampler_settings(self.settings.sampler)

    def _tokenize_for_inspector(self, text: str, callback: Callable[[list[Any]], None]) -> None:
        """The inspector's playground asks; the engine thread answers with engine.tokenized."""
        self._tokenize_callbacks[self.engine.tokenize(text)] = callback

    def _on_tokenized(self, request_id: int, tokens: list[Any]) -> None:
        callback = self._tokenize_callbacks.pop(request_id, None)
        if callback is not None:
            callback(tokens)

    # ------------------------------------------------------------------ model

    @property
    def n_ctx(self) -> int:
        return int(self.model_info.n_ctx) if self.model_info is not None else 0

    def load_model(self, path: str, settings: AppSettings) -> None:
        self.model_info = None
        self.engine.load_model(path, n_ctx=settings.n_ctx, n_gpu_layers=settings.n_gpu_layers,
                               n_threads=settings.n_threads)

    def _on_model_loaded(self, info: Any) -> None:
        self.model_info = info
        panel = self.inspector
        if hasattr(panel, "set_tokenize_function"):
            panel.set_tokenize_function(self._tokenize_for_inspector)
        if hasattr(panel, "set_vocab_size"):
            panel.set_vocab_size(int(info.vocab_size))
        if hasattr(panel, "set_model_name"):
            panel.set_model_name(str(info.name))
        self.model_loaded.emit(info)

    def sampler_settings(self) -> Any:
        panel = self.inspector
        if hasattr(panel, "sampler_settings"):
            return panel.sampler_settings()
        return self.settings.sampler

    @property
    def model_name(self) -> str:
        return str(self.model_info.name) if self.model_info is not None else ""

    # ------------------------------------------------------------------ conversations

    def refresh_conversations(self) -> None:
        search = self._search
        current = self.conversation.id if self.conversation is not None else None

        def done(items: list[Any]) -> None:
            self.sidebar.set_conversations(items, current)
            self.conversations_listed.emit()

        self.db.submit(lambda store: store.list_conversations(search), done)

    def _on_search(self, text: str) -> None:
        self._search = text
        self.refresh_conversations()

    def new_conversation(self) -> None:
        """A blank chat; it is stored when its first message is sent."""
        self.stop()
        self.conversation = None
        self.path = []
        self.view.clear()
        self.sidebar.select(None)
        self._show_inspector_steps(None, [])
        self.composer.edit.setFocus()

    def open_conversation(self, conv_id: int) -> None:
        if self.generation is not None:
            self.stop()
        started = time.perf_counter()

        def read(store: Any) -> tuple[Any, list[Any]]:
            return store.get_conversation(conv_id), store.active_path(conv_id)

        def done(result: tuple[Any, list[Any]]) -> None:
            self.conversation, self.path = result
            self._show_path()
            self.sidebar.select(conv_id)
            self.last_switch_ms = (time.perf_counter() - started) * 1000
            self.conversation_loaded.emit(conv_id)
            self.load_visible_traces()

        self.db.submit(read, done)

    def _show_path(self, count: int = WINDOW) -> None:
        shown = self.path[-count:]
        self.view.set_messages(shown, hidden_before=len(self.path) - len(shown))
        for message in shown:
            steps = self.traces.get(message.id)
            if steps:
                self.view.set_steps(message.id, steps)
        self._shown = len(shown)

    def _show_earlier(self) -> None:
        self._show_path(getattr(self, "_shown", WINDOW) + WINDOW)
        self.load_visible_traces()

    def load_visible_traces(self) -> None:
        """Fetch the traces of the replies on screen (heatmap, clicks, the inspector)."""
        wanted = [b.message.id for b in self.view.bubbles()
                  if b.message.role == "assistant" and b.message.id not in self.traces
                  and b is not self.view.streaming_bubble]

        def read(store: Any) -> dict[int, list[Step]]:
            return {mid: store.load_trace(mid) for mid in wanted}

        def done(found: dict[int, list[Step]]) -> None:
            self.traces.update(found)
            for mid, steps in found.items():
                self.view.set_steps(mid, steps)
            last = next((m for m in reversed(self.path) if m.role == "assistant"), None)
            if last is not None and self.generation is None:
                self._show_inspector_steps(last, self.traces.get(last.id, []))
            self.traces_loaded.emit()

        self.db.submit(read, done)

    def rename_conversation(self, conv_id: int, title: str) -> None:
        self.db.submit(lambda store: store.rename_conversation(conv_id, title),
                       lambda _r: self._after_rename(conv_id, title))

    def _after_rename(self, conv_id: int, title: str) -> None:
        if self.conversation is not None and self.conversation.id == conv_id:
            self.conversation = replace(self.conversation, title=title)
        self.refresh_conversations()

    def delete_conversation(self, conv_id: int) -> None:
        if self.conversation is not None and self.conversation.id == conv_id:
            self.new_conversation()
        self.db.submit(lambda store: store.delete_conversation(conv_id),
                       lambda _r: self.refresh_conversations())

    def system_prompt(self) -> str:
        return str(self.conversation.system_prompt) if self.conversation is not None else ""

    def set_system_prompt(self, text: str) -> None:
        conv = self.conversation
        if conv is None:
            def create(store: Any) -> Any:
                return store.create_conversation(title="New chat", system_prompt=text,
                                                 model=self.model_name)

            self.db.submit(create, self._adopt_conversation)
            return
        self.conversation = replace(conv, system_prompt=text)
        self.db.submit(lambda store: store.set_system_prompt(conv.id, text))

    def _adopt_conversation(self, conv: Any) -> None:
        self.conversation = conv
        self.refresh_conversations()

    # ------------------------------------------------------------------ sending

    def send(self, text: str) -> None:
        if self.generation is not None or self.model_info is None:
            return
        conv = self.conversation
        parent = self.path[-1].id if self.path else None
        model, settings = self.model_name, self.sampler_settings()
        title = " ".join(text.split())[:TITLE_LENGTH] or "New chat"

        def write(store: Any) -> tuple[Any, Any, Any]:
            c = conv or store.create_conversation(title=title, model=model)
            user = store.add_message(c.id, parent, "user", text, model=model)
            reply = store.add_message(c.id, user.id, "assistant", "", model=model,
                                      settings=sampler_dict(settings), complete=False)
            return c, user, reply

        def done(result: tuple[Any, Any, Any]) -> None:
            c, user, reply = result
            fresh = self.conversation is None
            self.conversation = c
            history = [*self.path, user]
            self.path = [*history, reply]
            self.view.add_message(user)
            self._start(reply, history, settings)
            if fresh:
                self.refresh_conversations()

        self.busy_changed.emit(True)  # at once: a second Enter must not send twice
        self.db.submit(write, done)

    def _start(self, reply: Any, history: list[Any], settings: Any,
               prefix: list[Step] | None = None, forced: int | None = None) -> None:
        prefix = list(prefix or [])
        messages = chat_messages(self.system_prompt(),
                                 [(m.role, m.content) for m in history])
        job = GenerationJob(
            messages=messages, settings=settings,
            reply_prefix_ids=[s.token_id for s in prefix], forced_first_token=forced,
            top_k_display=self.settings.top_k_display,
        )
        job_id = self.engine.generate(job)
        self.generation = Generation(job_id, reply, self.conversation.id, settings,
                                     steps=list(prefix), prefix=len(prefix),
                                     last_save=time.monotonic())
        self.view.begin_reply(reply, prefix)
        self.view.show_notice("")
        self._show_inspector_steps(reply, list(prefix), settings)
        self.busy_changed.emit(True)

    def stop(self) -> None:
        if self.generation is not None:
            self.engine.cancel(self.generation.job_id)

    # ------------------------------------------------------------------ streaming

    def _on_prompt_rendered(self, job_id: int, rendered: Any, tokens: list[Any]) -> None:
        gen = self.generation
        if gen is None or gen.job_id != job_id:
            return
        gen.prompt_tokens = len(rendered.token_ids) + gen.prefix
        if hasattr(self.inspector, "set_prompt_tokens"):
            self.inspector.set_prompt_tokens(tokens)
        if rendered.dropped_messages:
            self.view.show_notice(
                f"{rendered.dropped_messages} earlier message(s) are left out of what the "
                f"model sees: the conversation is longer than its {self.n_ctx:,}-token "
                "context. The system prompt is kept.")
        elif rendered.note:
            self.view.show_notice(rendered.note)
        self.stats_changed.emit({"context_used": gen.prompt_tokens})

    def _on_steps(self, job_id: int, steps: list[Step]) -> None:
        gen = self.generation
        if gen is None or gen.job_id != job_id:
            return
        if gen.prefix:
            for step in steps:
                step.index += gen.prefix
        gen.steps.extend(steps)
        self._pending.extend(steps)
        if not self._frame.isActive():
            self._frame.start()

    def _draw_pending(self) -> None:
        """Once per frame: draw the tokens that arrived, and save every SAVE_INTERVAL_S."""
        gen = self.generation
        steps, self._pending = self._pending, []
        if gen is None or not steps:
            return
        self.view.append_steps(steps)
        if hasattr(self.inspector, "append_steps"):
            self.inspector.append_steps(steps)
        self.stats_changed.emit({"context_used": gen.prompt_tokens + len(gen.steps) - gen.prefix})
        if time.monotonic() - gen.last_save >= SAVE_INTERVAL_S:
            self._save_partial(gen)

    def _save_partial(self, gen: Generation, **final: Any) -> None:
        new = gen.steps[gen.saved:]
        gen.saved = len(gen.steps)
        gen.last_save = time.monotonic()
        mid, prompt_tokens, saved = gen.message.id, gen.prompt_tokens, gen.saved
        text = "".join(s.text for s in gen.steps)

        def write(store: Any) -> None:
            if new:
                store.save_trace(mid, new, prompt_tokens)
            store.update_message(mid, content=text, **final)

        self.db.submit(write, lambda _result: self.reply_saved.emit(mid, saved))

    def _on_finished(self, job_id: int, summary: Any) -> None:
        gen = self.generation
        if gen is None or gen.job_id != job_id:
            return
        self._draw_pending()
        self.generation = None
        stop = summary.stop_reason or STOP_CANCELLED
        n = len(gen.steps)
        final = {"complete": True, "stop_reason": stop,
                 "tokens_per_second": float(summary.tokens_per_second),
                 "first_token_s": float(summary.first_token_s), "n_tokens": n}
        self._save_partial(gen, **final)
        message = replace(gen.message, content="".join(s.text for s in gen.steps), **final)
        self.traces[message.id] = gen.steps
        self.path = [message if m.id == message.id else m for m in self.path]
        if self.conversation is not None and gen.conversation_id == self.conversation.id:
            self.view.finish_reply(message)
        self.stats_changed.emit({"tokens_per_second": summary.tokens_per_second,
                                 "first_token_s": summary.first_token_s})
        self.busy_changed.emit(False)
        self.reply_finished.emit(message.id)

    def _on_failed(self, job_id: int, text: str) -> None:
        gen = self.generation
        if gen is None or gen.job_id != job_id:
            return
        self._draw_pending()
        self.generation = None
        self._save_partial(gen, complete=False)
        message = replace(gen.message, content="".join(s.text for s in gen.steps),
                          complete=False)
        self.view.finish_reply(message)
        self.busy_changed.emit(False)
        self.error_reported.emit(text)

    # ------------------------------------------------------------------ versions

    def _index(self, message_id: int) -> int:
        return next((i for i, m in enumerate(self.path) if m.id == message_id), -1)

    def regenerate_last(self) -> None:
        last = next((m for m in reversed(self.path) if m.role == "assistant"), None)
        if last is not None:
            self.regenerate(last.id)

    def regenerate(self, message_id: int) -> None:
        """A new version of a reply; the old one stays reachable with ‹ ›."""
        k = self._index(message_id)
        if self.generation is not None or k < 1 or self.model_info is None:
            return
        self._new_reply_version(k, self.sampler_settings())

    def _new_reply_version(self, k: int, settings: Any, prefix: list[Step] | None = None,
                           forced: int | None = None) -> None:
        conv, parent = self.conversation, self.path[k - 1]
        history = self.path[:k]
        model = self.model_name

        def write(store: Any) -> Any:
            return store.add_message(conv.id, parent.id, "assistant", "", model=model,
                                     settings=sampler_dict(settings), complete=False)

        def done(reply: Any) -> None:
            self.path = [*history, reply]
            self._show_path()
            self._start(reply, history, settings, prefix, forced)

        self.busy_changed.emit(True)
        self.db.submit(write, done)

    def edit_and_resend(self, message_id: int, text: str) -> None:
        k = self._index(message_id)
        if self.generation is not None or k < 0 or self.model_info is None:
            return
        conv, old = self.conversation, self.path[k]
        history = self.path[:k]
        model, settings = self.model_name, self.sampler_settings()

        def write(store: Any) -> tuple[Any, Any]:
            user = store.add_message(conv.id, old.parent_id, "user", text, model=model)
            reply = store.add_message(conv.id, user.id, "assistant", "", model=model,
                                      settings=sampler_dict(settings), complete=False)
            return user, reply

        def done(result: tuple[Any, Any]) -> None:
            user, reply = result
            self.path = [*history, user, reply]
            self._show_path()
            self._start(reply, [*history, user], settings)

        self.busy_changed.emit(True)
        self.db.submit(write, done)

    def switch_version(self, message_id: int, delta: int) -> None:
        if self.generation is not None or self.conversation is None:
            return
        conv_id = self.conversation.id

        def write(store: Any) -> list[Any]:
            versions = store.versions(message_id)
            index = next(i for i, m in enumerate(versions) if m.id == message_id)
            target = versions[max(0, min(len(versions) - 1, index + delta))]
            store.set_active_version(target.id)
            return list(store.active_path(conv_id))

        def done(path: list[Any]) -> None:
            self.path = path
            self._show_path()
            self.load_visible_traces()

        self.db.submit(write, done)

    def branch(self, step_index: int, token_id: int) -> None:
        """Generate again from step ``step_index`` of the inspected reply, with this token."""
        mid = self.inspected
        k = self._index(mid) if mid is not None else -1
        steps = self.traces.get(mid, []) if mid is not None else []
        if (self.generation is not None or k < 1 or self.model_info is None
                or not 0 <= step_index <= len(steps)):
            return
        prefix = [replace(s) for s in steps[:step_index]]
        self._new_reply_version(k, self.sampler_settings(), prefix, token_id)

    # ------------------------------------------------------------------ inspection

    def _show_inspector_steps(self, message: Any, steps: list[Step],
                              settings: Any = None) -> None:
        self.inspected = message.id if message is not None else None
        panel = self.inspector
        if not hasattr(panel, "set_steps"):
            return
        if settings is None:
            from tokenwise.core.sampling.settings import SamplerSettings

            data = getattr(message, "settings", None) or {}
            settings = SamplerSettings.from_dict(data) if data else self.sampler_settings()
        panel.set_steps(list(steps), settings)

    def inspect_step(self, message_id: int, index: int) -> None:
        """A token was clicked: show its step (and its reply, if another one was shown)."""
        self.view.select_step(message_id, index)
        if message_id != self.inspected:
            if self.generation is not None and self.generation.message.id == message_id:
                steps = self.generation.steps
            else:
                steps = self.traces.get(message_id, [])
            bubble = self.view.bubble(message_id)
            self._show_inspector_steps(bubble.message if bubble else None, steps)
        if hasattr(self.inspector, "select_step"):
            self.inspector.select_step(index)

    def _on_inspector_step(self, index: int) -> None:
        if self.inspected is not None:
            self.view.select_step(self.inspected, index)

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, timeout: float = 1.8) -> None:
        """Cancel, join the engine thread (it closes the engine), save, flush the database."""
        deadline = time.monotonic() + timeout
        if self.generation is not None:
            self.engine.cancel(self.generation.job_id)
        self.engine.close(max(0.1, (deadline - time.monotonic()) * 0.6))
        # deliver what the engine thread emitted before it stopped: the last steps and the
        # finished signal, so that the streamed reply is saved complete with its stop reason
        QCoreApplication.sendPostedEvents()
        self._frame.stop()
        gen = self.generation
        if gen is not None:
            self._draw_pending()
            self.generation = None
            self._save_partial(gen, complete=False, stop_reason=STOP_CANCELLED,
                               n_tokens=len(gen.steps))
        self.db.close(max(0.1, deadline - time.monotonic()))
