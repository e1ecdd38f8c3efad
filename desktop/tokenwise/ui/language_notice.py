"""A banner over the chat for a reader whose language the loaded model does not write.

The bundled starter model writes English only. When the window speaks Chinese and the
starter is what answers, the banner says so and offers the catalogue's small multilingual
model (Qwen2.5 0.5B Instruct) as the first download, or its use once it is installed.

Signals:
    download_requested(str, tuple): the catalogue entry's repository and files to fetch.
    use_requested(str): the path of the installed multilingual model to load.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from tokenwise.core import i18n
from tokenwise.core.formatting import format_size
from tokenwise.core.models.hub import CatalogueEntry, load_catalogue

#: the catalogue's first download for a reader of Chinese
MULTILINGUAL_ID = "qwen2.5-0.5b-q4_k_m"


def multilingual_entry() -> CatalogueEntry | None:
    return next((e for e in load_catalogue() if e.id == MULTILINGUAL_ID), None)


def is_starter(path: str) -> bool:
    from tokenwise.core.models.starter import starter_model_path

    try:
        return Path(path).resolve() == starter_model_path().resolve()
    except (OSError, FileNotFoundError, LookupError):
        return False


class LanguageNotice(QFrame):
    download_requested = Signal(str, tuple)
    use_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("languageNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.action_button = QPushButton()
        self.action_button.setToolTip(self.tr("Download the multilingual model; Models shows "
                                              "its progress"))
        self.action_button.clicked.connect(self._act)
        self.close_button = QPushButton(self.tr("Not now"))
        self.close_button.setToolTip(self.tr("Hide this note until the next start"))
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self._entry: CatalogueEntry | None = None
        self._installed: str | None = None
        self._dismissed = False
        self.hide()

    def update_for(self, model_path: str | None, installed: dict[str, str]) -> None:
        """Show the banner when Chinese meets the starter model. ``installed``: the
        installed models, file name -> path (to offer the multilingual one for use)."""
        self._entry = multilingual_entry()
        wanted = (not self._dismissed and i18n.language() == i18n.CHINESE
                  and model_path is not None and is_starter(model_path)
                  and self._entry is not None)
        self.setVisible(wanted)
        if not wanted or self._entry is None:
            return
        entry = self._entry
        self._installed = next((installed[f] for f in entry.files if f in installed), None)
        lead = self.tr("The starter model writes English only.")
        if self._installed is not None:
            self.text.setText(lead + i18n.gap() + self.tr(
                "{name} is installed and writes Chinese: use it to chat in Chinese.").format(
                    name=entry.name))
            self.action_button.setText(self.tr("Use {name}").format(name=entry.name))
            self.action_button.setToolTip(self.tr("Load the multilingual model in the chat"))
        else:
            size = format_size(entry.approx_size) if entry.approx_size else "?"
            self.text.setText(lead + i18n.gap() + self.tr(
                "To chat in Chinese, download {name} ({size}) from the catalogue: a small "
                "multilingual model that writes Chinese.").format(name=entry.name, size=size))
            self.action_button.setText(self.tr("Download {name}").format(name=entry.name))
            self.action_button.setToolTip(self.tr("Download the multilingual model; Models "
                                                  "shows its progress"))

    def _act(self) -> None:
        if self._installed is not None:
            self.use_requested.emit(self._installed)
        elif self._entry is not None:
            self.download_requested.emit(self._entry.repo_id, self._entry.files)

    def dismiss(self) -> None:
        self._dismissed = True
        self.hide()
