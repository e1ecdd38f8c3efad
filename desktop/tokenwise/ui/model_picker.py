"""The header's model picker: the usable models, listed on the library's worker.

Listing reads the library index and, for a model it has not seen, the file's GGUF header:
not for the GUI thread, least of all while the window is first shown.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QComboBox, QWidget

from tokenwise.core.tasks import SerialWorker, TaskState

ModelChoices = tuple[list[tuple[str, str]], str]  # (name, path) of each usable model; default


def model_choices(_resource: None, _state: TaskState[None]) -> ModelChoices:
    """The usable models and the default one (work for the library's worker): the local
    ones, then each saved server's, marked as remote with the server's name."""
    entries, default = _local_choices()
    try:
        from tokenwise.core.remote import list_saved_models

        remote = list_saved_models()
    except Exception:  # a server's trouble never hides the local models
        remote = []
    for model, server, path in remote:
        entries.append((QCoreApplication.translate(
            "ModelPicker", "{0} — remote, {1}").format(model, server), path))
    return entries, default


def _local_choices() -> ModelChoices:
    try:
        from tokenwise.core.models.library import Library

        library = Library()
        entries = [(m.name, str(m.path)) for m in library.list_models() if m.usable]
        default = library.default_model()
        return entries, str(default.path) if default is not None else ""
    except Exception:  # the library is optional at start: fall back to the starter
        from tokenwise.core.models.starter import STARTER_NAME, starter_model_path

        try:
            path = str(starter_model_path())
        except Exception:
            return [], ""
        return [(STARTER_NAME, path)], path


class ModelPicker(QComboBox):
    """A combo box of model names; each item's data is the model's path."""

    def __init__(self, library: SerialWorker[None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.setMinimumWidth(280)
        self.setToolTip(self.tr("The model that answers; choosing another one loads it"))

    def fill(self, preferred: str | None, last_model: str,
             then: Callable[[], None] | None = None) -> None:
        """List the models; select ``preferred``, else the last one used, else the default;
        then call ``then``. A newer fill makes an older one's list be dropped."""

        def show(choices: ModelChoices) -> None:
            entries, default_path = choices
            if preferred and all(p != preferred for _, p in entries):
                entries.insert(0, (preferred.rsplit("/", 1)[-1], preferred))
            self.clear()
            for name, path in entries:
                self.addItem(name, path)
                self.setItemData(self.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
            want = preferred or last_model or default_path
            self.setCurrentIndex(max(0, self.findData(want)))
            if then is not None:
                then()

        self.library.submit(model_choices, key="models", returned=show)
