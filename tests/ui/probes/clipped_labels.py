"""Run by tests/ui/test_scaling.py in its own process (QT_SCALE_FACTOR is read at start):
build the main window, the settings dialog and the Models window in the given language,
answer one message, and print as JSON every visible label or button drawn smaller than
its text needs.

    python clipped_labels.py LANGUAGE WIDTH HEIGHT
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget


def clipped(root: QWidget) -> list[str]:
    found = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, (QLabel, QAbstractButton)) or not widget.isVisibleTo(root):
            continue
        if not widget.text().strip() or widget.objectName().startswith("qt_"):
            continue
        need = widget.minimumSizeHint()
        if isinstance(widget, QLabel) and widget.wordWrap():
            short = widget.height() < widget.heightForWidth(widget.width())
        else:
            short = widget.width() < need.width() or widget.height() < need.height()
        if short:
            found.append(f"{type(widget).__name__} {widget.text()[:40]!r}: "
                         f"{widget.width()}x{widget.height()} < {need.width()}x{need.height()}")
    return found


def main() -> int:
    language, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from tokenwise.core.sampling.settings import PRESETS
    from tokenwise.core.settings import load_settings, save_settings

    settings = load_settings()
    settings.language = language
    settings.sampler = PRESETS["Greedy"].with_(max_tokens=12)
    save_settings(settings)
    from tokenwise.ui.app import application, create_window
    from tokenwise.ui.models.window import ModelsWindow
    from tokenwise.ui.settings_dialog import SettingsDialog

    app = application()
    window = create_window()
    window.resize(width, height)
    window.show()
    result: dict[str, object] = {}

    def measure() -> None:
        window.inspector.select_step(1)
        models = ModelsWindow(window.downloads, window)
        models.show()
        dialog = SettingsDialog(window.settings, parent=window)
        dialog.show()
        QApplication.processEvents()
        result["scale"] = window.devicePixelRatio()
        result["window"] = [window.width(), window.height()]
        result["clipped"] = {type(r).__name__: clipped(r) for r in (window, models, dialog)}
        app.quit()

    window.controller.model_loaded.connect(lambda _info: window.flow.send("Hello"))
    window.controller.reply_finished.connect(lambda *_: QTimer.singleShot(200, measure))
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    print(json.dumps(result))  # noqa: T201
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main())
