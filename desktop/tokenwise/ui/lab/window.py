"""The decoding strategies lab window: Compare (one prompt, up to four strategies side by
side) and Score (a text's every token in one pass). All work runs on the engine's thread.

Signals:
    column_finished(int): a Compare column finished (or was cancelled).
    score_finished(): a scoring pass finished.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.chat.engine_tasks import EngineSlot
from tokenwise.core.errors import TokenwiseError
from tokenwise.core.lab.compare import StrategyResult
from tokenwise.core.lab.tasks import compare_column
from tokenwise.core.tasks import SerialWorker, Task, TaskState
from tokenwise.ui.accessibility import name_controls
from tokenwise.ui.heat_legend import HeatLegend
from tokenwise.ui.lab.beam_tree import BeamTree
from tokenwise.ui.lab.column import KIND_BEAM, KIND_GREEDY, KIND_OFF, KIND_SAMPLE, StrategyColumn
from tokenwise.ui.lab.score_tab import ScoreTab

COLUMNS = 4


class LabWindow(QWidget):
    column_finished = Signal(int)
    score_finished = Signal()

    def __init__(self, engine: SerialWorker[EngineSlot], prompt: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("LabWindow")
        self.setWindowTitle(self.tr("Decoding strategies"))
        self.engine = engine
        self.tasks: dict[int, Task[tuple[int, int], StrategyResult]] = {}
        self.prompts: dict[int, str] = {}  # the prompt each column's last run answered
        self.tree_prompt = ""  # the prompt of the search the beam tree shows
        self.tabs = QTabWidget()
        self.tabs.setToolTip(self.tr("Compare strategies, score a text, or follow a beam "
                                     "search step by step"))
        self.tabs.addTab(self._compare_tab(prompt), self.tr("Compare"))
        self.score = ScoreTab(engine)
        self.score.finished.connect(self.score_finished)
        self.tabs.addTab(self.score, self.tr("Score"))
        self.tree = BeamTree()
        self.tabs.addTab(self.tree, self.tr("Beam tree"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self.resize(1200, 720)
        name_controls(self)

    def _compare_tab(self, prompt: str) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        top = QHBoxLayout()
        self.prompt = QPlainTextEdit(prompt)
        self.prompt.setPlaceholderText(self.tr("A prompt for every column"))
        self.prompt.setToolTip(self.tr("The prompt every column answers (as a chat message)"))
        self.prompt.setMaximumHeight(80)
        top.addWidget(self.prompt, 1)
        side = QVBoxLayout()
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 1024)
        self.max_tokens.setValue(64)
        self.max_tokens.setPrefix(self.tr("max tokens "))
        self.max_tokens.setToolTip(self.tr("The most tokens each column writes"))
        self.run_button = QPushButton(self.tr("Run"))
        self.run_button.setToolTip(self.tr("Write the prompt with every column's strategy"))
        self.run_button.clicked.connect(self.run)
        self.export_json_button = QPushButton(self.tr("Export JSON…"))
        self.export_json_button.setToolTip(self.tr("Save every column's tokens and figures"))
        self.export_json_button.clicked.connect(self._ask_export_json)
        self.export_png_button = QPushButton(self.tr("Export image…"))
        self.export_png_button.setToolTip(self.tr("Save this view as a PNG image"))
        self.export_png_button.clicked.connect(self._ask_export_png)
        for w in (self.max_tokens, self.run_button, self.export_json_button,
                  self.export_png_button):
            side.addWidget(w)
        top.addLayout(side)
        layout.addLayout(top)
        note = QHBoxLayout()
        self.note = QLabel(self.tr(
            "Totals, perplexities and colours use the model's own distribution (temperature "
            "1, nothing cut, no penalties), so columns compare fairly. ") + self.tr(
            "A loop is a run of 3 or more tokens repeated back to back (the same tokens again "
            "right after themselves)."))
        self.note.setWordWrap(True)
        note.addWidget(self.note, 1)
        note.addWidget(HeatLegend(tooltip=self.tr("Token colour by the probability the model "
                                                  "gave it")))
        layout.addLayout(note)
        row = QHBoxLayout()
        self.columns: list[StrategyColumn] = []
        for i, kind in enumerate((KIND_GREEDY, KIND_BEAM, KIND_SAMPLE, KIND_OFF)):
            column = StrategyColumn(i, kind)
            column.cancel_requested.connect(partial(self.cancel_column, i))
            self.columns.append(column)
            row.addWidget(column, 1)
        self.columns[3].temperature.setValue(0.8)
        self.columns[2].top_p.setValue(0.9)
        layout.addLayout(row, 1)
        return tab

    # ------------------------------------------------------------------ compare

    def run(self) -> None:
        """Start every enabled column (they run one after another on the engine's thread)."""
        prompt = self.prompt.toPlainText()
        for i, column in enumerate(self.columns):
            self.cancel_column(i)
            if not column.enabled:
                continue
            try:
                strategy = column.strategy(self.max_tokens.value())
            except TokenwiseError as exc:
                column.failed(str(exc))
                continue
            column.started(strategy.name)
            self.prompts[i] = prompt
            self.tasks[i] = self.engine.submit(
                partial(_column_work, prompt=prompt, strategy=strategy),
                progress=partial(self._column_progress, i),
                returned=partial(self._column_done, i),
                failed=partial(self._column_failed, i),
                aborted=partial(self._column_aborted, i))

    def cancel_column(self, index: int) -> None:
        task = self.tasks.get(index)
        if task is not None and not task.ended:
            task.cancel()

    def _column_progress(self, index: int, value: tuple[int, int]) -> None:
        self.columns[index].progressed(*value)

    def _column_done(self, index: int, result: StrategyResult) -> None:
        self.columns[index].finished(result)
        if result.beam is not None:
            self.tree.set_result(result.beam)
            self.tree_prompt = self.prompts.get(index, "")
        self.column_finished.emit(index)

    def _column_failed(self, index: int, error: Exception) -> None:
        self.columns[index].failed(str(error))
        self.column_finished.emit(index)

    def _column_aborted(self, index: int) -> None:
        self.columns[index].cancelled()
        self.column_finished.emit(index)

    @property
    def busy(self) -> bool:
        return any(not t.ended for t in self.tasks.values())

    # ------------------------------------------------------------------ export

    def comparison(self) -> dict[str, object]:
        return {"prompt": self.prompt.toPlainText(), "max_tokens": self.max_tokens.value(),
                "columns": [c.result.to_dict() for c in self.columns if c.result is not None]}

    def export_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.comparison(), ensure_ascii=False, indent=1),
                        encoding="utf-8")

    def export_png(self, path: Path) -> bool:
        return bool(self.grab().save(str(path)))

    def _ask_export_json(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Export the comparison"),
                                              "comparison.json", "JSON (*.json)")
        if name:
            self.export_json(Path(name))

    def _ask_export_png(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Export an image"),
                                              "comparison.png", "PNG (*.png)")
        if name:
            self.export_png(Path(name))

    def closeEvent(self, event: object) -> None:
        for i in list(self.tasks):
            self.cancel_column(i)
        self.score.cancel()
        super().closeEvent(event)  # type: ignore[arg-type]


def _column_work(slot: EngineSlot, state: TaskState[tuple[int, int]], *, prompt: str,
                 strategy: object) -> StrategyResult:
    from tokenwise.core.lab.strategies import Strategy

    assert isinstance(strategy, Strategy)
    return compare_column(slot, state, prompt, strategy)
