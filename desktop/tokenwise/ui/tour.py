"""The guided tour (Help > Tour): one real generation in step mode, explained in seven stops.

The guide starts a new chat, turns step mode on and sends the language's example prompt
to the loaded model; each stop's callout sits beside its panel (a ring marks the panel)
and says what the run shows there, with the run's own numbers (core/tour.py writes them).
Next advances the run as far as the stop needs: one more token, or the rest of the reply.
Skip keeps the stop reached; the next Help > Tour resumes there (running the generation
again). The first start offers the tour once.

Signals:
    stop_shown(int): a stop's callout is on screen.
    finished(): the last stop was passed or the tour was skipped.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from tokenwise.core.settings import save_settings
from tokenwise.core.tour import STOPS, TourRun, TourStop, example_prompt, stop_at

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from tokenwise.core.chat.conversation import ConversationFlow
    from tokenwise.core.settings import AppSettings
    from tokenwise.ui.chat.controller import ChatController
    from tokenwise.ui.chat.view import ChatView
    from tokenwise.ui.inspector import InspectorPanel
    from tokenwise.ui.status_bar import StatusBar


class TourHost(Protocol):
    """What the guide needs of the main window (which it cannot import: the window
    imports the guide)."""

    inspector: InspectorPanel
    controller: ChatController
    flow: ConversationFlow
    chat_view: ChatView
    status: StatusBar
    settings: AppSettings
    act_inspector: QAction

    def set_inspector_visible(self, on: bool) -> None: ...
    def width(self) -> int: ...
    def height(self) -> int: ...

CALLOUT_WIDTH = 340


class TourCallout(QFrame):
    """The stop's card: title, text, position, and Back / Next / Skip."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourCallout")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(CALLOUT_WIDTH)
        self.title = QLabel()
        self.title.setObjectName("tourTitle")
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position = QLabel()
        self.position.setObjectName("mutedLabel")
        self.back_button = QPushButton(self.tr("Back"))
        self.back_button.setToolTip(self.tr("The previous stop"))
        self.next_button = QPushButton(self.tr("Next"))
        self.next_button.setObjectName("Primary")
        self.next_button.setToolTip(self.tr("The next stop (Enter)"))
        self.skip_button = QPushButton(self.tr("Skip tour"))
        self.skip_button.setToolTip(self.tr("Close the tour; Help > Tour resumes it here"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.position)
        buttons.addStretch(1)
        for b in (self.skip_button, self.back_button, self.next_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.hide()


class TourRing(QWidget):
    """A frame drawn around the panel a stop talks about (clicks pass through)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourRing")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.hide()


class TourGuide(QObject):
    stop_shown = Signal(int)
    finished = Signal()

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window: TourHost = window  # type: ignore[assignment]
        self.frame = window  # the widget the callout and the ring float over
        self.callout = TourCallout(window)
        self.ring = TourRing(window)
        self.callout.next_button.clicked.connect(self.next)
        self.callout.back_button.clicked.connect(self.back)
        self.callout.skip_button.clicked.connect(self.skip)
        self.index = -1
        self._wanted = -1
        self._phase = -1  # how far the run has gone: 0 first step, 1 second, 2 finished
        self._waits = 0  # step mode's waits so far: one per token drawn
        self._message_id: int | None = None
        self.active = False
        window.installEventFilter(self)
        c = self.window.controller
        c.step_waiting.connect(self._on_step_waiting)
        c.reply_finished.connect(self._on_reply_finished)

    # ------------------------------------------------------------------ running

    def start(self, resume_at: int = 0) -> bool:
        """Run the tour's generation and show the first stop (or ``resume_at``)."""
        window = self.window
        if window.flow.model_info is None or window.flow.busy:
            window.status.showMessage(self.tr("The tour starts once the model has loaded and "
                                              "no reply is running."), 8000)
            return False
        self.active = True
        self.index = -1
        self._wanted = max(0, min(resume_at, len(STOPS) - 1))
        self._phase = -1
        self._waits = 0
        window.set_inspector_visible(True)
        window.act_inspector.setChecked(True)
        window.flow.new_conversation()
        window.inspector.set_step_mode(True)
        window.flow.set_step_mode(True)
        QTimer.singleShot(0, lambda: window.flow.send(example_prompt()))
        return True

    def _on_step_waiting(self) -> None:
        """Step mode waits before each token: the first wait comes before any token, each
        later one after a token was drawn. Once the inspector shows it, move on."""
        if not self.active:
            return
        self._waits += 1
        self._await_steps(self._waits - 1, tries=100)

    def _await_steps(self, drawn: int, tries: int) -> None:
        # the steps reach the inspector on the next frame, after the waiting signal
        if len(self.window.inspector.steps()) >= drawn or tries <= 0:
            self._phase = max(self._phase, min(1, drawn - 1))
            self._advance()
        else:
            QTimer.singleShot(20, lambda: self._await_steps(drawn, tries - 1))

    def _on_reply_finished(self, message_id: int) -> None:
        if not self.active:
            return
        self._message_id = message_id
        self._phase = 2
        self.window.inspector.set_step_mode(False)
        self._advance()

    def _advance(self) -> None:
        """Show the wanted stop once the run has gone far enough; else push the run on."""
        if self._wanted < 0:
            return
        need = STOPS[self._wanted][2]
        if self._phase >= need:
            self._show(self._wanted)
        elif need <= 1:
            self.window.flow.step_once()
        else:
            self.window.flow.run_to_end()

    # ------------------------------------------------------------------ stops

    def run(self) -> TourRun:
        inspector = self.window.inspector
        return TourRun(inspector.prompt_tokens(), list(inspector.steps()),
                       inspector.vocab_size(), finished=self._phase >= 2)

    def current(self) -> TourStop:
        return stop_at(self.index, self.run())

    def _show(self, index: int) -> None:
        self.index = index
        self._wanted = -1
        stop = stop_at(index, self.run())
        self._prepare(stop, index)
        c = self.callout
        c.title.setText(stop.title)
        c.text.setText(stop.text)
        c.position.setText(self.tr("{index} of {total}").format(index=index + 1,
                                                               total=len(STOPS)))
        c.back_button.setEnabled(index > 0)
        last = index == len(STOPS) - 1
        c.next_button.setText(self.tr("Done") if last else self.tr("Next"))
        c.show()
        c.raise_()
        self._place()
        c.next_button.setFocus()
        self.window.settings.tour_stop = index
        self.stop_shown.emit(index)

    def _prepare(self, stop: TourStop, index: int) -> None:
        """Turn the window to the panel the stop talks about, with the step it names."""
        inspector = self.window.inspector
        inspector.tabs.setCurrentIndex(1 if stop.anchor == "tokens" else 0)
        steps = inspector.steps()
        if stop.key == "append" and len(steps) > 1:
            inspector.select_step(1)
        elif stop.key == "temperature" and steps:
            inspector.select_step(max(steps, key=lambda s: s.entropy).index)
        elif stop.anchor in ("stages", "tokens") and steps:
            inspector.select_step(0)
        elif stop.key == "stop" and steps:
            inspector.select_step(len(steps) - 1)

    def anchor_widget(self, anchor: str | None = None) -> QWidget:
        window = self.window
        inspector = window.inspector
        name = anchor or STOPS[self.index][1]
        if name == "tokens":
            return inspector.tokens
        if name == "stages":
            return inspector.step_view.stage_view
        if name == "timeline":
            return inspector.step_view.timeline
        if name == "sampling":
            return inspector.sampling
        bubble = window.chat_view.bubble(self._message_id) if self._message_id else None
        return bubble if bubble is not None else window.chat_view

    def _place(self) -> None:
        if self.index < 0 or not self.callout.isVisible():
            return
        window = self.frame
        target = self.anchor_widget()
        shown = target.visibleRegion().boundingRect()  # a panel in a scroll area: its view
        if shown.isEmpty():
            shown = target.rect()
        rect = QRect(target.mapTo(window, shown.topLeft()), shown.size())
        self.ring.setGeometry(rect.adjusted(-3, -3, 3, 3))
        self.ring.show()
        self.ring.raise_()
        c = self.callout
        c.adjustSize()
        # beside the panel, on the side with room; inside the window
        x = rect.left() - c.width() - 12
        if x < 8:
            x = min(rect.right() + 12, window.width() - c.width() - 8)
        y = max(8, min(rect.top(), window.height() - c.height() - 8))
        if rect.width() > window.width() - c.width() - 24:  # a wide panel: over its middle
            x = rect.left() + (rect.width() - c.width()) // 2
        c.move(max(8, x), y)
        c.raise_()

    def next(self) -> None:
        if self.index >= len(STOPS) - 1:
            self._end(done=True)
            return
        self._wanted = self.index + 1
        self._advance()

    def back(self) -> None:
        if self.index > 0:
            self._show(self.index - 1)

    def skip(self) -> None:
        self._end(done=False)

    def _end(self, *, done: bool) -> None:
        self.active = False
        self.callout.hide()
        self.ring.hide()
        window = self.window
        window.settings.tour_stop = 0 if done else max(0, self.index)
        window.settings.tour_offered = True
        window.inspector.set_step_mode(False)
        window.flow.set_step_mode(False)
        if window.flow.busy:
            window.flow.run_to_end()
        with contextlib.suppress(OSError):
            save_settings(window.settings)
        self.finished.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.frame and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self._place)
        return super().eventFilter(watched, event)


class TourOffer(QFrame):
    """The first start's question: take the tour now?

    Signals: accepted(), declined()
    """

    accepted = Signal()
    declined = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourCallout")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(CALLOUT_WIDTH)
        text = QLabel(self.tr("New here? A short tour runs one real generation step by step "
                              "and shows why a model writes one token at a time."))
        text.setWordWrap(True)
        self.start_button = QPushButton(self.tr("Start the tour"))
        self.start_button.setObjectName("Primary")
        self.start_button.setToolTip(self.tr("Seven stops, about two minutes"))
        self.later_button = QPushButton(self.tr("Not now"))
        self.later_button.setToolTip(self.tr("Help > Tour starts it later"))
        self.start_button.clicked.connect(self.accepted)
        self.later_button.clicked.connect(self.declined)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.later_button)
        row.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(text)
        layout.addLayout(row)
        self.hide()
