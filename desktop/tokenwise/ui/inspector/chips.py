"""Token chips: a text as the model sees it, one rounded chip per token, painted in one widget.

Alternating tints separate neighbouring tokens; special tokens are outlined in their own
colour; byte fragments show <0xE5> with the character their run builds. One widget paints
all chips (a prompt has thousands), laid out in a flow that wraps at the widget's width.

Signals: chip_clicked(int index)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from tokenwise.core.interface import TOKEN_BYTE, TOKEN_NORMAL, TOKEN_SPECIAL, Token
from tokenwise.ui.i18n import T
from tokenwise.ui.style import Ink, mix, mono, smaller

GAP = 3.0
PAD_X = 5.0


@dataclass(frozen=True, slots=True)
class ChipItem:
    token_id: int
    text: str  # what the chip shows
    kind: str = TOKEN_NORMAL
    builds: str = ""  # for byte fragments: the character the run builds
    tooltip: str = ""
    heat: QColor | None = None  # a background by probability (reply heatmap)


def token_chip(token: Token) -> ChipItem:
    text = token.display.replace("\n", "↵").replace("\t", "⇥")
    kinds = {"normal": T("normal"), "special": T("special"), "byte": T("byte")}
    tip = [f"id {token.token_id} · {kinds.get(token.kind, token.kind)}",
           T("bytes {hex}").format(hex=token.piece.hex(" ").upper() or "—")]
    if token.builds:
        tip.append(T("part of {character}").format(character=f"'{token.builds}'"))
    return ChipItem(token.token_id, text or "∅", token.kind, token.builds, "\n".join(tip))


class TokenChipsView(QWidget):
    chip_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[ChipItem] = []
        self._widths: list[float] = []
        self._rects: list[QRectF] = []
        self._layout_width = -1
        self._selected = -1
        self._heat = False
        self.tooltip_for: Callable[[int], str] | None = None
        self.setMouseTracking(True)
        sp = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)
        self._fonts()

    def _fonts(self) -> None:
        self._font = mono(self.font())
        self._small = smaller(self._font, 2.5)
        self._fm = QFontMetricsF(self._font)
        self._fm_small = QFontMetricsF(self._small)
        self._chip_h = round(self._fm.height() + 6)
        self._widths = [self._width_of(it) for it in self._items]
        self._layout_width = -1

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == event.Type.FontChange:
            self._fonts()
            self.updateGeometry()
        super().changeEvent(event)

    # ------------------------------------------------------------------ data

    def items(self) -> list[ChipItem]:
        return self._items

    def set_items(self, items: Sequence[ChipItem]) -> None:
        self._items = list(items)
        self._widths = [self._width_of(it) for it in self._items]
        self._layout_width = -1
        self._selected = -1 if self._selected >= len(self._items) else self._selected
        self.updateGeometry()
        self.update()

    def append_items(self, items: Sequence[ChipItem]) -> None:
        self._items += items
        self._widths += [self._width_of(it) for it in items]
        self._layout_width = -1
        self.updateGeometry()
        self.update()

    def set_heat(self, on: bool) -> None:
        self._heat = on
        self.update()

    def heat(self) -> bool:
        return self._heat

    def selected(self) -> int:
        return self._selected

    def set_selected(self, index: int) -> None:
        if index == self._selected:
            return
        self._selected = index
        self.update()

    def chip_rect(self, index: int) -> QRectF:
        self._ensure_layout()
        return self._rects[index]

    # ------------------------------------------------------------------ layout

    def _width_of(self, item: ChipItem) -> float:
        w = self._fm.horizontalAdvance(item.text) + 2 * PAD_X
        if item.builds:
            w += self._fm_small.horizontalAdvance("→" + item.builds) + 3
        return max(w, 14.0)

    def _flow(self, width: float) -> tuple[list[QRectF], float]:
        x = y = 0.0
        rects = []
        for w in self._widths:
            w = min(w, max(20.0, width))
            if x > 0 and x + w > width:
                x = 0.0
                y += self._chip_h + GAP
            rects.append(QRectF(x, y, w, self._chip_h))
            x += w + GAP
        return rects, (y + self._chip_h if rects else self._chip_h)

    def _ensure_layout(self) -> None:
        if self._layout_width != self.width():
            self._rects, _ = self._flow(self.width())
            self._layout_width = self.width()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return int(self._flow(width)[1]) + 2

    def sizeHint(self) -> QSize:
        return QSize(360, self.heightForWidth(max(self.width(), 360)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._layout_width = -1
        super().resizeEvent(event)

    def index_at(self, pos: QPointF) -> int:
        self._ensure_layout()
        for i, r in enumerate(self._rects):
            if r.top() > pos.y():
                break
            if r.contains(pos):
                return i
        return -1

    # ------------------------------------------------------------------ events

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        i = self.index_at(event.position())
        if i >= 0 and event.button() == Qt.MouseButton.LeftButton:
            self.set_selected(i)
            self.chip_clicked.emit(i)

    def event(self, event: QEvent) -> bool:
        if event.type() == event.Type.ToolTip and isinstance(event, QHelpEvent):
            i = self.index_at(QPointF(event.pos()))
            if i >= 0:
                tip = self.tooltip_for(i) if self.tooltip_for else self._items[i].tooltip
                QToolTip.showText(event.globalPos(), tip, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        self._ensure_layout()
        ink = Ink.of(self)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        clip = QRectF(event.rect())
        tints = (mix(ink.accent, ink.base, 0.86 if not ink.dark else 0.78),
                 mix(ink.second, ink.base, 0.84 if not ink.dark else 0.78))
        for i, r in enumerate(self._rects):
            if r.bottom() < clip.top():
                continue
            if r.top() > clip.bottom():
                break
            self._paint_chip(p, ink, i, r, tints)
        p.end()

    def _paint_chip(self, p: QPainter, ink: Ink, i: int, r: QRectF,
                    tints: tuple[QColor, QColor]) -> None:
        item = self._items[i]
        selected = i == self._selected
        rr = r.adjusted(0.5, 0.5, -0.5, -0.5)
        if selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(ink.accent)
        elif item.kind == TOKEN_SPECIAL:
            p.setPen(QPen(ink.special, 1.2))
            p.setBrush(mix(ink.special, ink.base, 0.88 if not ink.dark else 0.8))
        elif item.kind == TOKEN_BYTE:
            p.setPen(QPen(ink.byte, 1.0, Qt.PenStyle.DashLine))
            p.setBrush(mix(ink.byte, ink.base, 0.88 if not ink.dark else 0.8))
        else:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(item.heat if self._heat and item.heat is not None else tints[i % 2])
        p.drawRoundedRect(rr, 4, 4)
        color = ink.accent_text if selected else (
            ink.special if item.kind == TOKEN_SPECIAL else
            ink.byte if item.kind == TOKEN_BYTE else ink.text)
        p.setPen(color)
        p.setFont(self._font)
        text_w = r.width() - 2 * PAD_X
        if item.builds:
            text_w -= self._fm_small.horizontalAdvance("→" + item.builds) + 3
        text = item.text
        x = r.left() + PAD_X
        if text.startswith(" ") and item.kind != TOKEN_SPECIAL and len(text) > 1:
            # a leading space as a small dot: ' the' and 'the' are different tokens
            space = self._fm.horizontalAdvance(" ")
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(ink.accent_text if selected else ink.muted)
            p.drawEllipse(QPointF(x + space / 2, r.center().y() + 0.5), 1.5, 1.5)
            p.setPen(color)
            x += space
            text_w -= space
            text = text[1:]
        if self._fm.horizontalAdvance(text) > text_w:
            text = self._fm.elidedText(text, Qt.TextElideMode.ElideRight, text_w)
        p.drawText(QRectF(x, r.top(), text_w + 1, r.height()),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        if item.builds:
            p.setFont(self._small)
            p.setPen(ink.accent_text if selected else ink.muted)
            p.drawText(QRectF(r.right() - PAD_X - self._fm_small.horizontalAdvance(
                "→" + item.builds) - 1, r.top(), r.width(), r.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "→" + item.builds)


def step_chip(token_id: int, label: str, kind: str, tooltip: str,
              heat: QColor | None) -> ChipItem:
    return ChipItem(token_id, label or "∅", kind, "", tooltip, heat)
