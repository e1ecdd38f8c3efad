"""A word-wrapped text that asks its layout for a new height only when its line count changes.

A QLabel invalidates every layout up to the window on each setText, which repaints the
whole window; the step header changes with every selected step and every slider move, so
it uses this instead and costs one small repaint.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextDocument,
)
from PySide6.QtWidgets import QSizePolicy, QWidget


class TextBlock(QWidget):
    def __init__(self, parent: QWidget | None = None, *, rich: bool = False,
                 muted: bool = False) -> None:
        super().__init__(parent)
        self._rich = rich
        self._muted = muted
        self._text = ""
        self._doc = QTextDocument()
        self._doc.setDocumentMargin(0)
        self._height = 0
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # parents need no repaint
        sp = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)
        self._apply_font()

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        if self._rich:
            self._doc.setHtml(text)
        else:
            self._doc.setPlainText(text)
        self._doc.setTextWidth(max(10, self.width()))
        self._refit()
        self.update()

    def _apply_font(self) -> None:
        self._doc.setDefaultFont(self.font())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == event.Type.FontChange:
            self._apply_font()
            self._refit()
        super().changeEvent(event)

    def _refit(self) -> None:
        height = self.heightForWidth(max(10, self.width()))
        if height != self._height:
            self._height = height
            self.updateGeometry()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if not self._text:
            return 0
        self._doc.setTextWidth(max(10, width))
        return int(self._doc.size().height() + 0.999)

    def sizeHint(self) -> QSize:
        return QSize(200, self.heightForWidth(max(10, self.width() or 200)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._doc.setTextWidth(max(10, self.width()))
        self._refit()
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(event.rect(), self.palette().color(self.backgroundRole()))
        if self._text:
            pal = QPalette(self.palette())
            role = QPalette.ColorRole.PlaceholderText if self._muted \
                else QPalette.ColorRole.WindowText
            pal.setColor(QPalette.ColorRole.Text, pal.color(role))
            ctx = QAbstractTextDocumentLayout.PaintContext()
            ctx.palette = pal
            self._doc.setTextWidth(max(10, self.width()))
            self._doc.documentLayout().draw(p, ctx)
        p.end()
