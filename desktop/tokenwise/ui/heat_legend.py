"""The key to the probability colours: a gradient from unlikely to likely, between two
labels. The chat view and the tokens panel show the same one."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFontMetricsF, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from tokenwise.ui.style import Ink, smaller
from tokenwise.ui.theme import heat_color

BAR_W = 96


class HeatLegend(QWidget):
    def __init__(self, low: str = "0%", high: str = "100%", parent: QWidget | None = None,
                 *, tooltip: str = "") -> None:
        super().__init__(parent)
        self.low, self.high = low, high
        self._font = smaller(self.font(), 2.0)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setToolTip(tooltip or self.tr("Token colour by the probability the model gave it"))
        self.setAccessibleName(self.tr("Colour key: {low} to {high}").format(low=low, high=high))

    def sizeHint(self) -> QSize:
        fm = QFontMetricsF(self._font)
        return QSize(int(fm.horizontalAdvance(self.low) + fm.horizontalAdvance(self.high)
                         + BAR_W + 8), int(fm.height() + 4))

    def paintEvent(self, event: QPaintEvent) -> None:
        ink = Ink.of(self)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setFont(self._font)
        fm = QFontMetricsF(self._font)
        left_w = fm.horizontalAdvance(self.low) + 4
        right_w = fm.horizontalAdvance(self.high) + 4
        bar = QRectF(left_w, 3, self.width() - left_w - right_w, self.height() - 6)
        grad = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for t in (0.0, 0.25, 0.5, 0.75, 1.0):
            grad.setColorAt(t, heat_color(t, ink.dark))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(grad)
        p.drawRoundedRect(bar, 3, 3)
        p.setPen(ink.muted)
        p.drawText(QRectF(0, 0, left_w, self.height()), Qt.AlignmentFlag.AlignVCenter, self.low)
        p.drawText(QRectF(bar.right() + 4, 0, right_w, self.height()),
                   Qt.AlignmentFlag.AlignVCenter, self.high)
        p.end()
