"""The Step tab's widgets: toolbar, step header, explanation, stage view and timeline.

Only layout lives here; the InspectorPanel decides what they show.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tokenwise.ui.inspector.stage_view import StageView
from tokenwise.ui.inspector.text_block import TextBlock
from tokenwise.ui.inspector.timeline import TimelineChart
from tokenwise.ui.style import smaller, tabular

K_MIN, K_MAX = 5, 50


class StepView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        # a longer explanation must not resize the splitter (that repaints the sliders too)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.setContentsMargins(8, 6, 8, 4)
        layout.setSpacing(6)

        # toolbar: step mode, next token, run to end | top-K | export
        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.step_mode_button = QToolButton()
        self.step_mode_button.setText(self.tr("Step mode"))
        self.step_mode_button.setCheckable(True)
        self.step_mode_button.setToolTip(self.tr(
            "Generate one token per click (or Space / N / Ctrl+Right) and watch the "
            "distribution each one is drawn from."))
        self.next_button = QToolButton()
        self.next_button.setText(self.tr("Next ▸"))
        self.next_button.setToolTip(self.tr("Generate exactly one more token (Space, N or "
                                            "Ctrl+Right)"))
        self.run_button = QToolButton()
        self.run_button.setText(self.tr("Finish ▸▸"))
        self.run_button.setToolTip(self.tr("Run to end: leave step mode and let the reply "
                                           "finish"))
        for b in (self.next_button, self.run_button):
            b.setEnabled(False)
        for b in (self.step_mode_button, self.next_button, self.run_button):
            b.setAutoRaise(True)
            # never squeezed below their text (the inspector grows instead)
            b.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            bar.addWidget(b)
        bar.addStretch(1)
        k_label = QLabel(self.tr("Top"))
        k_label.setToolTip(self.tr("How many candidates to show (5 to 50, at most as many as "
                                   "stored)"))
        self.k_spin = QSpinBox()
        self.k_spin.setRange(K_MIN, K_MAX)
        self.k_spin.setValue(12)
        self.k_spin.setToolTip(k_label.toolTip())
        self.k_spin.setAccessibleName(self.tr("Candidates shown"))
        self.k_spin.setMinimumWidth(self.k_spin.fontMetrics().horizontalAdvance("888") + 36)
        bar.addWidget(k_label)
        bar.addWidget(self.k_spin)
        self.export_button = QToolButton()
        self.export_button.setText(self.tr("Export"))
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_menu = QMenu(self.export_button)
        self.export_json_action = self.export_menu.addAction(self.tr("Reply trace as JSON…"))
        self.export_csv_action = self.export_menu.addAction(self.tr("Reply trace as CSV…"))
        self.export_png_action = self.export_menu.addAction(self.tr("Candidates view as PNG…"))
        self.export_button.setMenu(self.export_menu)
        self.export_button.setAutoRaise(True)
        bar.addWidget(self.export_button)
        layout.addLayout(bar)

        # step header
        self.title = TextBlock()
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() + 1.5 if f.pointSizeF() > 0 else 11)
        self.title.setFont(f)
        self.title.setText(self.tr("No reply selected"))
        self.stats = TextBlock(muted=True)
        self.stats.setFont(tabular(smaller(self.font(), 0.5)))
        layout.addWidget(self.title)
        layout.addWidget(self.stats)

        self.explanation = TextBlock()
        self.explanation.setObjectName("explanation")
        layout.addWidget(self.explanation)

        # what-if banner
        self.preview_banner = QFrame()
        self.preview_banner.setObjectName("previewBanner")
        self.preview_banner.setFrameShape(QFrame.Shape.StyledPanel)
        banner = QHBoxLayout(self.preview_banner)
        banner.setContentsMargins(8, 4, 4, 4)
        self.preview_label = TextBlock(rich=True)
        self.preview_label.setFont(smaller(self.font(), 0.5))
        self.show_stored_button = QPushButton(self.tr("Show as generated"))
        self.show_stored_button.setToolTip(self.tr(
            "Show the stages this reply was really generated with (the sliders stay)"))
        banner.addWidget(self.preview_label, 1)
        banner.addWidget(self.show_stored_button, 0, Qt.AlignmentFlag.AlignTop)
        self.preview_banner.setVisible(False)
        layout.addWidget(self.preview_banner)

        self.stage_view = StageView()
        self.stage_scroll = QScrollArea()
        self.stage_scroll.setWidget(self.stage_view)
        self.stage_scroll.setWidgetResizable(True)
        self.stage_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.stage_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.stage_scroll, 1)

        self.timeline = TimelineChart()
        layout.addWidget(self.timeline)
