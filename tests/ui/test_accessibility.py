"""Every interactive control has an accessible name (what a screen reader says) in the main
window, the Models window, the settings dialog, the About dialog and the strategies lab."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox, QPushButton, QSlider, QWidget

from tokenwise.ui.accessibility import accessible_name, interactive_controls, name_controls


def _unnamed(root: QWidget) -> list[str]:
    return [f"{type(w).__name__} (tooltip {w.toolTip()[:40]!r})"
            for w in interactive_controls(root) if not accessible_name(w)]


def test_every_control_of_every_window_has_a_name(qtbot: Any, window: Any) -> None:
    from tokenwise.ui.about import AboutDialog
    from tokenwise.ui.lab.window import LabWindow
    from tokenwise.ui.models.window import ModelsWindow
    from tokenwise.ui.settings_dialog import SettingsDialog

    models = ModelsWindow(window.downloads, window)
    settings = SettingsDialog(window.settings, parent=window)
    about = AboutDialog(window.flow.model_info, window)
    lab = LabWindow(window.engine, "Hello")
    for dialog in (models, settings, about, lab):
        qtbot.addWidget(dialog)
    for root in (window, models, settings, about, lab):
        controls = interactive_controls(root)
        assert len(controls) >= 2, type(root).__name__  # the walk really found controls
        assert _unnamed(root) == [], type(root).__name__
    temperature = next(w for w in interactive_controls(window)
                       if isinstance(w, QDoubleSpinBox) and w.toolTip().startswith("Divides"))
    assert accessible_name(temperature) == "Divides the logits before the draw: below 1 " \
        "sharpens the distribution towards the top token, above 1 flattens it"
    assert temperature.accessibleDescription() == temperature.toolTip()


def test_the_walk_notices_a_nameless_control(qtbot: Any) -> None:
    root = QWidget()
    qtbot.addWidget(root)
    slider = QSlider(root)
    QPushButton("Send", root)
    assert _unnamed(root) == ["QSlider (tooltip '')"]  # a button is named by its text
    slider.setToolTip("How hot. Higher is flatter")
    name_controls(root)
    assert accessible_name(slider) == "How hot"
