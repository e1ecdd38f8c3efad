"""The window without a mouse: type and send a message, Tab to the timeline and open a
token's step with the arrow keys, Tab to a sampling slider and move it, open the Models
window with its shortcut and close it with Esc. Every key goes to the widget that has the
keyboard focus, as a keyboard's would; the focus is drawn where it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget

from tokenwise.ui.inspector.timeline import TimelineChart

REPLY_TIMEOUT_MS = 120_000


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None
    return widget


def press(qtbot: Any, key: Qt.Key,
          modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(focused(), key, modifier)


def tab_to(qtbot: Any, wanted: Callable[[QWidget], bool], limit: int = 80) -> list[str]:
    """Press Tab until ``wanted(focus)``; returns the widgets passed on the way."""
    passed = []
    for _ in range(limit):
        if wanted(focused()):
            return passed
        passed.append(type(focused()).__name__)
        press(qtbot, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached it; passed {passed}")


def image(widget: QWidget) -> QImage:
    return widget.grab().toImage()


def test_a_chat_without_the_mouse(qtbot: Any, new_window: Any) -> None:
    window = new_window(max_tokens=12)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.composer.edit)
    qtbot.keyClicks(focused(), "Why one token at a time?")
    with qtbot.waitSignal(window.controller.reply_finished, timeout=REPLY_TIMEOUT_MS):
        press(qtbot, Qt.Key.Key_Return)

    # the reading order: the message box, Send, then the inspector
    passed = tab_to(qtbot, lambda w: isinstance(w, TimelineChart))
    assert passed[:2] == ["ComposerEdit", "QPushButton"]
    assert "QTabBar" in passed
    timeline = focused()
    assert isinstance(timeline, TimelineChart)
    panel = window.inspector
    qtbot.waitUntil(lambda: timeline.count() == len(panel.steps()) > 3)  # drawn on a timer
    press(qtbot, Qt.Key.Key_Home)
    assert panel.selected_step() == 0
    press(qtbot, Qt.Key.Key_Right)
    press(qtbot, Qt.Key.Key_Right)
    assert panel.selected_step() == 2
    assert panel.step_view.title.text().startswith("Step 3 of ")
    assert "probability" in timeline.accessibleDescription()  # what a screen reader says
    press(qtbot, Qt.Key.Key_End)
    assert panel.selected_step() == timeline.count() - 1

    # the focus is drawn: the timeline with the focus differs from the timeline without
    with_focus = image(timeline)
    slider = panel.sampling.fields["temperature"].slider
    passed = tab_to(qtbot, lambda w: w is slider)
    assert image(timeline) != with_focus
    assert passed[0] == "TimelineChart"
    before = slider.value()
    press(qtbot, Qt.Key.Key_PageUp)
    assert slider.value() > before
    qtbot.waitUntil(lambda: panel.sampling.settings().temperature > 0)

    # the Models window by its shortcut, closed again by Esc
    press(qtbot, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    models = window._models_window
    assert models is not None
    qtbot.waitUntil(models.isVisible)
    qtbot.waitUntil(lambda: focused().window() is models)
    press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not models.isVisible())


def test_every_kind_of_control_shows_the_keyboard_focus(qtbot: Any, window: Any) -> None:
    """A button, a tool button, a slider, a check box and a combo box each look different
    with the keyboard focus than without (both themes draw it: the style sheet's :focus)."""
    from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton, QSlider, QToolButton

    kinds = (QPushButton, QToolButton, QSlider, QComboBox, QCheckBox)
    for kind in kinds:
        if kind is QCheckBox:
            window.inspector.tabs.setCurrentIndex(1)  # the tokens panel's heatmap box
        control = next(w for w in window.findChildren(kind)
                       if w.isVisible() and w.isEnabled()
                       and w.focusPolicy() & Qt.FocusPolicy.TabFocus)
        window.composer.edit.setFocus()
        qtbot.waitUntil(lambda: not control.hasFocus())  # noqa: B023
        plain = image(control)
        control.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(control.hasFocus)
        assert image(control) != plain, kind.__name__
