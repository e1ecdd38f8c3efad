"""The text of one message, as tokens you can click, hover and colour by probability.

While a reply streams, each batch of tokens is inserted at the end with one QTextCursor
(QTextDocument lays out only the changed block), so the cost of a token does not grow with
the length of the reply. A finished reply is rendered as Markdown; a greedy alignment of
the rendered characters to the reply's raw text keeps every rendered character tied to the
step that wrote it, so clicking, hovering and the heatmap work on the rendered text too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QPoint, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QTextEdit, QToolTip, QWidget

from tokenwise.core.trace.records import Step, piece_label
from tokenwise.ui import theme

ALIGN_WINDOW = 48  # how far ahead in the raw text a rendered character is looked for
_SPACES = {"\u2029", "\u2028", "\n", " ", "\t", "\u00a0"}


def utf16_len(text: str) -> int:
    """QTextDocument counts positions in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def align(rendered: str, raw: str) -> list[int]:
    """For each character of ``rendered``, the index of the raw character it shows.

    Markdown rendering drops markers (``**``, ``#``, fences, table pipes) but keeps the
    order of the visible text, so a greedy forward match within a small window suffices.
    A rendered character with no match (a list bullet) takes the position reached so far.
    """
    out: list[int] = []
    j = 0
    n = len(raw)
    for ch in rendered:
        space = ch in _SPACES
        found = -1
        for k in range(j, min(n, j + ALIGN_WINDOW)):
            rk = raw[k]
            if rk == ch or (space and rk in _SPACES):
                found = k
                break
        if found >= 0:
            out.append(found)
            j = found + 1
        else:
            out.append(min(j, n - 1) if n else 0)
    return out


def tooltip_html(step: Step, top: int = 5) -> str:
    rows = []
    for cand in step.candidates[:top]:
        mark = "&#9664;" if cand.token_id == step.token_id else ""
        label = piece_label(cand.piece).replace("&", "&amp;").replace("<", "&lt;")
        rows.append(
            f"<tr><td><code>{label}</code></td><td align='right'>{cand.prob:.1%}</td>"
            f"<td>{mark}</td></tr>"
        )
    head = piece_label(step.piece).replace("&", "&amp;").replace("<", "&lt;")
    heading = QCoreApplication.translate("TokenText", "Step {index}").format(
        index=step.index + 1)
    rank = QCoreApplication.translate("TokenText", "rank {rank}").format(rank=step.rank)
    return (
        f"<b>{heading}</b>: <code>{head}</code> p = {step.prob:.1%}"
        f" ({rank})<br/><table cellspacing='4'>{''.join(rows)}</table>"
    )


_HEAT_FORMATS: dict[tuple[int, bool], QTextCharFormat] = {}


def _heat_format(prob: float, dark: bool) -> QTextCharFormat:
    """A streamed token's shading: one format per hue (there are 121), made once."""
    key = (theme.heat_hue(prob), dark)
    fmt = _HEAT_FORMATS.get(key)
    if fmt is None:
        fmt = _HEAT_FORMATS[key] = QTextCharFormat()
        fmt.setBackground(theme.heat_color(prob, dark))
    return fmt


STREAM_ROOM_LINES = 4  # a streamed reply's text grows this many lines at a time


