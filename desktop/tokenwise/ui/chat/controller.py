"""The chat widgets' adapter to the conversation flows in the core.

User actions from the chat view, the sidebar, the composer and the inspector go to the
ConversationFlow (tokenwise.core.chat.conversation); what it reports is drawn here and
re-emitted as signals for the main window. No domain rule lives here: only which widget shows
what, and streamed tokens drawn at most once per frame (frames paced by ui.chat.pacing).
"""

from __future__ import annotations

import contextlib
import time

from PySide6.QtCore import QObject, QTimer, Signal

from tokenwise.core.chat.conversation import ConversationFlow
from tokenwise.core.chat.engine_tasks import EngineSlot
from tokenwise.core.chat.listener import ChatListener
from tokenwise.core.chat.store import ChatStore, Conversation, Message
from tokenwise.core.engine import preflight
from tokenwise.core.interface import ModelInfo, Token
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.settings import AppSettings, save_settings
from tokenwise.core.tasks import SerialWorker
from tokenwise.core.trace.records import Step
from tokenwise.ui.chat.composer import Composer
from tokenwise.ui.chat.conversations import ConversationList
from tokenwise.ui.chat.pacing import FramePacer
from tokenwise.ui.chat.view import WINDOW, ChatView
from tokenwise.ui.inspector import InspectorPanel

INSPECTOR_FRAMES = 10  # the inspector's live views are redrawn every this many frames
STATS_MS = 250  # the status bar follows a streaming reply at most this often
_STREAM_STATS = {"context_used", "tokens_per_second", "first_token_s"}


