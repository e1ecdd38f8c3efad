"""The model the tour writes with: in Chinese, one that writes Chinese.

The starter model writes English only. When the window speaks Chinese and the starter is
loaded, the tour switches to an installed model that writes Chinese: Gemma-3-270M (a base
model: it continues the prompt as raw text, no chat template), assembled into the models
folder on the library's thread, else a downloaded Qwen2.5 0.5B Instruct. With neither, the
tour says so in one line (the language notice offers the download) and runs on the starter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from tokenwise.core import i18n
from tokenwise.core.models.starter import gemma_installed, gemma_library_path
from tokenwise.core.tasks import SerialWorker
from tokenwise.ui.language_notice import is_starter, multilingual_entry


def needs_chinese_model(model_path: str | None) -> bool:
    return (i18n.language() == i18n.CHINESE and model_path is not None
            and is_starter(model_path))


def installed_qwen(installed: dict[str, str]) -> str | None:
    entry = multilingual_entry()
    if entry is None:
        return None
    return next((installed[f] for f in entry.files if f in installed), None)


def is_gemma(model_path: str | None) -> bool:
    return model_path is not None and Path(model_path).name.lower().startswith("gemma-3-270m")


def find_chinese_model(library: SerialWorker[None], installed: dict[str, str],
                       found: Callable[[str | None], None]) -> None:
    """Call ``found`` with the path of an installed model that writes Chinese, or None
    (Gemma is assembled on the library's thread the first time)."""
    qwen = installed_qwen(installed)
    if not gemma_installed():
        found(qwen)
        return

    def assemble(_resource: None, _state: object) -> str:
        return str(gemma_library_path())

    library.submit(assemble, returned=found, failed=lambda _error: found(qwen))


def switching_message(path: str) -> str:
    return QCoreApplication.translate(
        "TourModel", "The starter model writes English only: the tour switches to {name}, "
        "which writes Chinese.").format(name=Path(path).stem)


def no_model_message() -> str:
    return QCoreApplication.translate(
        "TourModel", "No installed model writes Chinese: the tour runs on the English-only "
        "starter model. Download Qwen2.5 0.5B Instruct from the note above the chat.")
