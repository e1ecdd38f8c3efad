"""``tokenwise screenshot --scenes DIR``: the README's pictures, from the real app, offscreen.

For each language (English, then Chinese) one window answers one message in step mode and
the scenes are grabbed along the way: the main window mid-reply, the step view, the tokens
panel (with Chinese text in the tokenizer playground, to show byte tokens), the Models
window, and the strategies lab comparing greedy, beam search and sampling on the same prompt
with its beam tree. Files: ``main-en.png``, ``step-en.png``, ``tokens-en.png``,
``models-en.png``, ``compare-en.png``, ``beams-en.png`` and the same with ``-zh_CN``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMPTS = {"en": "Why does a language model write one token at a time?",
           "zh_CN": "为什么语言模型一次只写一个词元？"}
PLAYGROUND = "Tokens: 人工智能是一门强大的技术。"
SCENES = ("main", "step", "tokens", "models", "compare", "beams")
LAB_TOKENS = 12
BEAM_TAB = 2
MID_REPLY_STEPS = 14


def run_scenes(out: Path, languages: tuple[str, ...], size: tuple[int, int],
               theme: str) -> int:
    """Write every scene of every language into ``out``; 0 when all were written."""
    from PySide6.QtCore import QTimer

    from tokenwise.core.sampling.settings import PRESETS
    from tokenwise.core.settings import load_settings, save_settings
    from tokenwise.ui.app import application, create_window

    out.mkdir(parents=True, exist_ok=True)
    app = application()
    written: list[Path] = []
    failed: list[str] = []

    def shoot(language: str, then: Callable[[], None]) -> None:
        settings = load_settings()
        settings.theme, settings.language, settings.tour_offered = theme, language, True
        settings.sampler = PRESETS["Balanced"].with_(max_tokens=40, seed=11)
        save_settings(settings)
        window = create_window()
        window.resize(*size)
        window.show()
        inspector, flow = window.inspector, window.flow
        waits = [0]
        shot_lab: list[bool] = []

        def save(widget: Any, name: str) -> None:
            path = out / f"{name}-{language}.png"
            if widget.grab().save(str(path)):
                written.append(path)
            else:
                failed.append(str(path))

        def loaded(_info: object) -> None:
            inspector.set_step_mode(True)
            flow.set_step_mode(True)
            flow.send(PROMPTS.get(language, PROMPTS["en"]))

        def waiting() -> None:
            waits[0] += 1
            if waits[0] <= MID_REPLY_STEPS:
                flow.step_once()
            elif waits[0] == MID_REPLY_STEPS + 1:
                QTimer.singleShot(300, mid_reply)

        def mid_reply() -> None:
            inspector.select_step(MID_REPLY_STEPS - 4)
            save(window, "main")
            save(inspector, "step")
            # the playground tokenizes on the engine, which a paused reply holds: finish it
            window.controller.reply_finished.connect(lambda _id: playground())
            inspector.set_step_mode(False)
            flow.run_to_end()

        def playground() -> None:
            inspector.tabs.setCurrentWidget(inspector.tokens)
            inspector.tokens.play_edit.setPlainText(PLAYGROUND)
            wait_for(lambda: inspector.tokens.play_chips.items() != [], tokens_and_models)

        def wait_for(ready: Callable[[], bool], then_do: Callable[[], None],
                     tries: int = 200) -> None:
            if ready() or tries <= 0:
                QTimer.singleShot(200, then_do)
            else:
                QTimer.singleShot(50, lambda: wait_for(ready, then_do, tries - 1))

        def tokens_and_models() -> None:
            save(inspector, "tokens")
            window.open_models()
            models = window._models_window
            assert models is not None
            models.resize(1100, 700)
            QTimer.singleShot(1500, lambda: finish(models))

        def finish(models: Any) -> None:
            save(models, "models")
            models.hide()
            window.open_lab(0)
            lab = window.lab
            assert lab is not None
            lab.resize(1300, 760)
            lab.max_tokens.setValue(LAB_TOKENS)
            lab.column_finished.connect(lambda _i: lab_done(lab))
            lab.run()

        def lab_done(lab: Any) -> None:
            if lab.busy or shot_lab:
                return
            shot_lab.append(True)
            QTimer.singleShot(300, lambda: shoot_lab(lab))

        def shoot_lab(lab: Any) -> None:
            save(lab, "compare")
            lab.tabs.setCurrentIndex(BEAM_TAB)
            QTimer.singleShot(300, lambda: end(lab))

        def end(lab: Any) -> None:
            save(lab, "beams")
            lab.hide()

            def close() -> None:
                window.close_without_asking()
                then()

            QTimer.singleShot(300, close)

        window.controller.model_loaded.connect(loaded)
        window.controller.step_waiting.connect(waiting)
        def load_failed(text: str) -> None:
            failed.append(text)
            app.exit(1)

        window.controller.model_load_failed.connect(load_failed)

    def load_failed_all(text: str) -> None:
        failed.append(text)
        app.exit(1)

    def chain(index: int) -> None:
        if index >= len(languages):
            app.exit(0 if not failed else 1)
            return
        shoot(languages[index], lambda: chain(index + 1))

    QTimer.singleShot(0, lambda: chain(0))
    QTimer.singleShot(300_000, lambda: load_failed_all("timed out"))
    status = int(app.exec())
    for path in written:
        print(f"saved {path}")  # noqa: T201
    for text in failed:
        print(f"tokenwise screenshot: {text}", file=sys.stderr)  # noqa: T201
    return status if not failed else 1