class ChatController(QObject, ChatListener):
    """Wires the chat widgets to a ConversationFlow and draws what it reports.

    Signals:
        load_progressed(float): model load progress, 0..1.
        model_loaded(object): ModelInfo.
        model_load_failed(str): message.
        busy_changed(bool): a reply started (True) or ended (False).
        stats_changed(dict): tokens_per_second / first_token_s / context_used.
        error_reported(str): a message for the user.
        reply_finished(int): id of the assistant message that finished (saved or saving).
        reply_saved(int, int): message id and steps on disk, after each save of a reply.
        step_waiting(): step mode waits for the next step to be asked for.
        conversation_loaded(int): a conversation is shown.
        conversations_listed(): the sidebar was refreshed.
        traces_loaded(): the visible replies' traces arrived.
    """

    load_progressed = Signal(float)
    model_loaded = Signal(object)
    model_load_failed = Signal(str)
    busy_changed = Signal(bool)
    stats_changed = Signal(dict)
    error_reported = Signal(str)
    reply_finished = Signal(int)
    reply_saved = Signal(int, int)
    step_waiting = Signal()
    conversation_loaded = Signal(int)
    conversations_listed = Signal()
    traces_loaded = Signal()

    def __init__(self, *, view: ChatView, sidebar: ConversationList, composer: Composer,
                 inspector: InspectorPanel, settings: AppSettings,
                 engine: SerialWorker[EngineSlot], db: SerialWorker[ChatStore],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.sidebar = sidebar
        self.composer = composer
        self.inspector = inspector
        self.engine = engine
        self.db = db
        self.flow = ConversationFlow(store=db, engine=engine, settings=settings, listener=self,
                                     sampler_settings=inspector.sampler_settings)
        self.last_switch_ms = 0.0
        self._switch_started = 0.0
        self._shown = WINDOW
        self._pending: list[Step] = []
        self._pacer = FramePacer()
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.timeout.connect(self._end_frame)
        self._stats: dict[str, float] = {}
        self._stats_timer = QTimer(self)
        self._stats_timer.setSingleShot(True)
        self._stats_timer.setInterval(STATS_MS)
        self._stats_timer.timeout.connect(self._stats_tick)

        flow = self.flow
        composer.send_requested.connect(flow.send)
        composer.stop_requested.connect(flow.stop)
        sidebar.conversation_selected.connect(self.open_conversation)
        sidebar.new_requested.connect(self.new_conversation)
        sidebar.rename_requested.connect(flow.rename_conversation)
        sidebar.delete_requested.connect(flow.delete_conversation)
        sidebar.search_changed.connect(flow.refresh_conversations)
        view.step_clicked.connect(self.inspect_step)
        view.regenerate_requested.connect(flow.regenerate)
        view.continue_requested.connect(flow.continue_reply)
        view.edit_submitted.connect(flow.edit_and_resend)
        view.version_requested.connect(flow.switch_version)
        view.earlier_requested.connect(self._show_earlier)
        inspector.step_selected.connect(self._on_inspector_step)
        inspector.branch_requested.connect(flow.branch)
        inspector.step_mode_toggled.connect(flow.set_step_mode)
        inspector.step_once_requested.connect(flow.step_once)
        inspector.run_to_end_requested.connect(flow.run_to_end)
        inspector.set_sampler_settings(settings.sampler)

    # ------------------------------------------------------------------ user actions

    @property
    def settings(self) -> AppSettings:
        return self.flow.settings

    @settings.setter
    def settings(self, settings: AppSettings) -> None:
        self.flow.settings = settings

    def load_model(self, path: str) -> None:
        self.flow.load_model(path)

    def send(self, text: str) -> None:
        self.flow.send(text)

    def new_conversation(self) -> None:
        self.flow.new_conversation()

    def open_conversation(self, conv_id: int) -> None:
        self._switch_started = time.perf_counter()
        self.flow.open_conversation(conv_id)

    def inspect_step(self, message_id: int, index: int) -> None:
        """A token was clicked: show its step (and its reply, if another one was shown)."""
        self.view.select_step(message_id, index)
        self.flow.inspect(message_id)
        self.inspector.select_step(index)

    def _on_inspector_step(self, index: int) -> None:
        if self.flow.inspected is not None:
            self.view.select_step(self.flow.inspected, index)

    def load_visible_traces(self) -> None:
        """Fetch the traces of the replies on screen (heatmap, clicks, the inspector)."""
        streaming = self.view.streaming_bubble
        self.flow.load_traces([b.message.id for b in self.view.bubbles()
                               if b.message.role == "assistant" and b is not streaming])

    def _show_path(self, count: int = WINDOW) -> None:
        path = self.flow.path
        shown = path[-count:]
        self.view.set_messages(shown, hidden_before=len(path) - len(shown))
        for message in shown:
            steps = self.flow.traces.get(message.id)
            if steps:
                self.view.set_steps(message.id, steps)
        self._shown = len(shown)

    def _show_earlier(self) -> None:
        self._show_path(self._shown + WINDOW)
        self.load_visible_traces()

    @property
    def frame_interval_s(self) -> float:
        """The interval between a streaming reply's frames that the pacer chose last."""
        return self._pacer.interval_s

    def _end_frame(self) -> None:
        if self._pending:  # drawn now, and the next frame waits its turn again
            self._draw_frame()

    def _draw_frame(self) -> None:
        self._draw_pending()
        interval = self._pacer.frame_drawn()
        self._frame.start(round(interval * 1000))
        self.flow.set_stream_interval(interval)  # one batch a frame: no wake-up in between
        # the inspector's live views follow at a tenth of the frame rate
        self.inspector.set_stream_refresh_ms(round(INSPECTOR_FRAMES * interval * 1000))

    def _draw_pending(self) -> None:
        steps, self._pending = self._pending, []
        if steps:
            self.view.append_steps(steps)
            self.inspector.append_steps(steps)

    def shutdown(self, timeout: float = 1.8) -> None:
        """Stop the reply, join the engine's thread (it closes the engine), save what streamed,
        then let the database's thread write everything queued and close."""
        deadline = time.monotonic() + timeout
        self.flow.stop()
        preflight.stop_running()  # a first load checking its file in a child: end it now
        self.engine.shutdown(max(0.1, (deadline - time.monotonic()) * 0.6))
        # what the engine's thread reported before it ended: the last steps and how the reply
        # ended, so that it is saved complete with its stop reason
        self.engine.outbox.deliver_pending()
        self._frame.stop()
        self._draw_pending()
        self._flush_stats()
        self.flow.abandon_reply()
        self.db.shutdown(max(0.1, deadline - time.monotonic()), run_queued=True)

    # ------------------------------------------------------------------ what the flow reports

    def on_busy_changed(self, busy: bool) -> None:
        self.busy_changed.emit(busy)

    def on_load_progressed(self, fraction: float) -> None:
        self.load_progressed.emit(fraction)

    def on_model_loaded(self, info: ModelInfo) -> None:
        self.inspector.set_tokenize_function(self.flow.tokenize)
        self.inspector.set_capabilities(info.capabilities)
        self.inspector.set_probability_label(info.probabilities)
        self.inspector.set_vocab_size(int(info.vocab_size))
        self.inspector.set_model_name(str(info.name))
        self.model_loaded.emit(info)

    def on_model_load_failed(self, message: str) -> None:
        self.model_load_failed.emit(message)

    def on_conversations_listed(self, items: list[Conversation], current: int | None) -> None:
        self.sidebar.set_conversations(items, current)
        self.conversations_listed.emit()

    def on_conversation_cleared(self) -> None:
        self.view.clear()
        self.sidebar.select(None)
        self.composer.edit.setFocus()

    def on_conversation_loaded(self, conversation: Conversation, path: list[Message]) -> None:
        if self.settings.last_conversation != conversation.id:  # reopened at the next start
            self.settings.last_conversation = conversation.id
            with contextlib.suppress(OSError):
                save_settings(self.settings)
        self._show_path()
        self.sidebar.select(conversation.id)
        self.last_switch_ms = (time.perf_counter() - self._switch_started) * 1000
        self.conversation_loaded.emit(conversation.id)
        self.load_visible_traces()

    def on_path_changed(self, path: list[Message], versions_switched: bool) -> None:
        self._show_path()
        if versions_switched:
            self.load_visible_traces()

    def on_message_added(self, message: Message) -> None:
        self.view.add_message(message)

    def on_reply_started(self, reply: Message, prefix: list[Step]) -> None:
        self._pacer.start()
        self.view.begin_reply(reply, prefix)
        self.view.show_notice("")

    def on_prompt_rendered(self, tokens: list[Token], notice: str) -> None:
        self.inspector.set_prompt_tokens(tokens)
        if notice:
            self.view.show_notice(notice)

    def on_steps_arrived(self, steps: list[Step]) -> None:
        self._pending.extend(steps)
        if not self._frame.isActive():  # drawn now; what comes within the frame, at its end
            self._draw_frame()

    def on_step_waiting(self) -> None:
        self.step_waiting.emit()

    def on_stats_changed(self, stats: dict[str, float]) -> None:
        """While a reply streams, its figures are shown a few times a second; else at once."""
        self._stats.update(stats)
        streaming = self.view.streaming_bubble is not None and not set(stats) - _STREAM_STATS
        if streaming and self._stats_timer.isActive():
            return  # shown when the timer ends
        self._flush_stats()
        if streaming:
            self._stats_timer.start()

    def _stats_tick(self) -> None:
        if self._stats:
            self._flush_stats()
            self._stats_timer.start()

    def _flush_stats(self) -> None:
        self._stats_timer.stop()
        stats, self._stats = self._stats, {}
        if stats:
            self.stats_changed.emit(stats)

    def on_reply_saved(self, message_id: int, steps: int) -> None:
        self.reply_saved.emit(message_id, steps)

    def on_reply_finished(self, message: Message, in_view: bool) -> None:
        self._draw_pending()
        self._flush_stats()
        self.inspector.end_stream()
        if in_view:
            self.view.finish_reply(message)
        self.reply_finished.emit(message.id)

    def on_reply_failed(self, message: Message, error: str) -> None:
        self._draw_pending()
        self._flush_stats()
        self.inspector.end_stream()
        self.view.finish_reply(message)
        self.error_reported.emit(error)

    def on_traces_loaded(self, traces: dict[int, list[Step]]) -> None:
        for message_id, steps in traces.items():
            self.view.set_steps(message_id, steps)
        self.traces_loaded.emit()

    def on_inspection_changed(self, message_id: int | None, steps: list[Step],
                              settings: SamplerSettings) -> None:
        self.inspector.set_steps(steps, settings)

    def on_error(self, message: str) -> None:
        self.error_reported.emit(message)
