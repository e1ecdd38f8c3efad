"""Sampling sliders with number fields, presets, and a one-sentence tooltip on each.

Every move emits the new SamplerSettings at once: the inspector redraws the selected step's
stages from it (what-if) and the next reply is generated with it.

Signals: settings_changed(object SamplerSettings)
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.sampling.settings import PRESET_TITLES, PRESETS, SamplerSettings
from tokenwise.ui.i18n import N, T


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # the SamplerSettings field
    title: str
    low: float
    high: float
    decimals: int  # 0: an integer field
    tooltip: str
    special: str = ""  # text shown at the lowest value ("off", "all")
    step: float = 0.01


PRIMARY = (
    FieldSpec("temperature", N("Temperature"), 0.0, 2.0, 2,
              N("Divides the logits before the draw: below 1 sharpens the distribution towards "
              "the top token, above 1 flattens it; 0 is greedy."), N("0 (greedy)")),
    FieldSpec("top_k", N("Top-k"), 0, 200, 0,
              N("Keeps only the k most probable tokens and renormalises over them; 0 turns it "
              "off."), N("off"), 1),
    FieldSpec("top_p", N("Top-p"), 0.01, 1.0, 2,
              N("Keeps the smallest set of top tokens whose probabilities add up to p (nucleus "
              "sampling); 1 turns it off.")),
    FieldSpec("min_p", N("Min-p"), 0.0, 1.0, 2,
              N("Drops tokens less probable than min-p times the top token's probability; 0 "
              "turns it off."), N("off")),
    FieldSpec("repeat_penalty", N("Repeat penalty"), 0.5, 2.0, 2,
              N("Makes tokens seen in the recent window less likely (logit divided by it); 1 "
              "turns it off.")),
)
SECONDARY = (
    FieldSpec("repeat_last_n", N("Penalty window"), -1, 1024, 0,
              N("How many recent tokens the penalties look back on; -1 means the whole "
              "context, 0 turns the penalties off."), N("all"), 1),
    FieldSpec("presence_penalty", N("Presence penalty"), -2.0, 2.0, 2,
              N("Subtracts this from the logit of every token already present in the window, "
              "once."), step=0.05),
    FieldSpec("frequency_penalty", N("Frequency penalty"), -2.0, 2.0, 2,
              N("Subtracts this times the token's count in the window, so frequent tokens fall "
              "further."), step=0.05),
    FieldSpec("max_tokens", N("Max tokens"), 1, 8192, 0,
              N("Stops the reply after this many tokens."), step=1),
)


class SliderField(QWidget):
    """A slider and a number field that move together. Signals: value_changed(float)"""

    value_changed = Signal(float)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._scale = 10 ** spec.decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(spec.low * self._scale), round(spec.high * self._scale))
        self.slider.setSingleStep(max(1, round(spec.step * self._scale)))
        self.slider.setPageStep(max(1, round(spec.step * self._scale * 10)))
        self.slider.setToolTip(T(spec.tooltip))
        self.slider.setAccessibleName(T(spec.title))
        box: QDoubleSpinBox | QSpinBox
        if spec.decimals:
            box = QDoubleSpinBox()
            box.setDecimals(spec.decimals)
            box.setSingleStep(spec.step)
        else:
            box = QSpinBox()
        if isinstance(box, QDoubleSpinBox):
            box.setRange(spec.low, spec.high)
        else:
            box.setRange(int(spec.low), int(spec.high))
        box.setSpecialValueText(T(spec.special))
        box.setToolTip(T(spec.tooltip))
        box.setKeyboardTracking(False)
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        box.setFixedWidth(box.fontMetrics().horizontalAdvance("-8888.8") + 40)  # one width: aligned
        self.box = box
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.slider, 1)
        layout.addWidget(box)
        self.slider.valueChanged.connect(self._from_slider)
        box.valueChanged.connect(self._from_box)

    def value(self) -> float:
        return float(self.box.value())

    def _show(self, value: float) -> None:
        if isinstance(self.box, QDoubleSpinBox):
            self.box.setValue(value)
        else:
            self.box.setValue(round(value))

    def set_value(self, value: float) -> None:
        """Set without emitting (used when settings come from outside)."""
        self.slider.blockSignals(True)
        self.box.blockSignals(True)
        self.slider.setValue(round(value * self._scale))
        self._show(value)
        self.slider.blockSignals(False)
        self.box.blockSignals(False)

    def _from_slider(self, raw: int) -> None:
        value = raw / self._scale
        self.box.blockSignals(True)
        self._show(value)
        self.box.blockSignals(False)
        self.value_changed.emit(value)

    def _from_box(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * self._scale))
        self.slider.blockSignals(False)
        self.value_changed.emit(float(value))


class SamplingPanel(QWidget):
    settings_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = PRESETS["Balanced"]
        self.fields: dict[str, SliderField] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)

        presets = QHBoxLayout()
        presets.setSpacing(4)
        title = QLabel(self.tr("Sampling"))
        title.setObjectName("sectionTitle")
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        presets.addWidget(title)
        presets.addStretch(1)
        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(False)
        self.preset_buttons: dict[str, QPushButton] = {}
        tips = {
            "Greedy": self.tr("Always the most probable token: repeatable, but prone to loops."),
            "Precise": self.tr("Low temperature and tight cut-offs: focused, little variety."),
            "Balanced": self.tr("Moderate temperature, top-k 40, top-p 0.95: the usual "
                                "default."),
            "Creative": self.tr("High temperature, loose cut-offs, a mild repeat penalty: "
                                "varied text."),
        }
        for name in ("Greedy", "Precise", "Balanced", "Creative"):
            b = QPushButton(PRESET_TITLES[name])
            b.setCheckable(True)
            b.setFlat(True)
            b.setToolTip(tips[name])
            b.setObjectName("presetButton")
            b.clicked.connect(lambda _=False, n=name: self.apply_preset(n))
            self.preset_group.addButton(b)
            self.preset_buttons[name] = b
            presets.addWidget(b)
        outer.addLayout(presets)

        # compact number fields: five rows of sliders fit beneath the step view
        self.setStyleSheet("QSpinBox, QDoubleSpinBox { padding: 1px 6px; }")
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        for row, spec in enumerate(PRIMARY):
            self._add_field(grid, row, spec)
        outer.addLayout(grid)

        self.more_button = QToolButton()
        self.more_button.setText(self.tr("More settings"))
        self.more_button.setCheckable(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.ArrowType.RightArrow)
        self.more_button.setAutoRaise(True)
        outer.addWidget(self.more_button)
        self.more = QWidget()
        more_grid = QGridLayout(self.more)
        more_grid.setContentsMargins(0, 0, 0, 0)
        more_grid.setHorizontalSpacing(10)
        more_grid.setVerticalSpacing(2)
        for row, spec in enumerate(SECONDARY):
            self._add_field(more_grid, row, spec)
        seed_row = len(SECONDARY)
        seed_label = QLabel(self.tr("Seed"))
        seed_tip = self.tr("The random generator's start: a fixed seed makes the same settings "
                           "draw the same reply again.")
        seed_label.setToolTip(seed_tip)
        self.seed_random = QCheckBox(self.tr("random"))
        self.seed_random.setToolTip(self.tr("A new seed for every reply."))
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip(seed_tip)
        self.seed_box.setAlignment(Qt.AlignmentFlag.AlignRight)
        seed_widget = QWidget()
        seed_layout = QHBoxLayout(seed_widget)
        seed_layout.setContentsMargins(0, 0, 0, 0)
        seed_layout.addWidget(self.seed_random)
        seed_layout.addStretch(1)
        seed_layout.addWidget(self.seed_box)
        more_grid.addWidget(seed_label, seed_row, 0)
        more_grid.addWidget(seed_widget, seed_row, 1)
        self.more.setVisible(False)
        outer.addWidget(self.more)
        self.more_button.toggled.connect(self._toggle_more)
        self.seed_random.toggled.connect(self._seed_changed)
        self.seed_box.valueChanged.connect(self._seed_changed)
        self.set_settings(self._settings)

    def _add_field(self, grid: QGridLayout, row: int, spec: FieldSpec) -> None:
        label = QLabel(T(spec.title))
        label.setToolTip(T(spec.tooltip))
        field = SliderField(spec)
        label.setBuddy(field.box)
        grid.addWidget(label, row, 0)
        grid.addWidget(field, row, 1)
        grid.setColumnStretch(1, 1)
        field.value_changed.connect(lambda v, n=spec.name: self._field_changed(n, v))
        self.fields[spec.name] = field

    def _toggle_more(self, on: bool) -> None:
        self.more.setVisible(on)
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    # ------------------------------------------------------------------ settings

    def settings(self) -> SamplerSettings:
        return self._settings

    def set_settings(self, settings: SamplerSettings) -> None:
        """Show ``settings`` without emitting settings_changed."""
        self._settings = settings
        for name, field in self.fields.items():
            field.set_value(float(getattr(settings, name)))
        self.seed_random.blockSignals(True)
        self.seed_box.blockSignals(True)
        self.seed_random.setChecked(settings.seed is None)
        self.seed_box.setEnabled(settings.seed is not None)
        if settings.seed is not None:
            self.seed_box.setValue(min(settings.seed, 2**31 - 1))
        self.seed_random.blockSignals(False)
        self.seed_box.blockSignals(False)
        self._mark_preset()

    def apply_preset(self, name: str) -> None:
        preset = PRESETS[name]
        self._emit(preset.with_(seed=self._settings.seed, max_tokens=self._settings.max_tokens))

    def _field_changed(self, name: str, value: float) -> None:
        spec = self.fields[name].spec
        self._emit(self._settings.with_(**{name: int(value) if not spec.decimals else value}))

    def _seed_changed(self, *_: object) -> None:
        self.seed_box.setEnabled(not self.seed_random.isChecked())
        seed = None if self.seed_random.isChecked() else int(self.seed_box.value())
        self._emit(self._settings.with_(seed=seed))

    def _emit(self, settings: SamplerSettings) -> None:
        if settings == self._settings:
            self._mark_preset()
            return
        self.set_settings(settings)
        self.settings_changed.emit(settings)

    def _mark_preset(self) -> None:
        current = self._settings.with_(seed=None, max_tokens=0)
        for name, button in self.preset_buttons.items():
            button.setChecked(PRESETS[name].with_(seed=None, max_tokens=0) == current)
