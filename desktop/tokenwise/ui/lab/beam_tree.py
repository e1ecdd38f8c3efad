"""The beam tree: per step, the extensions a beam search kept, pruned and ended, with their
cumulative log-probabilities. Hover a node for its whole text; click one for its step (the raw
candidates its beam read); a finished hypothesis is offered as a reply.

Signals:
    node_selected(int): the beam id of a clicked node.
    hypothesis_chosen(object): a finished BeamHypothesis the user asked to open.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.formatting import percent
from tokenwise.core.trace.beams import (
    ENDED,
    KEPT,
    BeamExtension,
    BeamHypothesis,
    BeamResult,
    BeamStep,
)
from tokenwise.core.trace.records import piece_label

COL_W, ROW_H, NODE_W, NODE_H = 150, 34, 128, 26


class _Node(QGraphicsRectItem):
    def __init__(self, tree: BeamTree, beam: int, rect: QRectF) -> None:
        super().__init__(rect)
        self.tree = tree
        self.beam = beam
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.tree.select(self.beam)
        super().mousePressEvent(event)


class BeamTree(QWidget):
    node_selected = Signal(int)
    hypothesis_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: BeamResult | None = None
        self.nodes: dict[int, _Node] = {}
        self.texts: dict[int, bytes] = {0: b""}
        self.where: dict[int, tuple[BeamStep, BeamExtension]] = {}
        self.selected: int | None = None
        layout = QVBoxLayout(self)
        self.note = QLabel(self.tr(
            "A beam search has no sampler stages: each step reads the model's raw distribution "
            "for every live beam and keeps the W extensions with the highest total "
            "log-probability. Blue: kept, grey: pruned, green: ended (a finished hypothesis); "
            "the best hypothesis's path is bold. Hover a node for its text, click it for its "
            "step."))
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        split = QSplitter(Qt.Orientation.Vertical)
        self.scene = QGraphicsScene(self)
        self.view = QGraphicsView(self.scene)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.view.setToolTip(self.tr("The beams step by step; hover a node for its text"))
        split.addWidget(self.view)
        panel = QWidget()
        panel_layout = QVBoxLayout(panel)
        self.step_text = QLabel(self.tr("Click a node to see its step."))
        self.step_text.setWordWrap(True)
        self.step_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton(self.tr("Open this hypothesis"))
        self.open_button.setToolTip(self.tr("Use the selected finished hypothesis as the reply"))
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open_selected)
        panel_layout.addWidget(self.step_text, 1)
        panel_layout.addWidget(self.open_button)
        split.addWidget(panel)
        split.setSizes([420, 160])
        layout.addWidget(split, 1)

    # ------------------------------------------------------------------ drawing

    def set_result(self, result: BeamResult) -> None:
        self.result = result
        self.scene.clear()
        self.nodes.clear()
        self.texts = {0: b""}
        self.where.clear()
        self.selected = None
        self.open_button.setEnabled(False)
        best = result.best
        best_path = set(self._path(best.beam)) if best is not None else set()
        finished = {h.beam for h in result.hypotheses}
        positions = {0: QPointF(0, 0)}
        self.nodes[0] = self._add_node(0, QPointF(0, 0), self.tr("prompt"), QColor("#8a8f98"),
                                       bold=True)
        for step in result.steps:
            x = (step.index + 1) * COL_W
            for row, ext in enumerate(step.extensions):
                beam = ext.beam if ext.beam >= 0 else -(step.index * 1000 + row + 1)
                self.texts[beam] = self.texts.get(ext.parent, b"") + ext.piece
                self.where[beam] = (step, ext)
                pos = QPointF(x, row * ROW_H)
                positions[beam] = pos
                color = {KEPT: QColor("#3d7edb"), ENDED: QColor("#2e9d5b")}.get(
                    ext.status, QColor("#b8bcc4"))
                if ext.beam in finished and ext.status != ENDED:
                    color = QColor("#2e9d5b")  # cut at the token limit: finished too
                label = f"{piece_label(ext.piece)[:12]}  {ext.cumulative:.2f}"
                node = self._add_node(beam, pos, label, color, bold=beam in best_path)
                node.setToolTip(self._hover(ext.parent, beam, ext.cumulative, ext.logprob,
                                            ext.status))
                self.nodes[beam] = node
                parent_pos = positions.get(ext.parent)
                if parent_pos is not None:
                    self._add_edge(parent_pos, pos, color, bold=beam in best_path)

    def _add_node(self, beam: int, pos: QPointF, label: str, color: QColor, *,
                  bold: bool) -> _Node:
        node = _Node(self, beam, QRectF(pos.x(), pos.y(), NODE_W, NODE_H))
        fill = QColor(color)
        fill.setAlpha(60)
        node.setBrush(QBrush(fill))
        node.setPen(QPen(color, 2.5 if bold else 1.0))
        node.setZValue(1)
        self.scene.addItem(node)
        text = QGraphicsSimpleTextItem(label, node)
        font = QFont(text.font())
        font.setBold(bold)
        text.setFont(font)
        text.setPos(pos.x() + 5, pos.y() + (NODE_H - text.boundingRect().height()) / 2)
        return node

    def _add_edge(self, a: QPointF, b: QPointF, color: QColor, *, bold: bool) -> None:
        path = QPainterPath(QPointF(a.x() + NODE_W, a.y() + NODE_H / 2))
        end = QPointF(b.x(), b.y() + NODE_H / 2)
        mid = (a.x() + NODE_W + b.x()) / 2
        path.cubicTo(QPointF(mid, a.y() + NODE_H / 2), QPointF(mid, end.y()), end)
        item = QGraphicsPathItem(path)
        item.setPen(QPen(color, 2.0 if bold else 0.8))
        self.scene.addItem(item)

    def _hover(self, parent: int, beam: int, cumulative: float, logprob: float,
               status: str) -> str:
        text = self.texts.get(beam, b"").decode("utf-8", "replace")
        return (f"{text}\n\n" + self.tr("%1 · token log-probability %2 · total %3")
                .replace("%1", status).replace("%2", f"{logprob:.3f}")
                .replace("%3", f"{cumulative:.3f}"))

    def _path(self, beam: int) -> list[int]:
        assert self.result is not None
        lineage = self.result.lineage()
        path = [beam]
        while path[-1] in lineage:
            path.append(lineage[path[-1]])
        return path

    # ------------------------------------------------------------------ selection

    def hypothesis(self, beam: int) -> BeamHypothesis | None:
        if self.result is None:
            return None
        return next((h for h in self.result.hypotheses if h.beam == beam), None)

    def select(self, beam: int) -> None:
        self.selected = beam
        self.open_button.setEnabled(self.hypothesis(beam) is not None)
        self.step_text.setText(self._step_description(beam))
        self.node_selected.emit(beam)

    def _step_description(self, beam: int) -> str:
        found = self.where.get(beam)
        if found is None:
            return self.tr("The prompt: every beam starts here.")
        step, ext = found
        row = next(r for r in step.rows if r.beam == ext.parent)
        cands = "  ".join(f"'{c.label}' {percent(c.prob)}" for c in row.candidates[:8])
        return (self.tr("Step %1: beam %2 (total %3) read its raw distribution "
                        "(entropy %4 nats; no sampler stages) and considered '%5' "
                        "(log-probability %6): %7.")
                .replace("%1", str(step.index + 1)).replace("%2", str(ext.parent))
                .replace("%3", f"{row.cumulative:.3f}")
                .replace("%4", f"{row.entropy:.2f}")
                .replace("%5", piece_label(ext.piece))
                .replace("%6", f"{ext.logprob:.3f}").replace("%7", ext.status)
                + "\n" + self.tr("Raw candidates: ") + cands)

    def _open_selected(self) -> None:
        if self.selected is not None:
            chosen = self.hypothesis(self.selected)
            if chosen is not None:
                self.hypothesis_chosen.emit(chosen)