class TokenText(QTextBrowser):
    """A message body sized to its content, whose characters map to generation steps.

    Signals:
        step_clicked(int): the index of the step under a click.
    """

    step_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BubbleText")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setOpenExternalLinks(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        # opaque: a streamed batch repaints the text alone, not the card and window beneath
        # it (paintEvent fills the background)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.viewport().setMouseTracking(True)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        self.document().setDocumentMargin(2)
        self._steps: list[Step] = []
        self._starts: list[int] = []  # document position where each step's text begins
        self._end = 0
        self._streaming = False
        self._heatmap = False
        self._selected = -1
        self._press: QPoint | None = None
        self._last_height = -1
        self._cursor = QTextCursor(self.document())

    # ------------------------------------------------------------------ content

    @property
    def steps(self) -> list[Step]:
        return self._steps

    @property
    def has_steps(self) -> bool:
        return bool(self._steps)

    def show_plain(self, text: str) -> None:
        """A user's message, or a reply without a trace."""
        self._steps, self._starts = [], []
        self.setPlainText(text)
        self._fit()

    def show_markdown(self, text: str) -> None:
        self._steps, self._starts = [], []
        self._render_markdown(text)
        self._fit()

    def begin_stream(self, steps: Sequence[Step] = ()) -> None:
        """Start a streamed reply (optionally with steps already known: a branch's prefix)."""
        self._streaming = True
        self._steps, self._starts, self._end = [], [], 0
        self._selected = -1
        self.clear()
        self._cursor = QTextCursor(self.document())
        self.append_steps(steps)

    def append_steps(self, steps: Sequence[Step]) -> None:
        """Insert new tokens at the end: work proportional to the batch, not the reply."""
        if not steps:
            return
        cursor = self._cursor
        if not cursor.atEnd():  # moving lays the line out to find x: only when needed
            cursor.movePosition(QTextCursor.MoveOperation.End)
        if self._heatmap:
            dark = theme.current().dark
            cursor.beginEditBlock()  # one layout of the paragraph for the batch, not one a token
            for step in steps:
                cursor.insertText(step.text, _heat_format(step.prob, dark))
            cursor.endEditBlock()
        else:
            cursor.insertText("".join(s.text for s in steps), QTextCharFormat())
        for step in steps:
            self._starts.append(self._end)
            self._end += utf16_len(step.text)
            self._steps.append(step)
        self._fit()

    def finish_stream(self, render_markdown: bool = True) -> None:
        """Render the finished reply as Markdown, keeping its tokens clickable."""
        self._streaming = False
        self.set_steps(self._steps, render_markdown)

    def set_steps(self, steps: Sequence[Step], render_markdown: bool = True,
                  text: str | None = None) -> None:
        """Show a finished reply from its trace."""
        self._steps = list(steps)
        raw = "".join(s.text for s in self._steps) if text is None else text
        if render_markdown:
            self._render_markdown(raw)
            rendered = self.document().toRawText()
            char_map = align(rendered, raw)
        else:
            self.setPlainText(raw)
            rendered = raw
            char_map = list(range(len(raw)))
        raw_starts: list[int] = []
        pos = 0
        for step in self._steps:
            raw_starts.append(pos)
            pos += len(step.text)
        # document position -> step index, then the first position of each step
        step_of_pos = [max(0, bisect_right(raw_starts, r) - 1) for r in char_map]
        starts: list[int] = []
        p = 0
        for index in range(len(self._steps)):
            while p < len(step_of_pos) and step_of_pos[p] < index:
                p += 1
            starts.append(p)
        # the document counts positions in UTF-16 units: an emoji takes two
        units = [0]
        for ch in rendered:
            units.append(units[-1] + (2 if ord(ch) > 0xFFFF else 1))
        self._starts = [units[min(p, len(rendered))] for p in starts]
        self._end = units[len(step_of_pos)]
        if self._heatmap:
            self._paint_heat(True)
        self._refresh_selection()
        self._fit()

    def _render_markdown(self, text: str) -> None:
        doc = self.document()
        doc.setMarkdown(text, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        colors = theme.current()
        block = doc.begin()
        while block.isValid():
            fmt = block.blockFormat()
            if fmt.nonBreakableLines() or fmt.hasProperty(QTextFormat.Property.BlockCodeFence):
                cursor = QTextCursor(block)
                code = QTextBlockFormat()
                code.setBackground(QColor(colors.code_bg))
                code.setLeftMargin(8)
                code.setRightMargin(8)
                cursor.mergeBlockFormat(code)
                char = QTextCharFormat()
                char.setFontFamilies(["monospace"])
                char.setFontStyleHint(QFont.StyleHint.Monospace)
                cursor.select(QTextCursor.SelectionType.BlockUnderCursor)
                cursor.mergeCharFormat(char)
            block = block.next()

    # ------------------------------------------------------------------ mapping

    def step_at(self, position: int) -> int:
        if not self._starts or position >= self._end:
            return -1
        return max(0, bisect_right(self._starts, position) - 1)

    def step_range(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self._starts):
            return (0, 0)
        end = self._starts[index + 1] if index + 1 < len(self._starts) else self._end
        return (self._starts[index], end)

    # ------------------------------------------------------------------ heatmap & selection

    def set_heatmap(self, on: bool) -> None:
        if on == self._heatmap:
            return
        self._heatmap = on
        self._paint_heat(on)

    def restyle(self) -> None:
        """Shade and select again in the current theme's colours."""
        if self._heatmap:
            self._paint_heat(True)
        self._refresh_selection()

    def _paint_heat(self, on: bool) -> None:
        if not self._steps:
            return
        dark = theme.current().dark
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        if not on:
            cursor.select(QTextCursor.SelectionType.Document)
            fmt = QTextCharFormat()
            fmt.setBackground(Qt.GlobalColor.transparent)
            cursor.mergeCharFormat(fmt)
        else:
            for index, step in enumerate(self._steps):
                start, end = self.step_range(index)
                if end <= start:
                    continue
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                fmt = QTextCharFormat()
                fmt.setBackground(theme.heat_color(step.prob, dark))
                cursor.mergeCharFormat(fmt)
        cursor.endEditBlock()

    def select_step(self, index: int) -> None:
        self._selected = index
        self._refresh_selection()

    @property
    def selected_step(self) -> int:
        return self._selected

    def _refresh_selection(self) -> None:
        start, end = self.step_range(self._selected)
        if end <= start:
            self.setExtraSelections([])
            return
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(theme.current().selection))
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
        fmt.setUnderlineColor(QColor(theme.current().accent))
        selection.format = fmt
        self.setExtraSelections([selection])

    # ------------------------------------------------------------------ events

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        pos = event.position().toPoint()
        moved = self._press is None or (pos - self._press).manhattanLength() > 4
        self._press = None
        if moved or event.button() != Qt.MouseButton.LeftButton or not self._steps:
            return
        index = self.step_at(self.cursorForPosition(pos).position())
        if index >= 0:
            self.step_clicked.emit(index)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        if not self._steps or event.buttons():
            return
        pos = event.position().toPoint()
        index = self.step_at(self.cursorForPosition(pos).position())
        if index >= 0:
            QToolTip.showText(event.globalPosition().toPoint(),
                              tooltip_html(self._steps[index]), self)
        else:
            QToolTip.hideText()

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme.current()
        parent = self.parentWidget()
        user = parent is not None and parent.property("role") == "user"
        painter = QPainter(self.viewport())
        painter.fillRect(event.rect(), QColor(colors.user_bubble if user
                                              else colors.assistant_bubble))
        painter.end()
        super().paintEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Grow to the document's height: the chat scrolls, not each message."""
        doc = self.document()
        width = self.viewport().width()
        if doc.textWidth() != width:  # setting it at all relays out the whole document
            doc.setTextWidth(width)
        height = int(doc.size().height()) + 2 * self.frameWidth() + 2
        if self._streaming:  # room for a few lines ahead: the card and the chat below it
            step = STREAM_ROOM_LINES * self.fontMetrics().lineSpacing()  # move less often
            height = -(-height // step) * step
        if height != self._last_height:
            self._last_height = height
            self.setFixedHeight(height)
