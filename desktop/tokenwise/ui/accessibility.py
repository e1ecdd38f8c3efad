"""Accessible names and descriptions for the controls of a window.

Qt names a button by its text; a spin box, slider, text field, list or table has no text of
its own. Each such control is named here from its label (a form row's label, a label whose
buddy it is) or else from its tooltip's first sentence, and described by its whole tooltip,
so a screen reader says what it is and what it does. A name set by hand is kept.
"""

from __future__ import annotations

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

INTERACTIVE = (QAbstractButton, QAbstractSpinBox, QAbstractSlider, QLineEdit, QPlainTextEdit,
               QTextEdit, QComboBox, QAbstractItemView, QTabBar)


def is_qt_part(widget: QWidget) -> bool:
    """A piece of a Qt control that the control itself names (a spin box's line edit, a
    view's scroll bars and header, toolbar extension buttons)."""
    parent = widget.parentWidget()
    return (widget.objectName().startswith("qt_")
            or isinstance(widget, QScrollBar | QHeaderView)
            or isinstance(parent, QAbstractSpinBox | QComboBox | QLineEdit)
            or (parent is not None and (
                parent.objectName().startswith("qt_")
                or parent.metaObject().className() == "QComboBoxPrivateContainer")))


def interactive_controls(root: QWidget) -> list[QWidget]:
    return [w for w in [root, *root.findChildren(QWidget)]
            if isinstance(w, INTERACTIVE) and not is_qt_part(w)]


def accessible_name(widget: QWidget) -> str:
    """What a screen reader says for the widget."""
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name).strip() if interface is not None else ""


def _label_for(widget: QWidget) -> str:
    parent = widget.parentWidget()
    layout = parent.layout() if parent is not None else None
    if isinstance(layout, QFormLayout):
        label = layout.labelForField(widget)
        if isinstance(label, QLabel) and label.text():
            return label.text().replace("&", "").rstrip(":")
    if parent is not None:
        for label in parent.findChildren(QLabel):
            if label.buddy() is widget and label.text():
                return label.text().replace("&", "").rstrip(":")
    return ""


def name_controls(root: QWidget) -> None:
    """Give every control under ``root`` without a name one, and its tooltip as description."""
    for widget in interactive_controls(root):
        tip = widget.toolTip().strip()
        if tip and not widget.accessibleDescription():
            widget.setAccessibleDescription(tip)
        if accessible_name(widget):
            continue
        placeholder = widget.placeholderText() if isinstance(
            widget, QLineEdit | QPlainTextEdit | QTextEdit) else ""
        name = (_label_for(widget) or tip.split(". ")[0].split(";")[0].rstrip(".")
                or placeholder.split("(")[0].strip().rstrip("…."))
        if name:
            widget.setAccessibleName(name)
