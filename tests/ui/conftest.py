"""Fixtures for the window tests: the real window, the real starter model, greedy and short."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPLY_TIMEOUT_MS = 120_000


def make_window(qtbot: Any, **settings_changes: Any) -> Any:
    """The real main window with the starter model loaded."""
    from tokenwise.core.sampling.settings import PRESETS
    from tokenwise.core.settings import load_settings, save_settings
    from tokenwise.ui.app import create_window

    settings = load_settings()
    settings_changes.setdefault("language", "en")  # whatever the machine's language
    settings_changes.setdefault("tour_offered", True)  # no first-start card over the tests
    settings.sampler = PRESETS["Greedy"].with_(max_tokens=settings_changes.pop("max_tokens", 40))
    for key, value in settings_changes.items():
        setattr(settings, key, value)
    save_settings(settings)
    window = create_window()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=REPLY_TIMEOUT_MS):
        window.show()
    return window


def send_and_wait(qtbot: Any, window: Any, text: str) -> int:
    """Type ``text``, press Enter, wait for the reply; returns the reply's message id."""
    from PySide6.QtCore import Qt

    edit = window.composer.edit
    edit.setPlainText(text)
    with qtbot.waitSignal(window.controller.reply_finished, timeout=REPLY_TIMEOUT_MS) as blocker:
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    return int(blocker.args[0])


@pytest.fixture(autouse=True)
def english_again() -> Iterator[None]:
    """A test that switched the window to another language leaves it in English."""
    yield
    from PySide6.QtWidgets import QApplication

    from tokenwise.ui import i18n

    app = QApplication.instance()
    if app is not None:
        i18n.install(app, "en")


@pytest.fixture
def window(qtbot: Any, starter_model_path: Path) -> Iterator[Any]:
    return make_window(qtbot)


@pytest.fixture
def new_window(qtbot: Any, starter_model_path: Path) -> Callable[..., Any]:
    """A factory: new_window(max_tokens=400, n_ctx=512) -> a window with the model loaded."""
    return lambda **changes: make_window(qtbot, **changes)


@pytest.fixture
def send(qtbot: Any) -> Callable[[Any, str], int]:
    """send(window, text) -> reply id, once the reply has finished."""
    return lambda window, text: send_and_wait(qtbot, window, text)


@pytest.fixture
def store_reader(tokenwise_home: Path) -> Callable[[], Any]:
    """Opens the window's database from the test (after the window flushed its writes)."""
    from tokenwise.core.chat.store import ChatStore

    opened: list[Any] = []

    def open_store() -> Any:
        store = ChatStore()
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()
