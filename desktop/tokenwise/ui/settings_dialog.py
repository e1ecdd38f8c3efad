"""Settings: context length, GPU layers, threads, default sampler preset, theme, font size,
language, and the inference servers whose models the picker lists."""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.sampling.settings import PRESET_TITLES, PRESETS
from tokenwise.core.settings import LANGUAGES, THEMES, AppSettings
from tokenwise.ui.accessibility import name_controls
from tokenwise.ui.i18n import language_names
from tokenwise.ui.servers_panel import ServersPanel


def gpu_hint() -> str:
    return QCoreApplication.translate(
        "SettingsDialog",
        "This build of llama-cpp-python runs on the CPU only, so GPU layers are ignored. "
        "To use a GPU, install a GPU build: see the README, section “GPU builds”.")


def theme_names() -> list[str]:
    return [QCoreApplication.translate("SettingsDialog", "System"),
            QCoreApplication.translate("SettingsDialog", "Light"),
            QCoreApplication.translate("SettingsDialog", "Dark")]


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``result_settings()`` returns it after Accept."""

    def __init__(self, settings: AppSettings, *, model_layers: int = 0,
                 gpu_supported: bool | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.setMinimumWidth(480)
        self._settings = settings
        self._gpu_supported = gpu_supported
        form = QFormLayout()
        form.setSpacing(8)

        self.n_ctx = QSpinBox()
        self.n_ctx.setRange(256, 1 << 20)
        self.n_ctx.setSingleStep(512)
        self.n_ctx.setValue(settings.n_ctx)
        self.n_ctx.setSuffix(self.tr(" tokens"))
        self.n_ctx.setToolTip(self.tr("How many tokens the model sees at once (prompt + "
                                      "reply). Longer costs memory; older turns are left out "
                                      "beyond it."))
        form.addRow(self.tr("Context length"), self.n_ctx)

        top = model_layers if model_layers > 0 else 999
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(-1, top)
        self.gpu_layers.setSpecialValueText(self.tr("all"))
        self.gpu_layers.setValue(settings.n_gpu_layers)
        self.gpu_layers.setToolTip(
            self.tr("Layers offloaded to the GPU: 0 = CPU only, all = every layer")
            + (self.tr(" (this model has {layers})").format(layers=model_layers)
               if model_layers else ""))
        form.addRow(self.tr("GPU layers"), self.gpu_layers)
        self.gpu_hint = QLabel(gpu_hint())
        self.gpu_hint.setWordWrap(True)
        self.gpu_hint.setObjectName("Notice")
        form.addRow("", self.gpu_hint)

        self.threads = QSpinBox()
        self.threads.setRange(0, max(1, os.cpu_count() or 1) * 2)
        self.threads.setSpecialValueText(self.tr("automatic"))
        self.threads.setValue(settings.n_threads or 0)
        self.threads.setToolTip(self.tr(
            "CPU threads for the model; automatic uses the cores and gives one up while "
            "the machine is too busy for them (llama.cpp's threads stall when a core is "
            "taken)"))
        form.addRow(self.tr("Threads"), self.threads)

        self.preset = QComboBox()
        for key in PRESETS:
            self.preset.addItem(PRESET_TITLES[key], key)
        if settings.sampler_preset in PRESETS:
            self.preset.setCurrentIndex(list(PRESETS).index(settings.sampler_preset))
        self.preset.setToolTip(self.tr("The sampler settings a new chat starts with"))
        form.addRow(self.tr("Default sampler"), self.preset)

        self.theme = QComboBox()
        self.theme.addItems(theme_names())
        self.theme.setCurrentIndex(THEMES.index(settings.theme))
        self.theme.setToolTip(self.tr("System follows the desktop's light or dark mode"))
        form.addRow(self.tr("Theme"), self.theme)

        self.font_size = QSpinBox()
        self.font_size.setRange(6, 48)
        self.font_size.setSuffix(self.tr(" pt"))
        self.font_size.setValue(settings.font_size)
        self.font_size.setToolTip(self.tr("Text size in the whole window"))
        form.addRow(self.tr("Font size"), self.font_size)

        self.language = QComboBox()
        for code, name in language_names():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(LANGUAGES.index(settings.language))
        self.language.setToolTip(self.tr("The language of the window and of the explanations; "
                                         "System follows the desktop. Applies at the next "
                                         "start."))
        form.addRow(self.tr("Language"), self.language)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addLayout(form)
        self.servers = ServersPanel()
        layout.addWidget(self.servers)
        layout.addWidget(buttons)
        name_controls(self)
        self.gpu_layers.valueChanged.connect(self._update_hint)
        self._update_hint()

    def done(self, result: int) -> None:
        self.servers.shutdown()
        super().done(result)

    def _update_hint(self) -> None:
        wants_gpu = self.gpu_layers.value() != 0
        self.gpu_hint.setVisible(wants_gpu and self._gpu_supported is False)

    def result_settings(self) -> AppSettings:
        preset = str(self.preset.currentData())
        changed_preset = preset != self._settings.sampler_preset
        return replace(
            self._settings,
            n_ctx=self.n_ctx.value(),
            n_gpu_layers=self.gpu_layers.value(),
            n_threads=self.threads.value() or None,
            sampler_preset=preset,
            sampler=PRESETS[preset] if changed_preset else self._settings.sampler,
            theme=THEMES[self.theme.currentIndex()],
            font_size=self.font_size.value(),
            language=str(self.language.currentData()),
        )
