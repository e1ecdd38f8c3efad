"""Settings: the dialog's fields, and what the window does with them on OK."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from tokenwise.core.sampling.settings import PRESETS, SamplerSettings
from tokenwise.core.settings import AppSettings, load_settings
from tokenwise.ui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_fields_show_the_settings_and_return_the_edits(qtbot) -> None:
    custom = SamplerSettings(temperature=1.3, top_k=7)
    settings = AppSettings(n_ctx=2048, n_threads=None, sampler_preset="Balanced",
                           sampler=custom, theme="dark", font_size=11)
    dialog = SettingsDialog(settings, model_layers=30, gpu_supported=True)
    qtbot.addWidget(dialog)
    assert dialog.n_ctx.value() == 2048
    assert dialog.threads.text() == "automatic"
    assert dialog.theme.currentText() == "Dark"
    assert all(w.toolTip() for w in (dialog.n_ctx, dialog.gpu_layers, dialog.threads,
                                     dialog.preset, dialog.theme, dialog.font_size))

    unchanged = dialog.result_settings()
    assert unchanged.sampler == custom  # the same preset keeps the user's own sliders

    dialog.n_ctx.setValue(1024)
    dialog.threads.setValue(2)
    dialog.preset.setCurrentText("Precise")
    dialog.theme.setCurrentText("Light")
    dialog.font_size.setValue(14)
    out = dialog.result_settings()
    assert (out.n_ctx, out.n_threads, out.theme, out.font_size) == (1024, 2, "light", 14)
    assert out.sampler_preset == "Precise" and out.sampler == PRESETS["Precise"]
    assert settings.n_ctx == 2048  # the dialog edits a copy


def test_gpu_hint_only_where_the_build_cannot_offload(qtbot) -> None:
    cpu_only = SettingsDialog(AppSettings(n_gpu_layers=-1), gpu_supported=False)
    qtbot.addWidget(cpu_only)
    cpu_only.show()
    assert cpu_only.gpu_hint.isVisible()
    assert "README" in cpu_only.gpu_hint.text()
    cpu_only.gpu_layers.setValue(0)
    assert not cpu_only.gpu_hint.isVisible()

    gpu = SettingsDialog(AppSettings(n_gpu_layers=-1), gpu_supported=True)
    qtbot.addWidget(gpu)
    gpu.show()
    assert not gpu.gpu_hint.isVisible()


def test_ok_saves_applies_and_reloads_the_model(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.controller.flow.model_info is not None, timeout=60_000)
    seen: list[SettingsDialog] = []

    def edit_and_accept() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        seen.append(dialog)
        dialog.n_ctx.setValue(1536)
        dialog.font_size.setValue(13)
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()

    QTimer.singleShot(0, edit_and_accept)
    window.open_settings()
    assert seen
    assert load_settings().n_ctx == 1536  # saved to disk
    assert QApplication.font().pointSize() == 13  # applied at once
    qtbot.waitUntil(lambda: window.controller.flow.model_info is not None
                    and window.controller.flow.model_info.n_ctx == 1536, timeout=60_000)


def test_the_window_follows_the_desktop_between_light_and_dark(qtbot, window, send,
                                                               monkeypatch) -> None:
    """The offscreen platform has no colour scheme: the test says what the desktop reports."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QPalette, QTextCursor

    from tokenwise.ui import theme

    def heat_of_first_token(bubble) -> str:
        cursor = QTextCursor(bubble.text.document())
        cursor.setPosition(1)
        return cursor.charFormat().background().color().name()

    window.settings.theme = "system"
    window.chat_view.set_heatmap(True)
    monkeypatch.setattr(theme, "system_is_dark", lambda: False)
    window.apply_theme()
    reply = window.chat_view.bubble(send(window, "Say hello."))
    light_heat = heat_of_first_token(reply)
    assert not theme.current().dark

    monkeypatch.setattr(theme, "system_is_dark", lambda: True)
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.current().dark
    window_color = QApplication.palette().color(QPalette.ColorRole.Window).name()
    assert window_color == theme.DARK.window.lower()
    assert heat_of_first_token(reply) != light_heat  # the shading was repainted

    window.settings.theme = "dark"  # a theme chosen in Settings stays put
    monkeypatch.setattr(theme, "system_is_dark", lambda: False)
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert theme.current().dark
    window.settings.theme = "light"
    window.apply_theme()  # as the other tests expect it


@pytest.mark.parametrize("dark", [False, True])
def test_number_fields_draw_their_step_buttons_with_arrows(qtbot, dark) -> None:
    """A styled spin box loses the platform's arrows: the style sheet names its own."""
    import re
    from pathlib import Path

    from PySide6.QtWidgets import QDoubleSpinBox

    from tokenwise.ui import theme

    sheet = theme.style_sheet(theme.DARK if dark else theme.LIGHT, 11)
    arrows = re.findall(r"image: url\(([^)]+)\)", sheet)
    assert len(arrows) == 2 and all(Path(a).is_file() for a in arrows)
    assert "@" not in sheet.split("*/", 1)[1]  # every template name was filled in
    box = QDoubleSpinBox()
    qtbot.addWidget(box)
    box.setStyleSheet(sheet)
    box.resize(120, 32)
    image = box.grab().toImage()
    right = [image.pixelColor(x, y).name() for x in range(100, 118) for y in range(4, 28)]
    # an arrow's antialiased strokes, not a blank box (its border and fill: 3 colours)
    assert len(set(right)) > 5
