"""With Chinese chosen, no text a user sees or hears is left in English.

The walk reads every widget of the main window (after one real reply, with a step selected),
the settings dialog and the Models window: visible texts, tooltips, accessible names and
descriptions, placeholders, window titles, tab texts, menu and toolbar actions, spin-box
suffixes, table headers and cells. What may stay in Latin letters: model and file names,
token text, numbers, units, keys and the names in ALLOWED.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QSpinBox,
    QTabBar,
    QTextEdit,
    QWidget,
)

from tokenwise.ui.inspector.text_block import TextBlock

#: names, formats, keys and kept terms that read the same in Chinese
ALLOWED = [
    r"Tokenwise", r"llama-cpp-python", r"llama\.cpp", r"PySide6", r"\bQt\b", r"LGPL-3\.0",
    r"Apache-2\.0", r"huggingface_hub", r"Hugging Face", r"\bHub\b", r"README(\.md)?",
    r"GPU builds", r"\bGGUF\b", r"\bGPU\b", r"\bCPU\b", r"\bKV\b", r"\bRAM\b", r"\bJSON\b",
    r"\bCSV\b", r"\bPNG\b", r"Jinja", r"ChatML", r"sha256", r"\bid\b", r"[Tt]op-[kKpP]",
    r"[Mm]in-p", r"\blogits?\b", r"softmax", r"\.gguf", r"qwen 0\.5b instruct",
    r"\b(Ctrl|Shift|Alt|Enter|Return|Esc|Space|Right|Left|Tab|Del|F\d+)\b", r"\b[kMG]?B\b",
    r"\bkB\b", r"English", r"Noto", r"\bpt\b", r"SmolLM2", r"Qwen2\.5", r"Instruct",
    r"Google|Meta|Microsoft|Mistral|Gemma|Llama|Qwen|Phi",
    r"https?://\S+", r"llama-server", r"vLLM", r"SGLang", r"Ollama", r"LM Studio", r"\bAPI\b",
    r"\bURL\b", r"\bCA\b", r"\bPEM\b",
]
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture
def chinese_window(new_window: Any) -> Any:
    return new_window(language="zh_CN", max_tokens=12)


def _data_words(window: Any) -> set[str]:
    """Words of the data shown: model names, files, metadata values, paths, licences."""
    from tokenwise.core.models.hub import load_catalogue
    from tokenwise.core.models.library import Library

    words: set[str] = set()
    values: list[str] = []
    for model in Library().list_models():
        values += [model.name, str(model.path), model.quantization, model.license,
                   model.repo_id or "", model.filename]
        if model.info is not None:
            values += [model.info.name, model.info.architecture, model.info.license]
    for entry in load_catalogue():
        values += [entry.name, entry.repo_id, entry.license, entry.quantization, *entry.files]
    info = window.flow.model_info
    if info is not None:
        values += [info.name, info.path, info.architecture, info.backend]
    for value in values:
        words.update(LATIN_WORD.findall(value or ""))
    return words


def _strip(text: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text)  # rich text tags
    text = re.sub(r"<0x[0-9A-F]{2}>", " ", html.unescape(text))  # entities; a byte token
    text = re.sub(r"'[^']*'", " ", text)  # token labels
    text = re.sub(r"&(?=\w)", "", text)  # mnemonics
    for pattern in ALLOWED:
        text = re.sub(pattern, " ", text)
    return text


def _texts_of(widget: QWidget) -> list[tuple[str, str]]:
    found = [("tooltip", widget.toolTip()), ("accessible name", widget.accessibleName()),
             ("accessible description", widget.accessibleDescription()),
             ("status tip", widget.statusTip())]
    if widget.isWindow():
        found.append(("title", widget.windowTitle()))
    if isinstance(widget, (QLabel, QAbstractButton, TextBlock)):
        found.append(("text", widget.text()))
    if isinstance(widget, (QLineEdit, QPlainTextEdit, QTextEdit)):
        found.append(("placeholder", widget.placeholderText()))
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        found += [("suffix", widget.suffix()), ("special", widget.specialValueText())]
    if isinstance(widget, QAbstractSpinBox):
        found.append(("shown", widget.text()))
    if isinstance(widget, QGroupBox):
        found.append(("title", widget.title()))
    if isinstance(widget, QComboBox):
        found += [("item", widget.itemText(i)) for i in range(widget.count())]
    if isinstance(widget, QTabBar):
        for i in range(widget.count()):
            found += [("tab", widget.tabText(i)), ("tab tooltip", widget.tabToolTip(i))]
    if isinstance(widget, QMenu):
        for action in widget.actions():
            found += [("menu item", action.text()), ("menu tooltip", action.toolTip())]
    if isinstance(widget, QAbstractItemView) and not isinstance(widget, QHeaderView) and \
            widget.model() is not None:
        model = widget.model()
        root = QModelIndex()
        columns = 1 if isinstance(model, QAbstractListModel) else model.columnCount(root)
        for c in range(columns):
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                found.append(("header", str(model.headerData(c, Qt.Orientation.Horizontal,
                                                               role) or "")))
            for r in range(model.rowCount(root)):
                found.append(("cell", str(model.data(model.index(r, c)) or "")))
    return found


def english_left(root: QWidget, allowed_words: set[str]) -> list[str]:
    """Every text of ``root`` and its children that still holds an English word."""
    widgets = [root, *root.findChildren(QWidget)]
    left = []
    for widget in widgets:
        if widget.objectName().startswith("qt_"):
            continue
        for kind, text in _texts_of(widget):
            words = [w for w in LATIN_WORD.findall(_strip(text)) if w not in allowed_words]
            if words:
                left.append(f"{type(widget).__name__} {kind}: {text[:70]!r} ({words})")
    for action in root.actions():
        for text in (action.text(), action.toolTip(), action.statusTip()):
            words = [w for w in LATIN_WORD.findall(_strip(text)) if w not in allowed_words]
            if words:
                left.append(f"action: {text!r} ({words})")
    return sorted(set(left))


def test_the_walk_finds_english(qtbot: Any) -> None:
    root = QWidget()
    qtbot.addWidget(root)
    label = QLabel("第 1 步 · ' the' · 41% · Ctrl+N · SmolLM2", root)
    assert english_left(root, set()) == []
    label.setToolTip("Select a step")
    assert english_left(root, set()) == [
        "QLabel tooltip: 'Select a step' (['Select', 'step'])"]


def test_every_window_speaks_chinese(qtbot: Any, chinese_window: Any, send: Any) -> None:
    from tokenwise.ui.models.window import ModelsWindow
    from tokenwise.ui.settings_dialog import SettingsDialog

    window = chinese_window
    assert window.composer.send_button.text() == "发送"
    send(window, "你好")
    window.inspector.select_step(1)
    window.inspector.tokens.play_edit.setPlainText("人工智能是")
    assert window.language_notice.isVisible()  # the starter writes English only
    models = ModelsWindow(window.downloads, window)
    settings = SettingsDialog(window.settings, model_layers=30, parent=window)
    for dialog in (models, settings):
        qtbot.addWidget(dialog)
    models.refresh_installed()
    qtbot.waitUntil(lambda: models.installed_model.rowCount() > 0)
    models.installed_view.selectRow(0)
    allowed = _data_words(window)
    for root in (window, models, settings):
        assert len(root.findChildren(QWidget)) > 10
        left = english_left(root, allowed)
        assert not left, "\n".join([type(root).__name__, *left])
    menus = [a.menu() for a in window.menuBar().actions()]
    assert window.menuBar().actions()[0].text() == "文件(&F)"
    for menu in menus:
        assert english_left(menu, allowed) == []
    # the step explanation comes from the core, in Chinese too
    assert "模型给" in window.inspector.step_view.explanation.text()
