"""The Score view: paste a text, score every token in one pass (teacher forcing), and see
where the model was surprised: the heatmap, a per-token table, the perplexity, and the pass's
time beside the time generating as many tokens takes.

Signals:
    finished(): a pass finished, failed or was cancelled.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.chat.engine_tasks import EngineSlot
from tokenwise.core.formatting import percent
from tokenwise.core.lab.tasks import GENERATION_PROBE_TOKENS, ScoredText, score_text
from tokenwise.core.tasks import SerialWorker, Task
from tokenwise.ui.lab.tokens_html import heat_html
from tokenwise.ui.style import Ink


class ScoreTab(QWidget):
    finished = Signal()

    def __init__(self, engine: SerialWorker[EngineSlot], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.task: Task[tuple[int, int], ScoredText] | None = None
        self.scored: ScoredText | None = None
        layout = QVBoxLayout(self)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText(self.tr("Paste a text to score"))
        self.input.setToolTip(self.tr("The text to score: every token given everything before "
                                      "it"))
        self.input.setMaximumHeight(120)
        layout.addWidget(self.input)
        bar = QHBoxLayout()
        self.score_button = QPushButton(self.tr("Score"))
        self.score_button.setToolTip(self.tr("Score every token of the text in one pass"))
        self.score_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop the pass"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setToolTip(self.tr("Tokens scored so far"))
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        bar.addWidget(self.score_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress, 1)
        layout.addLayout(bar)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        split = QSplitter()
        self.view = QTextBrowser()
        self.view.setToolTip(self.tr("The text, each token shaded by its probability given "
                                     "everything before it"))
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels([
            self.tr("#"), self.tr("Token"), self.tr("Probability"), self.tr("Rank"),
            self.tr("Entropy"), self.tr("Top alternatives")])
        self.table.setToolTip(self.tr("Every scored token: its probability, rank, the "
                                      "entropy of the distribution and the best alternatives"))
        self.table.verticalHeader().setVisible(False)
        split.addWidget(self.view)
        split.addWidget(self.table)
        layout.addWidget(split, 1)

    def start(self) -> None:
        self.cancel()
        self.scored = None
        self.summary.setText(self.tr("Scoring…"))
        self.progress.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.task = self.engine.submit(
            partial(score_text, text=self.input.toPlainText()),
            progress=self._on_progress,
            returned=self._done, failed=self._failed, aborted=self._aborted)

    def cancel(self) -> None:
        if self.task is not None and not self.task.ended:
            self.task.cancel()

    def _on_progress(self, value: tuple[int, int]) -> None:
        self._progressed(*value)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _end(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.finished.emit()

    def _failed(self, error: Exception) -> None:
        self.summary.setText(str(error))
        self._end()

    def _aborted(self) -> None:
        self.summary.setText(self.tr("Cancelled."))
        self._end()

    def _done(self, scored: ScoredText) -> None:
        self.scored = scored
        result = scored.result
        tokens = result.tokens
        lines = [self.tr("%1 tokens scored in one pass in %2 s · perplexity %3")
                 .replace("%1", str(result.n_tokens)).replace("%2", f"{result.seconds:.3f}")
                 .replace("%3", f"{result.perplexity:.2f}")]
        if scored.generation_s_per_token > 0:
            lines.append(self.tr(
                "Generating as many tokens one at a time would take about %1 s (measured on "
                "%2 tokens): the pass is %3x faster, because every position is computed at "
                "once, as in training.")
                .replace("%1", f"{scored.generation_estimate_s:.2f}")
                .replace("%2", str(GENERATION_PROBE_TOKENS))
                .replace("%3", f"{scored.generation_estimate_s / max(result.seconds, 1e-9):.1f}"))
        if result.unscored_first:
            lines.append(self.tr("This model uses no beginning-of-text token: the first token "
                                 "has nothing before it and is not scored."))
        if result.cancelled:
            lines.append(self.tr("Cancelled: the tokens scored so far are shown."))
        self.summary.setText("<br>".join(lines))
        self.view.setHtml(heat_html([t.piece for t in tokens], [t.prob for t in tokens],
                                    [False] * len(tokens), Ink.of(self).dark))
        self.table.setRowCount(len(tokens))
        for row, t in enumerate(tokens):
            alts = "  ".join(f"'{c.label}' {percent(c.prob)}" for c in t.candidates[:4])
            for col, text in enumerate((str(t.index), repr(t.label), percent(t.prob),
                                        str(t.rank), f"{t.entropy:.2f}", alts)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._end()
