"""The inspector: the selected step's stages and explanation, the timeline, the sampling
sliders (what-if previews) and the Tokens tab, behind one small interface.

The main window feeds it steps (a whole stored reply, or streamed steps coalesced per frame)
and listens to its signals; the panel never calls the engine. Work is skipped while the
panel is hidden and throttled while a reply streams (a few redraws a second), so that
showing it slows the decode loop as little as possible.

Signals: step_selected(int) (the user picked a step here; not sent for select_step calls),
branch_requested(int step_index, int token_id), sampler_settings_changed(object),
step_mode_toggled(bool), step_once_requested(), run_to_end_requested()
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCursor,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import QMenu, QSplitter, QTabWidget, QToolTip, QVBoxLayout, QWidget

from tokenwise.core.formatting import percent_column
from tokenwise.core.interface import Capabilities, Token
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.explain import explain_step
from tokenwise.core.trace.export import make_trace
from tokenwise.core.trace.records import Step, Trace
from tokenwise.ui.inspector import export as export_ui
from tokenwise.ui.inspector.candidates_model import CandidatesModel, table_text
from tokenwise.ui.inspector.sampling_panel import SamplingPanel
from tokenwise.ui.inspector.stage_table import (
    EMPTY_TABLE,
    StageTable,
    build_table,
    history_before,
    preview_stages,
)
from tokenwise.ui.inspector.step_view import K_MAX, K_MIN, StepView
from tokenwise.ui.inspector.tokens_panel import TokenizeFunction, TokensPanel

STREAM_REFRESH_MS = 250  # while streaming, redraw the views at most this often (the chat's
# frame pacing may ask for less: see set_stream_refresh_ms)
STREAM_REFRESH_MAX_MS = 600  # and at least this often: the views keep up with the reply


class InspectorPanel(QWidget):
    step_selected = Signal(int)
    branch_requested = Signal(int, int)
    sampler_settings_changed = Signal(object)
    step_mode_toggled = Signal(bool)
    step_once_requested = Signal()
    run_to_end_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._steps: list[Step] = []
        self._trace_settings = SamplerSettings()
        self._prompt_ids: list[int] = []
        self._vocab_size = 0
        self._prompt_tokens: list[Token] = []
        self._model_name = ""
        # what the engine can do, once one has loaded a model (None: no engine to ask)
        self._capabilities: Capabilities | None = None
        self._probability_label = ""
        self._selected = -1
        self._follow = True
        self._preview = False
        self._dirty = False
        self._stream_pending = False
        self.penalize_prompt = True  # the penalties' history includes the prompt tokens

        self.candidates_model = CandidatesModel(self)  # the stage view's numbers, as a model
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.step_view = StepView()
        self._step_mode_tip = self.step_view.step_mode_button.toolTip()
        self.sampling = SamplingPanel()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.step_view)
        self.splitter.addWidget(self.sampling)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([760, 240])  # the step view gets most of the height
        self.tokens = TokensPanel()
        self.tabs.addTab(self.splitter, self.tr("Step"))
        self.tabs.addTab(self.tokens, self.tr("Tokens"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self._stream_timer = QTimer(self)
        self._stream_timer.setSingleShot(True)
        self._stream_timer.setInterval(STREAM_REFRESH_MS)
        self._stream_timer.timeout.connect(self._stream_tick)

        sv = self.step_view
        sv.timeline.step_clicked.connect(self._user_selected)
        sv.stage_view.candidate_clicked.connect(self._branch)
        sv.stage_view.candidate_context_requested.connect(self._candidate_menu)
        sv.k_spin.valueChanged.connect(lambda _: self.refresh())
        sv.show_stored_button.clicked.connect(self.show_stored)
        sv.step_mode_button.toggled.connect(self._step_mode_changed)
        sv.next_button.clicked.connect(self.step_once_requested)
        sv.run_button.clicked.connect(self._run_to_end)
        sv.export_json_action.triggered.connect(
            lambda: export_ui.export_json_dialog(self, self.trace))
        sv.export_csv_action.triggered.connect(
            lambda: export_ui.export_csv_dialog(self, self.trace))
        sv.export_png_action.triggered.connect(
            lambda: export_ui.export_png_dialog(self, self.step_view.stage_view))
        self.sampling.settings_changed.connect(self._sliders_moved)
        self.tokens.reply_token_clicked.connect(self._user_selected)

        sv.stage_view.installEventFilter(self)
        self._shortcuts = []
        for key in ("Space", "N", "Ctrl+Right"):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.setEnabled(False)
            sc.activated.connect(self._next_key)
            self._shortcuts.append(sc)
        self.refresh()

    # ------------------------------------------------------------------ the contract

    def set_prompt_tokens(self, tokens: list[Token]) -> None:
        self._prompt_ids = [t.token_id for t in tokens]
        self._prompt_tokens = list(tokens)
        self.tokens.set_prompt_tokens(tokens)

    def prompt_tokens(self) -> list[Token]:
        """The last prompt as the model read it."""
        return self._prompt_tokens

    def vocab_size(self) -> int:
        return self._vocab_size

    def set_steps(self, steps: list[Step], settings: SamplerSettings) -> None:
        """Show a whole reply (a stored one, or an empty list before a new reply streams)."""
        self._steps = list(steps)
        self._trace_settings = settings
        self._preview = False
        self._follow = True
        self._selected = len(self._steps) - 1
        self.step_view.timeline.set_steps(self._steps)
        self.tokens.set_reply_steps(self._steps)
        self.refresh()

    def append_steps(self, steps: list[Step]) -> None:
        """Streamed steps (coalesced per frame). Follows the newest unless the user looked back.

        Only the data grows here; the views are redrawn at most every STREAM_REFRESH_MS
        (and not at all while the panel is hidden), so the decode loop keeps its pace.
        """
        if not steps:
            return
        self._steps.extend(steps)
        self.step_view.timeline.append_steps(steps, repaint=False)
        if self._follow:
            self._selected = len(self._steps) - 1
        if not self.isVisible():
            self._dirty = True
            return
        if self._stream_timer.isActive():
            self._stream_pending = True
        else:  # leading edge now, the rest when the timer fires
            self.refresh()
            self._stream_timer.start()

    def set_stream_refresh_ms(self, ms: int) -> None:
        """How often the views follow a streaming reply (between 250 and 600 ms)."""
        self._stream_timer.setInterval(min(STREAM_REFRESH_MAX_MS, max(STREAM_REFRESH_MS, ms)))

    def select_step(self, index: int) -> None:
        if not (0 <= index < len(self._steps)):
            return
        self._selected = index
        self._follow = index == len(self._steps) - 1
        self.refresh()

    def sampler_settings(self) -> SamplerSettings:
        return self.sampling.settings()

    def set_sampler_settings(self, settings: SamplerSettings) -> None:
        self.sampling.set_settings(settings)
        if self._preview:
            self.refresh()

    def set_capabilities(self, capabilities: Capabilities) -> None:
        """Offer only what the engine can do; say why the rest is missing."""
        self._capabilities = capabilities
        button = self.step_view.step_mode_button
        button.setEnabled(capabilities.step_mode)
        button.setToolTip(self._step_mode_tip if capabilities.step_mode
                          else self.tr("Step mode is unavailable: {reason}").format(
                              reason=capabilities.reason("step_mode")))
        if not capabilities.tokenizer:
            self.set_tokenize_function(None)
        self.tokens.set_unavailable_reason(
            "" if capabilities.tokenizer else capabilities.reason("tokenizer"))

    def set_tokenize_function(self, fn: TokenizeFunction | None) -> None:
        self.tokens.set_tokenize_function(fn)

    def set_vocab_size(self, n: int) -> None:
        self._vocab_size = n
        self.refresh()

    # ------------------------------------------------------------------ extras

    def set_model_name(self, name: str) -> None:
        """Recorded in exported traces."""
        self._model_name = name

    def set_step_mode(self, on: bool) -> None:
        """Reflect step mode set elsewhere (no step_mode_toggled signal)."""
        self.step_view.step_mode_button.blockSignals(True)
        self.step_view.step_mode_button.setChecked(on)
        self.step_view.step_mode_button.blockSignals(False)
        self._enable_step_controls(on)

    def steps(self) -> list[Step]:
        return self._steps

    def trace_settings(self) -> SamplerSettings:
        return self._trace_settings

    def model_name(self) -> str:
        return self._model_name

    def trace(self) -> Trace:
        """The shown reply as a trace, for export."""
        return make_trace(self.steps(), self.trace_settings(), model=self.model_name(),
                          prompt_tokens=self.prompt_token_count())

    def prompt_token_count(self) -> int:
        return len(self._prompt_ids)

    def selected_step(self) -> int:
        return self._selected

    def is_preview(self) -> bool:
        return self._preview

    def stage_table(self) -> StageTable:
        return self.step_view.stage_view.table()

    def show_stored(self) -> None:
        """Leave the what-if preview: show the stages the reply was generated with."""
        self._preview = False
        self.refresh()

    # ------------------------------------------------------------------ refresh

    def refresh(self) -> None:
        """Redraw the step view for the selected step (stored stages or the preview)."""
        self._dirty = False
        sv = self.step_view
        sv.timeline.set_selected(self._selected)
        sv.timeline.update()
        self.tokens.reply_steps_appended()
        self.tokens.select_step(self._selected)
        if not (0 <= self._selected < len(self._steps)):
            sv.stage_view.set_table(EMPTY_TABLE)
            self.candidates_model.set_table(EMPTY_TABLE)
            sv.title.setText(self.tr("No reply selected") if not self._steps
                             else self.tr("Select a step"))
            sv.stats.setText(self.tr("Click a token of a reply, or a point on the timeline."))
            sv.explanation.setText("")
            sv.preview_banner.setVisible(False)
            return
        step = self._steps[self._selected]
        stored = len(step.candidates)
        limit = max(K_MIN, min(K_MAX, sv.k_spin.value()))
        sv.stage_view.set_capacity(min(limit, stored) + 1)  # + the chosen token below top-K
        if self._preview:
            settings = self.sampling.settings()
            history = history_before(self._steps, self._selected,
                                     self._prompt_ids if self.penalize_prompt else ())
            stages, note = preview_stages(step, settings, history, vocab_size=self._vocab_size,
                                          stored_settings=self._trace_settings)
            table = build_table(step, stages, limit=limit, vocab_size=self._vocab_size,
                                top_p=settings.top_p, preview=True, note=note)
            text = explain_step(step, settings, stages, vocab_size=self._vocab_size,
                                preview=True)
            sv.preview_label.setText(self._preview_text(settings, note))
        else:
            settings = self._trace_settings
            table = build_table(step, limit=limit, vocab_size=self._vocab_size,
                                top_p=settings.top_p)
            text = explain_step(step, settings, vocab_size=self._vocab_size)
        sv.preview_banner.setVisible(self._preview)
        sv.stage_view.set_table(table)
        self.candidates_model.set_table(table)
        sv.explanation.setText(text + self._unavailable_text(step))
        forced = self.tr(" (forced)") if step.forced else ""
        sv.title.setText(self.tr("Step {index} of {total} · {token}").format(
            index=self._selected + 1, total=len(self._steps), token=f"'{step.label}'") + forced)
        shown = self.tr("top {shown} of {stored} stored").format(shown=min(limit, stored),
                                                                 stored=stored)
        if math.isfinite(step.log_z):  # the local engine's own numbers
            sv.stats.setText(self.tr(
                "id {id} · raw {raw} (rank {rank}) · drawn at {final} · entropy {entropy} nats · "
                "other tokens {other}").format(
                    id=step.token_id, raw=percent_column(step.prob), rank=step.rank,
                    final=percent_column(step.final_prob), entropy=f"{step.entropy:.2f}",
                    other=percent_column(step.other_mass)) + " · " + shown)
        else:  # a server's: what it reported, the rest said to be unavailable
            unknown = self.tr("unavailable")
            rank = (str(step.rank) if step.rank
                    else self.tr("beyond the top {0}").format(stored))
            sv.stats.setText(self.tr(
                "id {id} · {raw} (rank {rank}) as the server reports it · drawn at {final} · "
                "entropy {entropy} · other tokens {other}").format(
                    id=str(step.token_id) if step.token_id >= 0 else unknown,
                    raw=percent_column(step.prob) if math.isfinite(step.prob) else unknown,
                    rank=rank,
                    final=percent_column(step.final_prob)
                    if math.isfinite(step.final_prob) else unknown,
                    entropy=unknown, other=percent_column(step.other_mass)) + " · " + shown)

    def set_probability_label(self, label: str) -> None:
        """What the probabilities are, where they are not Tokenwise's own ("" for local)."""
        self._probability_label = label
        self.refresh()

    def _unavailable_text(self, step: Step) -> str:
        """For a server's reply: what its numbers are, and what it cannot show, and why."""
        caps = self._capabilities
        if caps is None or math.isfinite(step.log_z):
            return ""
        lines = [self.tr("Probabilities: {0}.").format(self._probability_label
                                                       or self.tr("as reported by the server"))]
        for name, title in (("stage_view", self.tr("Per-stage view")),
                            ("full_vocabulary", self.tr("Entropy and the whole-vocabulary "
                                                        "normaliser"))):
            if not getattr(caps, name):
                lines.append(self.tr("{0} unavailable: {1}").format(title, caps.reason(name)))
        return "\n\n" + "\n".join(lines)

    def _preview_text(self, s: SamplerSettings, note: str | None) -> str:
        parts = [f"T {s.temperature:g}", f"top-k {s.top_k or self.tr('off')}",
                 f"top-p {s.top_p:g}", f"min-p {s.min_p:g}"]
        if s.penalties_active:
            parts.append(self.tr("repeat {value}").format(value=f"{s.repeat_penalty:g}"))
        text = self.tr("<b>What-if preview</b> with the sliders ({settings}), recomputed from "
                       "the stored logits; the reply itself was drawn with its own "
                       "settings.").format(settings=", ".join(parts))
        return text + (f"<br><i>{note}</i>" if note else "")

    def end_stream(self) -> None:
        """The reply ended: show its last state now, not at the next tick."""
        self._stream_timer.stop()
        if self._stream_pending:
            self._stream_pending = False
            self.refresh()

    def _stream_tick(self) -> None:
        if self._stream_pending:
            self._stream_pending = False
            self.refresh()
            self._stream_timer.start()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    # ------------------------------------------------------------------ user actions

    def _user_selected(self, index: int) -> None:
        self.select_step(index)
        self.step_selected.emit(index)

    def _sliders_moved(self, settings: SamplerSettings) -> None:
        self.sampler_settings_changed.emit(settings)
        if self._steps:
            self._preview = True
            self.refresh()

    def _branch(self, token_id: int) -> None:
        if self._capabilities is not None and not self._capabilities.branching:
            QToolTip.showText(QCursor.pos(), self.tr("Branching is unavailable: {reason}").format(
                reason=self._capabilities.reason("branching")), self)
            return
        if 0 <= self._selected < len(self._steps):
            self.branch_requested.emit(self._selected, token_id)

    def _candidate_menu(self, token_id: int, where: QPoint) -> None:
        row = self.stage_table().row_of(token_id)
        if row is None:
            return
        if row.chosen:
            menu = QMenu(self)
            menu.addAction(self.tr("Copy the candidates table")).triggered.connect(
                self.copy_table)
            menu.popup(where)
            return
        menu = QMenu(self)
        action = menu.addAction(self.tr("Continue with {token} here").format(
            token=f"'{row.label}'"))
        action.triggered.connect(lambda: self._branch(token_id))
        copy = menu.addAction(self.tr("Copy the candidates table"))
        copy.triggered.connect(self.copy_table)
        menu.popup(where)

    def copy_table(self) -> None:
        """The candidates and their stage probabilities to the clipboard, tab-separated."""
        QGuiApplication.clipboard().setText(table_text(self.candidates_model))

    def _step_mode_changed(self, on: bool) -> None:
        self._enable_step_controls(on)
        self.step_mode_toggled.emit(on)

    def _enable_step_controls(self, on: bool) -> None:
        self.step_view.next_button.setEnabled(on)
        self.step_view.run_button.setEnabled(on)
        for sc in self._shortcuts:
            sc.setEnabled(on)

    def _is_next_key(self, event: QKeyEvent) -> bool:
        key, mods = event.key(), event.modifiers()
        plain = not mods & ~Qt.KeyboardModifier.KeypadModifier
        return self.step_view.step_mode_button.isChecked() and (
            (key in (Qt.Key.Key_Space, Qt.Key.Key_N) and bool(plain))
            or (key == Qt.Key.Key_Right and bool(mods & Qt.KeyboardModifier.ControlModifier)))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Space, N or Ctrl+Right in step mode: the next token (when no shortcut took it)."""
        if self._is_next_key(event):
            self.step_once_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # the stage view's scroll area would take Ctrl+Right for scrolling
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and self._is_next_key(event):
            self.step_once_requested.emit()
            return True
        return super().eventFilter(watched, event)

    def _next_key(self) -> None:
        if self.step_view.step_mode_button.isChecked():
            self.step_once_requested.emit()

    def _run_to_end(self) -> None:
        self.set_step_mode(False)
        self.run_to_end_requested.emit()

