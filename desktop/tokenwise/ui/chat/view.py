"""The conversation: message cards in a scroll area, the streamed reply, the heatmap legend.

A long conversation shows its newest messages only (WINDOW of them, more on request), so
switching to a 2,000-message chat costs what a 40-message one does.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.chat.store import Message
from tokenwise.core.trace.records import Step
from tokenwise.ui.chat.bubble import MessageBubble
from tokenwise.ui.heat_legend import HeatLegend

WINDOW = 12
SIDE_GAP = 64  # the empty side of a card: users on the right, the model on the left


class ChatView(QWidget):
    """Shows one conversation and the reply being streamed.

    Signals:
        step_clicked(int, int): message id, step index.
        regenerate_requested(int): assistant message id.
        continue_requested(int): assistant message id of a cut-off reply.
        edit_submitted(int, str): user message id, new text.
        version_requested(int, int): message id, +1 / -1.
        earlier_requested(): the user asked for older messages than the window shows.
    """

    step_clicked = Signal(int, int)
    regenerate_requested = Signal(int)
    continue_requested = Signal(int)
    edit_submitted = Signal(int, str)
    version_requested = Signal(int, int)
    earlier_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)

        self._legend_row = QWidget()
        legend = QHBoxLayout(self._legend_row)
        legend.setContentsMargins(16, 8, 16, 0)
        legend.addStretch(1)
        legend.addWidget(HeatLegend(
            self.tr("unlikely"), self.tr("likely"),
            tooltip=self.tr("Token colour = the probability the model gave the token it "
                            "wrote")))
        self._legend_row.hide()
        layout.addWidget(self._legend_row)

        self._scroll = QScrollArea()
        self._scroll.setObjectName("ChatScroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._canvas = QWidget()
        self._canvas.setObjectName("ChatCanvas")
        self._column = QVBoxLayout(self._canvas)
        self._column.setContentsMargins(24, 16, 24, 16)
        self._column.setSpacing(12)
        self._earlier = QPushButton(self.tr("Show earlier messages"))
        self._earlier.setToolTip(self.tr("Load older messages of this conversation"))
        self._earlier.clicked.connect(self.earlier_requested)
        self._last_focusable: QWidget = self._earlier  # the chat's last stop for Tab
        self._column.addWidget(self._earlier, 0, Qt.AlignmentFlag.AlignHCenter)
        self._empty = QLabel(self.tr("Ask the model anything. Every token of its reply can be "
                                     "clicked to see how it was chosen."))
        self._empty.setObjectName("EmptyHint")
        self._empty.setWordWrap(True)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._column.addWidget(self._empty)
        self._notice = QLabel()
        self._notice.setObjectName("Notice")
        self._notice.setWordWrap(True)
        self._notice.hide()
        self._column.addStretch(1)
        self._column.addWidget(self._notice)
        self._scroll.setWidget(self._canvas)
        layout.addWidget(self._scroll, 1)

        self._rows: list[QWidget] = []
        self._bubbles: dict[int, MessageBubble] = {}
        self._streaming: MessageBubble | None = None
        self._heatmap = False
        self._selected: tuple[int, int] | None = None
        self._follow = True
        bar = self._scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)
        self._earlier.hide()

    # ------------------------------------------------------------------ conversation

    def set_messages(self, messages: Sequence[Message], hidden_before: int = 0) -> None:
        """Show ``messages`` (the newest of a conversation); ``hidden_before`` older exist."""
        self._canvas.setUpdatesEnabled(False)
        try:
            self.clear()
            for message in messages:
                self._insert(message)
            self._earlier.setVisible(hidden_before > 0)
            self._earlier.setText(self.tr("Show earlier messages ({count})").format(
                count=hidden_before))
            self._empty.setVisible(not messages)
        finally:
            self._canvas.setUpdatesEnabled(True)
        self._follow = True

    def clear(self) -> None:
        for row in self._rows:
            # hide and detach, but keep the parent: setParent(None) would make each row a
            # top-level window for a moment (0.8 ms a row, a third of a chat switch)
            row.hide()
            self._column.removeWidget(row)
            row.deleteLater()
        self._rows.clear()
        self._bubbles.clear()
        self._streaming = None
        self._selected = None
        self._notice.hide()
        self._empty.show()
        self._earlier.hide()
        self._last_focusable = self._earlier

    def add_message(self, message: Message) -> MessageBubble:
        self._empty.hide()
        self._follow = True
        return self._insert(message)

    def _insert(self, message: Message) -> MessageBubble:
        bubble = MessageBubble(message)
        bubble.show_content()
        bubble.step_clicked.connect(self.step_clicked)
        bubble.regenerate_requested.connect(self.regenerate_requested)
        bubble.continue_requested.connect(self.continue_requested)
        bubble.edit_submitted.connect(self.edit_submitted)
        bubble.version_requested.connect(self.version_requested)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        if message.role == "user":
            lay.addSpacing(SIDE_GAP)
            lay.addWidget(bubble, 1)
        else:
            lay.addWidget(bubble, 1)
            lay.addSpacing(SIDE_GAP)
        # before the stretch and the notice, which stay at the end
        self._column.insertWidget(self._column.count() - 2, row)
        self._rows.append(row)
        self._bubbles[message.id] = bubble
        self._chain_focus(bubble)
        if self._heatmap:
            bubble.text.set_heatmap(True)
        return bubble

    def scroll_area(self) -> QWidget:
        return self._scroll

    def first_focusable(self) -> QWidget:
        """Where Tab enters the chat (the messages follow it)."""
        return self._earlier

    def _chain_focus(self, bubble: MessageBubble) -> None:
        """Tab reaches a new message's text and buttons right after the messages before it
        (a new widget would otherwise join the end of the window's tab chain)."""
        anchor = self._last_focusable
        for widget in bubble.findChildren(QWidget):
            if widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
                QWidget.setTabOrder(anchor, widget)
                anchor = widget
        self._last_focusable = anchor

    def bubble(self, message_id: int) -> MessageBubble | None:
        return self._bubbles.get(message_id)

    def bubbles(self) -> list[MessageBubble]:
        return list(self._bubbles.values())

    def replace_message(self, message: Message) -> None:
        bubble = self._bubbles.get(message.id)
        if bubble is not None:
            bubble.message = message
            bubble.refresh()

    def show_notice(self, text: str) -> None:
        self._notice.setText(text)
        self._notice.setVisible(bool(text))

    # ------------------------------------------------------------------ streaming

    def begin_reply(self, message: Message, prefix: list[Step] | None = None) -> MessageBubble:
        bubble = self._bubbles.get(message.id) or self.add_message(message)
        bubble.begin_stream(prefix)
        self._streaming = bubble
        return bubble

    def append_steps(self, steps: Sequence[Step]) -> None:
        """Append a batch of tokens to the streamed reply and follow the newest one."""
        bubble = self._streaming
        if bubble is None or not steps:
            return
        bubble.text.append_steps(steps)
        # the newest token is highlighted once the reply ends: moving the highlight every
        # frame would repaint the whole text each time, on the engine's CPU
        self._selected = (bubble.message.id, len(bubble.text.steps) - 1)

    def finish_reply(self, message: Message) -> None:
        bubble = self._streaming
        self._streaming = None
        if bubble is None:
            return
        bubble.finish_stream(message)
        if self._selected is not None and self._selected[0] == message.id:
            bubble.text.select_step(self._selected[1])

    @property
    def streaming_bubble(self) -> MessageBubble | None:
        return self._streaming

    # ------------------------------------------------------------------ tokens

    def set_steps(self, message_id: int, steps: list[Step]) -> None:
        bubble = self._bubbles.get(message_id)
        if bubble is not None and bubble is not self._streaming:
            bubble.set_steps(steps)

    def select_step(self, message_id: int, index: int) -> None:
        if self._selected is not None and self._selected[0] != message_id:
            old = self._bubbles.get(self._selected[0])
            if old is not None:
                old.text.select_step(-1)
        self._selected = (message_id, index)
        bubble = self._bubbles.get(message_id)
        if bubble is not None:
            bubble.text.select_step(index)

    def set_heatmap(self, on: bool) -> None:
        self._heatmap = on
        self._legend_row.setVisible(on)
        for bubble in self._bubbles.values():
            bubble.text.set_heatmap(on)

    def restyle(self) -> None:
        """Repaint the token shading after a theme change (it is baked into each text)."""
        for bubble in self._bubbles.values():
            bubble.text.restyle()
        self._legend_row.update()

    @property
    def heatmap(self) -> bool:
        return self._heatmap

    # ------------------------------------------------------------------ scrolling

    def _on_range_changed(self, _low: int, high: int) -> None:
        if self._follow:
            self._scroll.verticalScrollBar().setValue(high)

    def _on_scrolled(self, value: int) -> None:
        bar = self._scroll.verticalScrollBar()
        self._follow = value >= bar.maximum() - 24

    def scroll_to_bottom(self) -> None:
        self._follow = True
        bar = self._scroll.verticalScrollBar()
        bar.setValue(bar.maximum())
