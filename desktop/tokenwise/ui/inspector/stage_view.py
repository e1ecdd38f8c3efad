"""The stage view: one row per candidate, one column per distribution, a bar in every cell.

Painted with QPainter (no widget per cell) so a what-if redraw of 50 rows stays far below a
frame. Rows follow the order the truncation stages see, so each stage's survivors form a
prefix; a cell is blank where the token was cut. The drawn token's row is highlighted and
the top-p cut is drawn as a dashed line over the cumulative mass of the top-p input.

Signals: candidate_clicked(int token_id), candidate_context_requested(int token_id, QPoint)
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFontMetricsF,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from tokenwise.core.formatting import percent_column, percent_compact
from tokenwise.core.sampling.stages import STAGE_HELP, STAGE_SHORT_TITLES, STAGE_TOP_P, stage_label
from tokenwise.ui.inspector.stage_table import EMPTY_TABLE, RAW, Row, StageTable
from tokenwise.ui.style import Ink, bold, smaller, tabular

PAD = 8
RANK_W = 30.0
MIN_LABEL_W = 84.0
MIN_COL_W = 52.0
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class StageView(QWidget):
    """Paints a StageTable. Clicking an alternative candidate asks to branch with it."""

    candidate_clicked = Signal(int)
    candidate_context_requested = Signal(int, QPoint)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._table = EMPTY_TABLE
        self._capacity = 13
        self._hover = -1
        self._elided: dict[tuple[str, int], str] = {}
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # step mode keys work after a click
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._fonts_changed()

    # ------------------------------------------------------------------ data

    def table(self) -> StageTable:
        return self._table

    def set_table(self, table: StageTable) -> None:
        self._table = table
        self._hover = -1
        if len(table.rows) > self._capacity:
            self.set_capacity(len(table.rows))
        self.update()

    def set_capacity(self, rows: int) -> None:
        """Reserve room for this many rows, so that selecting another step (one row more or
        less) does not resize the view: a resize would relayout and repaint the panel."""
        if rows != self._capacity:
            self._capacity = rows
            self.updateGeometry()

    # ------------------------------------------------------------------ geometry

    def _fonts_changed(self) -> None:
        base = self.font()
        self._num_font = tabular(smaller(base, 0.5))
        self._head_font = bold(smaller(base, 1.0))
        self._sub_font = tabular(smaller(base, 2.0))
        self._label_font = base
        self._label_bold = bold(base)
        fm = QFontMetricsF(base)
        self._row_h = max(22.0, round(fm.height() + 9))
        self._head_h = round(QFontMetricsF(self._head_font).height()
                             + QFontMetricsF(self._sub_font).height() + 12)
        self._fm_num = QFontMetricsF(self._num_font)
        # QStaticText is placed by the top of its line: centre the digits' cap height
        self._num_dy = self._fm_num.capHeight() / 2 - self._fm_num.ascent()
        # below this cell width the figures switch to the compact form (41%, 0.3%)
        self._wide_cell = self._fm_num.horizontalAdvance("<0.01%") + 16
        self._statics: dict[str, tuple[QStaticText, float]] = {}
        self._fm_label = fm
        self._fm_sub = QFontMetricsF(self._sub_font)
        self._elided.clear()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (event.Type.FontChange, event.Type.PaletteChange):
            self._fonts_changed()
            self.updateGeometry()
        super().changeEvent(event)

    def sizeHint(self) -> QSize:
        rows = max(len(self._table.rows), self._capacity) + 1  # + the "all other tokens" row
        return QSize(480, int(self._head_h + rows * self._row_h + PAD))

    def minimumSizeHint(self) -> QSize:
        return QSize(300, self.sizeHint().height())

    def _layout(self) -> tuple[float, float, float]:
        """x of the first stage column, label width, column width."""
        n = max(1, len(self._table.columns))
        width = self.width() - 2 * PAD
        label_w = max(MIN_LABEL_W, min(140.0, width * 0.21))
        col_w = max(MIN_COL_W, (width - RANK_W - label_w) / n)
        return PAD + RANK_W + label_w, label_w, col_w

    def row_at(self, y: float) -> int:
        i = int((y - self._head_h) // self._row_h)
        return i if 0 <= i < len(self._table.rows) and y >= self._head_h else -1

    def row_rect(self, i: int) -> QRectF:
        return QRectF(PAD / 2, self._head_h + i * self._row_h, self.width() - PAD,
                      self._row_h)

    # ------------------------------------------------------------------ events

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        row = self.row_at(event.position().y())
        if row != self._hover:
            old, self._hover = self._hover, row
            for r in (old, row):
                if r >= 0:
                    self.update(self.row_rect(r).toAlignedRect())
            self.setCursor(Qt.CursorShape.PointingHandCursor if row >= 0 and not
                           self._table.rows[row].chosen else Qt.CursorShape.ArrowCursor)

    def leaveEvent(self, event: QEvent) -> None:
        if self._hover >= 0:
            old, self._hover = self._hover, -1
            self.update(self.row_rect(old).toAlignedRect())
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row = self.row_at(event.position().y())
        if row >= 0 and not self._table.rows[row].chosen:
            self.candidate_clicked.emit(self._table.rows[row].token_id)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        row = self.row_at(event.pos().y())
        if row >= 0:
            self.candidate_context_requested.emit(self._table.rows[row].token_id,
                                                  event.globalPos())

    def event(self, event: QEvent) -> bool:
        if event.type() == event.Type.ToolTip and isinstance(event, QHelpEvent):
            row = self.row_at(event.pos().y())
            column = self.column_at(event.pos().x())
            if event.pos().y() < self._head_h and column is not None:
                QToolTip.showText(event.globalPos(), self._column_tooltip(column), self)
            elif row >= 0:
                QToolTip.showText(event.globalPos(), self._tooltip(self._table.rows[row]), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def column_at(self, x: float) -> int | None:
        x0, _, col_w = self._layout()
        c = int((x - x0) // col_w) if x >= x0 else -1
        return c if 0 <= c < len(self._table.columns) else None

    def _column_tooltip(self, c: int) -> str:
        col = self._table.columns[c]
        what = STAGE_HELP.get(col.name, "")
        kept = (self.tr("{count} tokens in play.").format(count=f"{col.survivors:,}")
                if col.survivors else "")
        return f"{stage_label(col.name, col.label)}: {what} {kept}".strip()

    def _tooltip(self, row: Row) -> str:
        cells = "  ·  ".join(
            f"{c.title} {percent_column(p) if p == p else self.tr('not stored')}" for c, p in
            zip(self._table.columns, row.probs, strict=False) if p is not None)
        where = (self.tr("raw rank {rank}").format(rank=row.raw_rank) if row.raw_rank
                 else self.tr("below the stored top-K"))
        action = self.tr("the token this step chose") if row.chosen else \
            self.tr("click to continue the reply with this token here")
        return f"'{row.label}'  (id {row.token_id}, {where})\n{cells}\n{action}"

    # ------------------------------------------------------------------ painting

    def _elide(self, text: str, width: float) -> str:
        key = (text, int(width))
        out = self._elided.get(key)
        if out is None:
            out = self._fm_label.elidedText(text, Qt.TextElideMode.ElideRight, width)
            if len(self._elided) > 4096:
                self._elided.clear()
            self._elided[key] = out
        return out

    def _static(self, text: str) -> tuple[QStaticText, float]:
        """Shaped once, drawn many times: most of a repaint is these short numbers."""
        hit = self._statics.get(text)
        if hit is None:
            st = QStaticText(text)
            st.setTextFormat(Qt.TextFormat.PlainText)
            st.prepare(QTransform(), self._num_font)
            hit = (st, st.size().width())
            if len(self._statics) > 8192:
                self._statics.clear()
            self._statics[text] = hit
        return hit

    def paintEvent(self, event: QPaintEvent) -> None:
        ink = Ink.of(self)
        p = QPainter(self)
        p.fillRect(event.rect(), ink.base)
        table = self._table
        if not table.columns:
            p.setPen(ink.muted)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       self.tr("Select a token of a reply to see its candidates."))
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        x0, label_w, col_w = self._layout()
        clip = event.rect()
        if clip.top() < self._head_h:
            self._paint_header(p, ink, x0, col_w)
        first = max(0, int((clip.top() - self._head_h) // self._row_h))
        last = min(len(table.rows), int((clip.bottom() - self._head_h) // self._row_h) + 1)
        top_p_col = table.column_index(STAGE_TOP_P)
        self._paint_rows(p, ink, first, last, x0, label_w, col_w, top_p_col)
        self._paint_footer(p, ink, x0, label_w, col_w)
        if table.top_p_keep is not None and top_p_col is not None:
            self._paint_top_p_cut(p, ink, x0, col_w, top_p_col)
        p.end()

    def _paint_header(self, p: QPainter, ink: Ink, x0: float, col_w: float) -> None:
        table = self._table
        h_title = QFontMetricsF(self._head_font).height()
        for c, col in enumerate(table.columns):
            x = x0 + c * col_w
            final = c == len(table.columns) - 1 and col.name != RAW
            p.setFont(self._head_font)
            p.setPen(ink.accent if final else ink.text)
            title = self.tr("final") if final and col.name != "greedy" else col.title
            fm_head = QFontMetricsF(self._head_font)
            if fm_head.horizontalAdvance(title) > col_w - 6 and title == col.title:
                title = STAGE_SHORT_TITLES.get(col.name, title)
            title = fm_head.elidedText(title, Qt.TextElideMode.ElideRight, col_w - 6)
            p.drawText(QRectF(x + 4, 4, col_w - 6, h_title), Qt.AlignmentFlag.AlignLeft, title)
            p.setFont(self._sub_font)
            p.setPen(ink.muted)
            if col.name == RAW:
                sub = f"{col.survivors:,}" if col.survivors else self.tr("whole vocabulary")
            else:
                setting = col.label.split(" ", 1)[1] if " " in col.label else ""
                setting = "" if setting == "off" or setting.startswith("(") else setting
                sub = self.tr("{count} left").format(count=f"{col.survivors:,}") + (
                    f" · {setting}" if setting else "")
                if col.label.endswith(" off"):
                    sub = self.tr("off") + f" · {col.survivors:,}"
                if self._fm_sub.horizontalAdvance(sub) > col_w - 6:
                    sub = f"{col.survivors:,}"  # narrow: the survivor count alone
            sub = self._fm_sub.elidedText(sub, Qt.TextElideMode.ElideRight, col_w - 6)
            p.drawText(QRectF(x + 4, 5 + h_title, col_w - 6, self._fm_sub.height()),
                       Qt.AlignmentFlag.AlignLeft, sub)
        if table.preview:
            p.setFont(self._sub_font)
            text = self.tr("preview")
            w = self._fm_sub.horizontalAdvance(text) + 12
            r = QRectF(PAD, 6, w, self._fm_sub.height() + 4)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(ink.second)
            p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
            p.setPen(QColor("white"))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
        p.setPen(QPen(ink.faint, 1))
        y = self._head_h - 2
        p.drawLine(QPointF(PAD, y), QPointF(self.width() - PAD, y))

    def _paint_rows(self, p: QPainter, ink: Ink, first: int, last: int, x0: float,
                    label_w: float, col_w: float, top_p_col: int | None) -> None:
        """Rows in passes (bands, labels, bars by colour, numbers): few painter state changes."""
        rows = self._table.rows
        h = self._row_h
        bar_h = h - 10
        cw = col_w - 8
        fmt = percent_column if cw >= self._wide_cell else percent_compact
        n_cols = len(self._table.columns)
        bands: list[tuple[QRectF, QColor]] = []
        cum_bars: list[QRectF] = []
        bars: list[list[QRectF]] = [[], [], [], []]  # raw, stage, final, chosen
        numbers: list[tuple[float, float, str]] = []  # right edge, y centre, text
        chosen_numbers: list[tuple[QRectF, float, float, str]] = []
        small: list[tuple[float, float]] = []
        dashes: list[QLineF] = []
        for i in range(first, last):
            row = rows[i]
            y = self._head_h + i * h
            if row.chosen or i == self._hover:
                bands.append((QRectF(PAD / 2, y + 1, self.width() - PAD, h - 2),
                              self._chosen_band(ink) if row.chosen else ink.faint))
            by = y + 5
            mid = y + h / 2
            for c, prob in enumerate(row.probs):
                cx = x0 + c * col_w + 3
                if c == top_p_col and row.cumulative is not None:
                    cum_bars.append(QRectF(cx, by, max(3.0, cw * min(1.0, row.cumulative)),
                                           bar_h))
                if prob is None:
                    dashes.append(QLineF(cx + 2, mid, cx + 9, mid))
                    continue
                if prob != prob:  # NaN: kept, but below the stored candidates
                    small.append((cx + cw - 3, mid))
                    continue
                rect = QRectF(cx, by, max(2.0, cw * min(1.0, prob)), bar_h)
                if row.chosen:
                    bars[3].append(rect)
                    chosen_numbers.append((rect, cx + cw - 3, mid, fmt(prob)))
                else:
                    bars[0 if c == 0 else 2 if c == n_cols - 1 else 1].append(rect)
                    numbers.append((cx + cw - 3, mid, fmt(prob)))
        p.setPen(Qt.PenStyle.NoPen)
        for rect, color in bands:
            p.setBrush(color)
            p.drawRoundedRect(rect, 5, 5)
        self._paint_labels(p, ink, first, last, label_w)
        p.setPen(Qt.PenStyle.NoPen)
        if cum_bars:
            p.setBrush(self._cum_color(ink))
            for rect in cum_bars:
                p.drawRoundedRect(rect, 3, 3)
        for rects, color in zip(bars, self._bar_colors(ink), strict=True):
            p.setBrush(color)
            for rect in rects:
                p.drawRoundedRect(rect, 3, 3)
        if dashes:
            p.setPen(QPen(ink.faint, 1.5))
            p.drawLines(dashes)
        p.setFont(self._num_font)
        p.setPen(ink.text)
        for right, mid, text in numbers:
            st, w = self._static(text)
            p.drawStaticText(QPointF(right - w, mid + self._num_dy), st)
        if small:
            p.setPen(ink.muted)
            st, w = self._static("small")
            for right, mid in small:
                p.drawStaticText(QPointF(right - w, mid + self._num_dy), st)
        for bar, right, mid, text in chosen_numbers:
            # on a solid bar the figures switch colour exactly where the bar ends
            st, w = self._static(text)
            pos = QPointF(right - w, mid + self._num_dy)
            p.save()
            p.setClipRect(bar)
            p.setPen(ink.accent_text)
            p.drawStaticText(pos, st)
            p.setClipRect(QRectF(bar.right(), bar.top() - 2, right - bar.right() + 2,
                                 bar.height() + 4))
            p.setPen(ink.text)
            p.drawStaticText(pos, st)
            p.restore()

    def _paint_labels(self, p: QPainter, ink: Ink, first: int, last: int,
                      label_w: float) -> None:
        rows = self._table.rows
        h = self._row_h
        p.setFont(self._sub_font)
        for i in range(first, last):
            row = rows[i]
            p.setPen(ink.accent if row.chosen else ink.muted)
            p.drawText(QRectF(PAD, self._head_h + i * h, RANK_W - 4, h), _RIGHT,
                       f"#{row.raw_rank}" if row.raw_rank else "–")
        for i in range(first, last):
            row = rows[i]
            y = self._head_h + i * h
            lx = PAD + RANK_W + 4
            text = row.label
            if text.startswith(" "):
                # a leading space as a small dot, so ' the' and 'the' differ
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(ink.accent if row.chosen else ink.muted)
                p.drawEllipse(QPointF(lx + 2.5, y + h / 2 + 1), 1.6, 1.6)
                lx += 6
                text = text[1:]
            width = label_w - (lx - PAD - RANK_W) - 6
            p.setFont(self._label_bold if row.chosen else self._label_font)
            p.setPen(ink.accent if row.chosen else ink.text)
            p.drawText(QRectF(lx, y, width, h), _LEFT, self._elide(text or "∅", width))

    def _chosen_band(self, ink: Ink) -> QColor:
        soft = QColor(ink.accent)
        soft.setAlphaF(0.14 if not ink.dark else 0.24)
        return soft

    def _cum_color(self, ink: Ink) -> QColor:
        cum = QColor(ink.accent)
        cum.setAlphaF(0.10 if not ink.dark else 0.16)
        return cum

    def _bar_colors(self, ink: Ink) -> tuple[QColor, QColor, QColor, QColor]:
        raw = ink.faint.darker(108) if not ink.dark else ink.faint.lighter(140)
        stage = QColor(ink.accent_soft)
        stage.setAlphaF(0.7)
        return raw, stage, ink.accent_soft, ink.accent

    def _paint_footer(self, p: QPainter, ink: Ink, x0: float, label_w: float,
                      col_w: float) -> None:
        y = self._head_h + len(self._table.rows) * self._row_h
        h = self._row_h
        p.setFont(self._sub_font)
        p.setPen(ink.muted)
        p.drawText(QRectF(PAD + RANK_W + 4, y, label_w - 6, h), _LEFT,
                   self.tr("all other tokens"))
        mass = self._table.other_mass
        cw = col_w - 8
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self._bar_colors(ink)[0])
        p.drawRoundedRect(QRectF(x0 + 3, y + 5, max(2.0, cw * min(1.0, mass)), h - 10), 3, 3)
        p.setFont(self._num_font)
        p.setPen(ink.text)
        st, w = self._static((percent_column if cw >= self._wide_cell else percent_compact)(mass))
        p.drawStaticText(QPointF(x0 + cw - w, y + h / 2 + self._num_dy), st)

    def _paint_top_p_cut(self, p: QPainter, ink: Ink, x0: float, col_w: float,
                         top_p_col: int) -> None:
        table = self._table
        keep = table.top_p_keep or 0
        rows_kept = sum(1 for r in table.rows if r.probs[top_p_col] is not None)
        if table.top_p is None:
            return
        if keep > len(table.rows) or rows_kept != keep:
            # the cut lies below the rows shown: say where, under the top-p column
            y = self._head_h + len(table.rows) * self._row_h
            p.setFont(self._sub_font)
            p.setPen(ink.accent)
            p.drawText(QRectF(x0 + top_p_col * col_w + 3, y, col_w * 2, self._row_h), _LEFT,
                       self.tr("cut after {count} ↓").format(count=f"{keep:,}"))
            return
        y = self._head_h + keep * self._row_h
        pen = QPen(ink.accent, 1.2, Qt.PenStyle.DashLine)
        pen.setDashPattern([4.0, 3.0])
        p.setPen(pen)
        p.drawLine(QPointF(PAD + RANK_W, y), QPointF(self.width() - PAD, y))
        # the threshold as a dotted line down the top-p column's cumulative bars
        cx = x0 + top_p_col * col_w + 3 + (col_w - 8) * table.top_p
        pen2 = QPen(ink.accent, 1.0, Qt.PenStyle.DotLine)
        p.setPen(pen2)
        p.drawLine(QPointF(cx, self._head_h), QPointF(cx, y))
        cum = table.rows[keep - 1].cumulative if keep else None
        text = self.tr("top-p {value} reached").format(value=f"{table.top_p:g}") + (
            f" · Σ {percent_column(cum)}" if cum else "")
        p.setFont(self._sub_font)
        tw = self._fm_sub.horizontalAdvance(text) + 10
        r = QRectF(self.width() - PAD - tw, y - self._fm_sub.height() / 2 - 1, tw,
                   self._fm_sub.height() + 2)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ink.base)
        p.drawRoundedRect(r, 4, 4)
        p.setPen(ink.accent)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
