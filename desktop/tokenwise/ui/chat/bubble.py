"""One message in the chat: a rounded card with its text, its versions and its actions."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QDate, QDateTime, QLocale, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.chat.store import Message
from tokenwise.core.formatting import number
from tokenwise.core.trace.records import STOP_CANCELLED, STOP_REASON_TEXT, Step
from tokenwise.ui.chat.token_text import TokenText


def _tool(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


class MessageBubble(QFrame):
    """A user or assistant message.

    Signals:
        step_clicked(int, int): message id, step index.
        regenerate_requested(int): message id (an assistant reply).
        continue_requested(int): message id of a cut-off reply to write on from its end.
        edit_submitted(int, str): message id (a user message), the new text.
        version_requested(int, int): message id, +1 or -1.
        copied(int): message id; its text is on the clipboard.
    """

    step_clicked = Signal(int, int)
    regenerate_requested = Signal(int)
    continue_requested = Signal(int)
    edit_submitted = Signal(int, str)
    version_requested = Signal(int, int)
    copied = Signal(int)

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = message
        self.setObjectName("Bubble")
        self.setProperty("role", message.role)
        self.streaming = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 8, 16, 8)
        outer.setSpacing(4)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.setSpacing(8)
        self._header = QLabel()
        self._header.setObjectName("BubbleHeader")
        self._time = QLabel()
        self._time.setObjectName("BubbleMeta")
        head.addWidget(self._header)
        head.addWidget(self._time)
        head.addStretch(1)
        outer.addLayout(head)
        self.text = TokenText(self)
        self.text.step_clicked.connect(lambda i: self.step_clicked.emit(self.message.id, i))
        outer.addWidget(self.text)
        self._editor: QPlainTextEdit | None = None
        self._edit_row: QWidget | None = None

        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.setSpacing(4)
        self._prev = _tool("‹", self.tr("Previous version of this message"))
        self._next = _tool("›", self.tr("Next version of this message"))
        self._version = QLabel()
        self._version.setObjectName("VersionLabel")
        self._prev.clicked.connect(lambda: self.version_requested.emit(self.message.id, -1))
        self._next.clicked.connect(lambda: self.version_requested.emit(self.message.id, +1))
        for w in (self._prev, self._version, self._next):
            footer.addWidget(w)
        self._meta = QLabel()
        self._meta.setObjectName("BubbleMeta")
        self._meta.setWordWrap(True)  # wraps in a narrow column instead of widening the card
        footer.addWidget(self._meta, 1)  # takes the free width: the buttons stay right
        self.copy_button = _tool(self.tr("Copy"), self.tr("Copy this message to the clipboard"))
        self.copy_button.clicked.connect(self._copy)
        footer.addWidget(self.copy_button)
        if message.role == "user":
            self.edit_button = _tool(self.tr("Edit"), self.tr("Edit this message and send it "
                                                              "again (the earlier version is "
                                                              "kept)"))
            self.edit_button.clicked.connect(self.start_edit)
            footer.addWidget(self.edit_button)
        else:
            self.regenerate_button = _tool(self.tr("Regenerate"), self.tr(
                "Write this reply again (Ctrl+R); the earlier version is kept"))
            self.regenerate_button.clicked.connect(
                lambda: self.regenerate_requested.emit(self.message.id))
            footer.addWidget(self.regenerate_button)
            self.continue_button = _tool(
                self.tr("Continue"), self.tr("This reply was cut off: write on from where it "
                                             "stopped (as a new version that keeps every "
                                             "token so far)"))
            self.continue_button.clicked.connect(
                lambda: self.continue_requested.emit(self.message.id))
            footer.insertWidget(footer.indexOf(self.regenerate_button), self.continue_button)
        outer.addLayout(footer)
        self.refresh()

    # ------------------------------------------------------------------ content

    def refresh(self) -> None:
        """Show the message record's header, versions and meta line."""
        m = self.message
        self._header.setText(self.tr("You") if m.role == "user"
                             else (m.model or self.tr("Model")))
        shown, full = message_time(float(getattr(m, "created_at", 0.0) or 0.0))
        self._time.setText(shown)
        self._time.setToolTip(full)
        count = int(getattr(m, "version_count", 1) or 1)
        index = int(getattr(m, "version_index", 0) or 0)
        many = count > 1
        self._prev.setVisible(many)
        self._next.setVisible(many)
        self._version.setVisible(many)
        self._prev.setEnabled(index > 0)
        self._next.setEnabled(index < count - 1)
        self._version.setText(f"{index + 1}/{count}")
        self._meta.setText(self._meta_text())
        if m.role == "assistant":
            self.continue_button.setVisible(self.cut_off)

    @property
    def cut_off(self) -> bool:
        """Stopped before the model finished: by the user, or the app closed or killed."""
        m = self.message
        return not self.streaming and m.role == "assistant" and (
            m.stop_reason == STOP_CANCELLED or (not m.complete and m.stop_reason is None))

    def _meta_text(self) -> str:
        m = self.message
        if m.role != "assistant" or self.streaming:
            return ""
        parts = []
        if m.n_tokens:
            parts.append(self.tr("{count} tokens").format(count=number(m.n_tokens)))
        if m.tokens_per_second:
            parts.append(self.tr("{rate} tok/s").format(rate=f"{m.tokens_per_second:.1f}"))
        if m.stop_reason:
            parts.append(STOP_REASON_TEXT.get(m.stop_reason, m.stop_reason))
        if not m.complete and m.stop_reason is None:
            parts.append(self.tr("interrupted"))
        return " · ".join(parts)

    def show_content(self) -> None:
        if self.message.role == "user":
            self.text.show_plain(self.message.content)
        else:
            self.text.show_markdown(self.message.content)

    def set_steps(self, steps: list[Step]) -> None:
        if steps:
            self.text.set_steps(steps, text=None)

    def begin_stream(self, prefix: list[Step] | None = None) -> None:
        self.streaming = True
        self.refresh()
        self.text.begin_stream(prefix or [])

    def finish_stream(self, message: Message) -> None:
        self.streaming = False
        self.message = message
        self.text.finish_stream()
        self.refresh()

    def text_content(self) -> str:
        if self.text.has_steps:
            return "".join(s.text for s in self.text.steps)
        return str(self.message.content)

    # ------------------------------------------------------------------ actions

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text_content())
        self.copied.emit(self.message.id)

    def start_edit(self) -> None:
        if self._editor is not None:
            return
        self._editor = QPlainTextEdit(self.message.content)
        self._editor.setToolTip(self.tr("Edit the message; Save & send keeps the earlier "
                                        "version"))
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addStretch(1)
        cancel = QPushButton(self.tr("Cancel"))
        cancel.setToolTip(self.tr("Keep the message as it is"))
        send = QPushButton(self.tr("Save && send"))
        send.setObjectName("Primary")
        send.setToolTip(self.tr("Send the edited message as a new version"))
        lay.addWidget(cancel)
        lay.addWidget(send)
        cancel.clicked.connect(self._end_edit)
        send.clicked.connect(self._submit_edit)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(2, self._editor)
        layout.insertWidget(3, row)
        self._edit_row = row
        self.text.hide()
        self._editor.setFocus()

    def _submit_edit(self) -> None:
        if self._editor is None:
            return
        text = self._editor.toPlainText().strip()
        self._end_edit()
        if text:
            self.edit_submitted.emit(self.message.id, text)

    def _end_edit(self) -> None:
        for w in (self._editor, self._edit_row):
            if w is not None:
                w.deleteLater()
        self._editor = self._edit_row = None
        self.text.show()


def message_time(created_at: float, today: QDate | None = None) -> tuple[str, str]:
    """When a message was written: a short form for its header, a long one for its tooltip.

    Today's messages show the time only; older ones the day too, and the year if not this one.
    """
    if created_at <= 0:
        return "", ""
    when = QDateTime.fromMSecsSinceEpoch(round(created_at * 1000))
    locale = QLocale()
    time_text = locale.toString(when.time(), QLocale.FormatType.ShortFormat)
    today = today or QDate.currentDate()
    day = when.date()
    if day == today:
        shown = time_text
    else:
        pattern = (QCoreApplication.translate("MessageBubble", "d MMM")
                   if day.year() == today.year()
                   else QCoreApplication.translate("MessageBubble", "d MMM yyyy"))
        shown = f"{locale.toString(day, pattern)}, {time_text}"
    return shown, locale.toString(when, QLocale.FormatType.LongFormat)
