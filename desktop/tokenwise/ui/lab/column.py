"""One column of the Compare view: a strategy's settings, its progress and cancel, and its
reply shaded by probability with its totals.

Signals:
    cancel_requested(): the user pressed the column's Cancel.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.lab import strategies
from tokenwise.core.lab.compare import StrategyResult
from tokenwise.core.lab.loops import loop_mask
from tokenwise.core.lab.strategies import Strategy
from tokenwise.ui.lab.tokens_html import heat_html
from tokenwise.ui.style import Ink

KIND_OFF, KIND_GREEDY, KIND_BEAM, KIND_SAMPLE = range(4)


class StrategyColumn(QFrame):
    cancel_requested = Signal()

    def __init__(self, index: int, kind: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LabColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.result: StrategyResult | None = None
        layout = QVBoxLayout(self)
        self.kind = QComboBox()
        for label in (self.tr("Off"), self.tr("Greedy"), self.tr("Beam search"),
                      self.tr("Sampling")):
            self.kind.addItem(label)
        self.kind.setToolTip(self.tr("How column %1 writes: greedy, beam search or sampling")
                             .replace("%1", str(index + 1)))
        layout.addWidget(self.kind)
        form = QFormLayout()
        self.width_spin = self._spin(QSpinBox(), 1, 8, 4, self.tr("Beam width: how many "
                                                                   "hypotheses are kept"))
        self.alpha = self._dspin(0.0, 3.0, 1.0, 0.1, self.tr(
            "Length penalty alpha: score = total log-probability / length^alpha"))
        self.temperature = self._dspin(0.05, 3.0, 1.0, 0.05, self.tr("Temperature"))
        self.top_k = self._spin(QSpinBox(), 0, 1000, 0, self.tr("Top-k: 0 is off"))
        self.top_p = self._dspin(0.01, 1.0, 1.0, 0.05, self.tr("Top-p (nucleus): 1 is off"))
        self.min_p = self._dspin(0.0, 1.0, 0.0, 0.01, self.tr("Min-p: 0 is off"))
        self.seed = self._spin(QSpinBox(), 0, 2**31 - 1, 7, self.tr(
            "Seed: the same seed draws the same reply again"))
        self._rows: dict[str, QWidget] = {}
        for key, label, widget in (
                ("width", self.tr("Width"), self.width_spin),
                ("alpha", self.tr("Alpha"), self.alpha),
                ("temperature", self.tr("Temperature"), self.temperature),
                ("top_k", self.tr("Top-k"), self.top_k),
                ("top_p", self.tr("Top-p"), self.top_p),
                ("min_p", self.tr("Min-p"), self.min_p),
                ("seed", self.tr("Seed"), self.seed)):
            form.addRow(label, widget)
            self._rows[key] = widget
        self._form = form
        layout.addLayout(form)
        bar = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setToolTip(self.tr("Tokens written so far"))
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.cancel = QPushButton(self.tr("Cancel"))
        self.cancel.setToolTip(self.tr("Stop this column between two steps"))
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancel_requested)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel)
        layout.addLayout(bar)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.text = QTextBrowser()
        self.text.setToolTip(self.tr("The reply; each token shaded by the probability the "
                                     "model gave it; repeated loops underlined in red"))
        self.text.setOpenLinks(False)
        layout.addWidget(self.text, 1)
        self.kind.currentIndexChanged.connect(self._show_rows)
        self.kind.setCurrentIndex(kind)
        self._show_rows()

    def _spin(self, spin: QSpinBox, low: int, high: int, value: int, tip: str) -> QSpinBox:
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        return spin

    def _dspin(self, low: float, high: float, value: float, step: float,
               tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(low, high)
        spin.setDecimals(2)
        spin.setSingleStep(step)
        spin.setValue(value)
        spin.setToolTip(tip)
        return spin

    def _show_rows(self) -> None:
        kind = self.kind.currentIndex()
        shown = {KIND_BEAM: {"width", "alpha"},
                 KIND_SAMPLE: {"temperature", "top_k", "top_p", "min_p", "seed"}}.get(kind, set())
        for key, widget in self._rows.items():
            self._form.setRowVisible(widget, key in shown)

    @property
    def enabled(self) -> bool:
        return self.kind.currentIndex() != KIND_OFF

    def strategy(self, max_tokens: int) -> Strategy:
        kind = self.kind.currentIndex()
        if kind == KIND_BEAM:
            return strategies.beam(self.width_spin.value(), max_tokens, self.alpha.value())
        if kind == KIND_SAMPLE:
            return strategies.sampling(
                max_tokens, self.seed.value(), temperature=self.temperature.value(),
                top_k=self.top_k.value(), top_p=self.top_p.value(), min_p=self.min_p.value())
        return strategies.greedy(max_tokens)

    # ------------------------------------------------------------------ states

    def started(self, name: str) -> None:
        self.result = None
        self.progress.setRange(0, 0)
        self.cancel.setEnabled(True)
        self.summary.setText(self.tr("%1: writing…").replace("%1", name))
        self.text.clear()

    def progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def finished(self, result: StrategyResult) -> None:
        self.result = result
        self.cancel.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        loops = result.loops
        n = len(result.token_ids)
        ppl = f"{result.perplexity:.2f}" if n else "–"
        lines = [
            self.tr("<b>%1</b> · %2 tokens · %3 s").replace("%1", result.strategy)
            .replace("%2", str(n)).replace("%3", f"{result.seconds:.2f}"),
            self.tr("total log-probability %1 nats · perplexity %2")
            .replace("%1", f"{result.total_logprob:.2f}").replace("%2", ppl),
        ]
        if loops:
            lines.append("<span style='color:#c0392b'>" + self.tr(
                "repetition loops: %1").replace("%1", str(len(loops))) + "</span>")
        if result.stop_reason == "cancelled":
            lines.append(self.tr("cancelled"))
        self.summary.setText("<br>".join(lines))
        probs = [math.exp(lp) for lp in result.logprobs]
        self.text.setHtml(heat_html(result.pieces, probs, loop_mask(n, loops),
                                    Ink.of(self).dark))

    def failed(self, message: str) -> None:
        self.cancel.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.summary.setText(message)

    def cancelled(self) -> None:
        self.cancel.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.summary.setText(self.tr("Cancelled."))
