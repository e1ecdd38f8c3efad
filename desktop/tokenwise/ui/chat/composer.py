"""The message box: Enter sends, Shift+Enter breaks the line, Esc stops the reply."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QPushButton, QWidget

MAX_LINES = 8


class ComposerEdit(QPlainTextEdit):
    """A text box that grows with its text, up to MAX_LINES.

    Signals:
        submitted(): Enter or Ctrl+Enter was pressed.
    """

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ComposerEdit")
        self.setPlaceholderText(self.tr("Message the model…  (Enter sends, Shift+Enter for a "
                                        "new line)"))
        self.setToolTip(self.tr("Type a message. Enter or Ctrl+Enter sends, Shift+Enter adds a "
                                "line, Esc stops a reply. Ctrl+L comes back here."))
        self.setTabChangesFocus(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().contentsChanged.connect(self._grow)
        self._grow()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        super().keyPressEvent(event)

    def _grow(self) -> None:
        line = self.fontMetrics().lineSpacing()
        lines = max(1, min(MAX_LINES, int(self.document().size().height())))
        margin = int(2 * self.document().documentMargin()) + 2 * self.frameWidth()
        self.setFixedHeight(lines * line + margin + 4)
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded if lines >= MAX_LINES
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)


class Composer(QWidget):
    """The edit box with Send / Stop.

    Signals:
        send_requested(str): the text to send (already stripped, never empty).
        stop_requested(): the user wants the reply to stop.
    """

    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(24, 8, 24, 16)
        frame = QFrame()
        frame.setObjectName("ComposerFrame")
        row = QHBoxLayout(frame)
        row.setContentsMargins(12, 8, 8, 8)
        row.setSpacing(8)
        self.edit = ComposerEdit()
        self.edit.submitted.connect(self._submit)
        row.addWidget(self.edit, 1)
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setObjectName("Primary")
        self.send_button.setToolTip(self.tr("Send the message (Enter)"))
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.clicked.connect(self._submit)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop the reply (Esc)"))
        self.stop_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.hide()
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        outer.addWidget(frame)
        self._busy = False
        self._ready = False  # until a model has loaded; the main window says when
        self.send_button.setEnabled(False)
        self.waiting_for_model = False  # Enter was pressed before the model had loaded

    def set_busy(self, busy: bool) -> None:
        """While a reply streams: Stop instead of Send."""
        self._busy = busy
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)

    def set_ready(self, ready: bool) -> None:
        """Whether a model is loaded to answer. A message sent while it loaded goes now."""
        self._ready = ready
        self.send_button.setEnabled(ready)
        if ready and self.waiting_for_model:
            self.waiting_for_model = False
            self.send_button.setText(self.tr("Send"))
            self._submit()

    def _submit(self) -> None:
        text = self.edit.toPlainText().strip()
        if not text or self._busy:
            return
        if not self._ready:  # kept in the box, and sent as soon as the model has loaded
            self.waiting_for_model = True
            self.send_button.setText(self.tr("Sends when loaded"))
            return
        self.edit.clear()
        self.send_requested.emit(text)
