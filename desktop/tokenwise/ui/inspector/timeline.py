"""The reply's timeline: the drawn token's probability and the entropy at every step.

Low points show where the model was unsure or took an unlikely token; clicking (or dragging
across) the chart selects that step, and so do the arrow keys (Home, End, Page Up and Down
too) once it has the keyboard focus, which a ring shows. Streaming appends points; paths
are rebuilt lazily.

Signals: step_clicked(int)
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QFocusEvent,
    QFontMetricsF,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from tokenwise.core.formatting import percent_column
from tokenwise.core.trace.records import Step
from tokenwise.ui.style import Ink, smaller, tabular

TOP = 20.0
BOTTOM = 14.0


class TimelineChart(QWidget):
    step_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probs: list[float] = []
        self._entropy: list[float] = []
        self._labels: list[str] = []
        self._selected = -1
        self._paths: tuple[list[QRectF], QPolygonF] | None = None
        self._path_key: tuple[int, int, int, float] = (0, 0, 0, 0.0)
        self._max_entropy = 1.0
        self.setMinimumHeight(96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(self.tr("Timeline of the reply's steps"))
        self.setAccessibleDescription(self.tr("Probability and entropy of every step; the "
                                              "arrow keys choose a step"))
        self._set_margins()

    def _set_margins(self) -> None:
        self._small = tabular(smaller(self.font(), 2.0))
        fm = QFontMetricsF(self._small)
        self._left = fm.horizontalAdvance("100%") + 8
        self._right = fm.horizontalAdvance("10.0") + 8

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == event.Type.FontChange:
            self._set_margins()
            self._paths = None
        super().changeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(400, 110)

    # ------------------------------------------------------------------ data

    def set_steps(self, steps: Sequence[Step]) -> None:
        self._probs = [s.prob for s in steps]
        self._entropy = [s.entropy for s in steps]
        self._labels = [s.label for s in steps]
        # a server reports no entropy (NaN): those steps draw no line point
        self._max_entropy = max((e for e in self._entropy if e == e), default=1.0) or 1.0
        self._paths = None
        self.update()

    def append_steps(self, steps: Sequence[Step], *, repaint: bool = True) -> None:
        self._probs += [s.prob for s in steps]
        self._entropy += [s.entropy for s in steps]
        self._labels += [s.label for s in steps]
        self._max_entropy = max(self._max_entropy,
                                *(s.entropy for s in steps if s.entropy == s.entropy), 1e-9)
        self._paths = None
        if repaint:
            self.update()

    def count(self) -> int:
        return len(self._probs)

    def selected(self) -> int:
        return self._selected

    def set_selected(self, index: int) -> None:
        if index != self._selected:
            self._selected = index
            if 0 <= index < len(self._probs):
                self.setAccessibleDescription(self.step_text(index))
            self.update()

    def step_text(self, i: int) -> str:
        """The step's numbers in words: what the tooltip and a screen reader say."""
        entropy = self._entropy[i]
        return self.tr(
            "step {index}: {token}\nprobability {probability} · entropy {entropy}"
            ).format(index=i + 1, token=f"'{self._labels[i]}'",
                     probability=percent_column(self._probs[i]),
                     entropy=self.tr("{0} nats").format(f"{entropy:.2f}")
                     if entropy == entropy else self.tr("unavailable"))

    # ------------------------------------------------------------------ geometry

    def _plot(self) -> QRectF:
        return QRectF(self._left, TOP, max(10.0, self.width() - self._left - self._right),
                      max(10.0, self.height() - TOP - BOTTOM))

    def index_at(self, x: float) -> int:
        n = len(self._probs)
        if n == 0:
            return -1
        plot = self._plot()
        i = int((x - plot.left()) / (plot.width() / n))
        return min(n - 1, max(0, i))

    # ------------------------------------------------------------------ events

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pick(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._pick(event)

    def _pick(self, event: QMouseEvent) -> None:
        self._choose(self.index_at(event.position().x()))

    def _choose(self, i: int, *, always: bool = False) -> None:
        if i >= 0 and (always or i != self._selected):
            self.set_selected(i)
            self.step_clicked.emit(i)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left / Right: the step before or after; Home / End: the first or last; Page Up /
        Down: ten steps. With Ctrl held, Right is step mode's key, not this one's."""
        n = len(self._probs)
        key = Qt.Key(event.key())
        moves = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_PageUp: -10,
                 Qt.Key.Key_PageDown: 10}
        if n and event.modifiers() == Qt.KeyboardModifier.NoModifier and key in moves:
            start = self._selected if self._selected >= 0 else (n if moves[key] < 0 else -1)
            self._choose(min(n - 1, max(0, start + moves[key])), always=True)
        elif n and key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            self._choose(0 if key == Qt.Key.Key_Home else n - 1, always=True)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.update()

    def event(self, event: QEvent) -> bool:
        if event.type() == event.Type.ToolTip and isinstance(event, QHelpEvent):
            i = self.index_at(event.pos().x())
            if i >= 0:
                QToolTip.showText(event.globalPos(), self.step_text(i), self)
            return True
        return super().event(event)

    # ------------------------------------------------------------------ painting

    def _build_paths(self, plot: QRectF) -> tuple[list[QRectF], QPolygonF]:
        """Probability as one pixel-aligned bar per step, entropy as a polyline."""
        key = (len(self._probs), self.width(), self.height(), self._max_entropy)
        if self._paths is not None and key == self._path_key:
            return self._paths
        bars: list[QRectF] = []
        line = QPolygonF()
        n = len(self._probs)
        slot = plot.width() / max(1, n)
        width = max(1.0, round(slot * 0.7)) if slot >= 2 else 1.0
        stride = max(1, int(1 / slot)) if slot < 1 else 1  # at most ~one bar per pixel
        left, bottom, height = plot.left(), plot.bottom(), plot.height()
        e_scale = height / self._max_entropy
        probs, entropy = self._probs, self._entropy
        for i in range(0, n, stride):
            prob = max(probs[i:i + stride]) if stride > 1 else probs[i]
            prob = prob if prob == prob else 0.0  # NaN: a server that sent no probability
            x = left + slot * (i + 0.5)
            h = max(1.0, round(height * prob))
            bars.append(QRectF(round(x - width / 2), bottom - h, width, h))
            if entropy[i] == entropy[i]:
                line.append(QPointF(x, bottom - entropy[i] * e_scale))
        self._paths, self._path_key = (bars, line), key
        return self._paths

    def _bar_x(self, i: int, plot: QRectF) -> float:
        slot = plot.width() / max(1, len(self._probs))
        return plot.left() + slot * (i + 0.5)

    def paintEvent(self, event: QPaintEvent) -> None:
        ink = Ink.of(self)
        p = QPainter(self)
        p.fillRect(self.rect(), ink.base)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        plot = self._plot()
        p.setFont(self._small)
        fm = QFontMetricsF(self._small)
        # grid and axes
        p.setPen(QPen(ink.faint, 1))
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - plot.height() * frac
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(ink.accent)
        for frac, text in ((1.0, "100%"), (0.5, "50%"), (0.0, "0%")):
            y = plot.bottom() - plot.height() * frac
            p.drawText(QRectF(0, y - fm.height() / 2, self._left - 5, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        p.setPen(ink.second)
        p.drawText(QRectF(plot.right() + 5, plot.top() - fm.height() / 2, self._right, fm.height()),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   f"{self._max_entropy:.1f}")
        p.drawText(QRectF(plot.right() + 5, plot.bottom() - fm.height() / 2, self._right,
                          fm.height()), Qt.AlignmentFlag.AlignLeft, "0")
        # legend
        self._legend(p, ink, fm)
        if not self._probs:
            p.setPen(ink.muted)
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.tr("No reply yet"))
            self._focus_ring(p, ink)
            p.end()
            return
        bars, line = self._build_paths(plot)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # crisp, and cheap
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ink.accent)
        p.drawRects(bars)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setBrush(Qt.BrushStyle.NoBrush)
        # a 1 px antialiased pen takes Qt's fast cosmetic path (0.2 ms for 400 points); a
        # 1.4 px one is stroked as a path (15 ms): two 1 px lines half a pixel apart instead
        p.setPen(QPen(ink.second, 1.0))
        p.drawPolyline(line)
        p.translate(0, 0.5)
        p.drawPolyline(line)
        p.translate(0, -0.5)
        if 0 <= self._selected < len(self._probs):
            x = self._bar_x(self._selected, plot)
            p.setPen(QPen(ink.text, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(QPen(ink.base, 2))
            p.setBrush(ink.accent)
            p.drawEllipse(QPointF(x, plot.bottom() - plot.height() * self._probs[self._selected]),
                          4.5, 4.5)
        self._focus_ring(p, ink)
        p.end()

    def _focus_ring(self, p: QPainter, ink: Ink) -> None:
        if self.hasFocus():
            p.setPen(QPen(ink.accent, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 4, 4)

    def _legend(self, p: QPainter, ink: Ink, fm: QFontMetricsF) -> None:
        x = self._left
        for color, text in ((ink.accent, self.tr("probability of the drawn token")),
                            (ink.second, self.tr("entropy (nats)"))):
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawRoundedRect(QRectF(x, 6, 10, 4), 2, 2)
            p.setPen(ink.muted)
            w = fm.horizontalAdvance(text)
            p.drawText(QRectF(x + 14, 0, w + 4, 16),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            x += w + 30
