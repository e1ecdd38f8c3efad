"""``tokenwise screenshot``: the real window, offscreen, after one reply of the starter model.

It runs against a temporary data directory (the user's chats are never touched), selects a
step of the reply and saves a PNG of the whole window: for the README and for checks.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_PROMPT = "Why does a language model write one token at a time? Answer in a short list."
TIMEOUT_MS = 180_000


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tokenwise screenshot",
                                     description="Save a PNG of the window after one reply.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="the PNG file to write")
    target.add_argument("--scenes", metavar="DIR",
                        help="write the README's scenes (main window mid-reply, step view, "
                             "tokens panel, Models window, in each language) into DIR, "
                             "e.g. docs/")
    parser.add_argument("--language", choices=("en", "zh_CN", "all"), default="all",
                        help="the scenes' language (with --scenes; default: all)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="the message to send")
    parser.add_argument("--step", type=int, default=None,
                        help="the step to select, from 1 (default: the last)")
    parser.add_argument("--theme", choices=("light", "dark", "system"), default="light")
    parser.add_argument("--size", default="1440x900", help="window size, WIDTHxHEIGHT")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    """Returns 0 when the PNG was written."""
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="tokenwise-shot-") as home:
        os.environ["TOKENWISE_HOME"] = home
        from tokenwise.core import paths

        paths.set_base(home)
        try:
            if args.scenes:
                from tokenwise.ui.screenshot_scenes import run_scenes

                languages = ("en", "zh_CN") if args.language == "all" else (args.language,)
                width, height = (int(v) for v in args.size.lower().split("x"))
                return run_scenes(Path(args.scenes), languages, (width, height), args.theme)
            return _run(args)
        finally:
            paths.set_base(None)


def _run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer

    from tokenwise.core.settings import load_settings, save_settings
    from tokenwise.ui.app import application, create_window

    settings = load_settings()
    settings.theme = args.theme
    settings.tour_offered = True
    settings.language = "en" if args.language == "all" else args.language
    save_settings(settings)
    app = application()
    window = create_window()
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    controller = window.controller
    outcome: dict[str, Any] = {"status": 1}

    def fail(text: str) -> None:
        print(f"tokenwise screenshot: {text}", file=sys.stderr)  # noqa: T201
        app.exit(1)

    def finished(message_id: int) -> None:
        steps = controller.flow.traces.get(message_id, [])
        if steps:
            index = len(steps) - 1 if args.step is None else args.step - 1
            index = max(0, min(len(steps) - 1, index))
            controller.inspect_step(message_id, index)
        QTimer.singleShot(300, save)

    def save() -> None:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(out)):
            outcome["status"] = 0
            print(f"saved {out}")  # noqa: T201
        else:
            print(f"tokenwise screenshot: cannot write {out}", file=sys.stderr)  # noqa: T201
        window.close()
        app.exit(outcome["status"])

    controller.model_loaded.connect(lambda _info: controller.send(args.prompt))
    controller.model_load_failed.connect(fail)
    controller.reply_finished.connect(finished)
    QTimer.singleShot(TIMEOUT_MS, lambda: fail("timed out waiting for the reply"))
    status = int(app.exec())
    if not window._closed:
        window.close()
    return status
