"""The probability heatmap: colours by probability, its legend, and the top-5 hover text.

The chat view and the inspector's reply chips share these, so a token has one colour
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from tokenwise.core.interface import TOKEN_BYTE, TOKEN_NORMAL
from tokenwise.core.trace.explain import percent as short_percent
from tokenwise.core.trace.records import Step
from tokenwise.ui import theme
from tokenwise.ui.inspector.chips import ChipItem
from tokenwise.ui.inspector.style import Ink, smaller


def heat_color(prob: float, dark: bool) -> QColor:
    return theme.heat_color(prob, dark)


def alternatives_text(step: Step, n: int = 5) -> str:
    """The hover text of a reply token: its probability and the top-``n`` alternatives."""
    head = f"'{step.label}'  {short_percent(step.prob)} (rank {step.rank})"
    if step.forced:
        head += " · forced by a branch"
    lines = [head, "top candidates:"]
    for i, c in enumerate(step.candidates[:n], start=1):
        mark = "▸" if c.token_id == step.token_id else " "
        lines.append(f"{mark} {i}. '{c.label}'  {short_percent(c.prob)}")
    return "\n".join(lines)


def step_chips(steps: Sequence[Step], dark: bool) -> list[ChipItem]:
    items = []
    for s in steps:
        try:
            s.piece.decode("utf-8")
            kind = TOKEN_NORMAL
        except UnicodeDecodeError:
            kind = TOKEN_BYTE
        items.append(ChipItem(s.token_id, s.label or "∅", kind, "", "",
                              heat_color(s.prob, dark)))
    return items


class HeatLegend(QWidget):
    """A small gradient from unlikely to likely, the key to the heatmap's colours."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._font = smaller(self.font(), 2.0)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setToolTip("Token colour by the probability the model gave it")

    def sizeHint(self) -> QSize:
        fm = QFontMetricsF(self._font)
        return QSize(int(fm.horizontalAdvance("0%") + fm.horizontalAdvance("100%") + 96),
                     int(fm.height() + 4))

    def paintEvent(self, event: QPaintEvent) -> None:
        ink = Ink.of(self)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setFont(self._font)
        fm = QFontMetricsF(self._font)
        left_w = fm.horizontalAdvance("0%") + 4
        right_w = fm.horizontalAdvance("100%") + 4
        bar = QRectF(left_w, 3, self.width() - left_w - right_w, self.height() - 6)
        grad = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for t in (0.0, 0.25, 0.5, 0.75, 1.0):
            grad.setColorAt(t, heat_color(t, ink.dark))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(grad)
        p.drawRoundedRect(bar, 3, 3)
        p.setPen(ink.muted)
        p.drawText(QRectF(0, 0, left_w, self.height()), Qt.AlignmentFlag.AlignVCenter, "0%")
        p.drawText(QRectF(bar.right() + 4, 0, right_w, self.height()),
                   Qt.AlignmentFlag.AlignVCenter, "100%")
        p.end()
