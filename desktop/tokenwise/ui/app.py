"""Application start-up: display check, QApplication, theme, the main window.

Heavy modules (llama_cpp, numpy) are not imported here: the engine loads on its own
thread after the window is shown.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only: Qt loads once the display check has passed
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from tokenwise.core.interface import ModelInfo
    from tokenwise.ui.main_window import MainWindow

NO_DISPLAY_MESSAGE = (
    "Tokenwise needs a graphical display, and none was found (DISPLAY and WAYLAND_DISPLAY "
    "are not set).\nRun it from a desktop session. For screenshots or checks without a "
    "display, set QT_QPA_PLATFORM=offscreen, e.g.:\n"
    "  QT_QPA_PLATFORM=offscreen tokenwise screenshot --out window.png"
)


def has_display(env: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt can open a window here (always on Windows / macOS; a platform override)."""
    env = dict(os.environ) if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("QT_QPA_PLATFORM"):
        return True
    if not platform.startswith("linux"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication, created once."""
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationName("Tokenwise")
    app.setOrganizationName("Tokenwise")
    app.setDesktopFileName("tokenwise")
    app.setWindowIcon(_app_icon())
    return app


def _app_icon() -> QIcon:
    from PySide6.QtGui import QIcon

    from tokenwise.core import paths

    return QIcon(str(paths.resources_dir() / "icons" / "tokenwise.png"))


def create_window(**kwargs: Any) -> MainWindow:
    """Theme the application and build the main window from the saved settings."""
    from tokenwise.core.settings import load_settings
    from tokenwise.ui import i18n, theme
    from tokenwise.ui.main_window import MainWindow

    settings = load_settings()
    i18n.install(application(), settings.language)
    theme.apply(application(), settings.theme, settings.font_size)
    return MainWindow(settings, **kwargs)


def _keep_python_signals_alive(app: QApplication) -> QTimer:
    """Qt's loop runs in C++; a small timer lets Python run its SIGTERM / SIGINT handlers."""
    from PySide6.QtCore import QTimer

    timer = QTimer(app)
    timer.start(200)
    timer.timeout.connect(lambda: None)
    return timer


def run_gui(argv: Sequence[str] | None = None) -> int:
    """``tokenwise``: open the window; returns the exit status.

    ``--smoke-test [--smoke-prompt TEXT]``: load the model, answer one message, close,
    print a JSON line.
    """
    args = list(argv or [])
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)  # noqa: T201
        return 2
    app = application([sys.argv[0], *[a for a in args if a.startswith("-platform")]])
    from PySide6.QtCore import QTimer

    from tokenwise.core import crashes

    # installed before the window: its engine starts loading (a first load checks the file
    # in a child process) as soon as it is shown, and a signal then must close it cleanly too
    shown: list[MainWindow] = []
    asked_to_close: list[bool] = []

    def close_on_signal(_signum: int, _frame: FrameType | None) -> None:
        asked_to_close.append(True)
        if shown:
            QTimer.singleShot(0, shown[0].close_without_asking)

    signal.signal(signal.SIGTERM, close_on_signal)
    signal.signal(signal.SIGINT, close_on_signal)
    crashed = crashes.start_session()
    window = create_window()
    window.show()
    shown.append(window)
    if asked_to_close:  # the signal came while the window was being built
        QTimer.singleShot(0, window.close_without_asking)
    if crashed is not None:
        window.offer_crash_report(crashed.text)
        print("tokenwise: the last run ended unexpectedly; its report is offered",  # noqa: T201
              flush=True)
    _ticker = _keep_python_signals_alive(app)
    if "--smoke-test" in args:
        prompt = "Say hello in one short sentence."
        if "--smoke-prompt" in args and args.index("--smoke-prompt") + 1 < len(args):
            prompt = args[args.index("--smoke-prompt") + 1]
        _smoke_test(window, prompt)
    print("tokenwise: window shown", flush=True)  # noqa: T201
    status = int(app.exec())
    del _ticker
    crashes.end_session()
    _exit_if_engine_still_busy(status)
    return status


def _exit_if_engine_still_busy(status: int) -> None:
    """Leave at once if the engine thread is still inside llama.cpp after the window closed.

    Closing joins the engine thread with a deadline (the window must close within 2 s). On
    an overloaded machine one decode can outlast it; letting the interpreter shut down under
    a thread that is still in native code crashes the process. The database thread is
    waited for first, so nothing is lost; then the process exits without running finalisers.
    """
    threads = {t.name: t for t in threading.enumerate()}
    engine = threads.get("tokenwise-engine")
    if engine is None or not engine.is_alive():
        return
    database = threads.get("tokenwise-db")
    if database is not None:
        database.join(5.0)
    engine.join(0.2)
    if engine.is_alive():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _smoke_test(window: MainWindow, prompt: str) -> None:
    """Send one message once the model is loaded; report the reply and close."""
    controller = window.controller

    def loaded(_info: ModelInfo) -> None:
        controller.send(prompt)

    def finished(message_id: int) -> None:
        steps = controller.flow.traces.get(message_id, [])
        print(json.dumps({"smoke_test": "ok", "tokens": len(steps),  # noqa: T201
                          "message_id": message_id}), flush=True)
        window.close()

    def failed(text: str) -> None:
        print(json.dumps({"smoke_test": "failed", "error": text}), flush=True)  # noqa: T201
        window.close()

    def saved(message_id: int, steps: int) -> None:
        print(json.dumps({"saved_steps": steps, "message_id": message_id}),  # noqa: T201
              flush=True)

    controller.model_loaded.connect(loaded)
    controller.reply_saved.connect(saved)
    controller.reply_finished.connect(finished)
    controller.model_load_failed.connect(failed)
