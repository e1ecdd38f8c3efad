"""Help > About: the version, the llama.cpp build and backend, the licences of Tokenwise,
of its parts and of the loaded model. And the report offered after a crash."""

from __future__ import annotations

import html
import importlib.metadata as metadata

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from tokenwise import __version__
from tokenwise.core.interface import ModelInfo
from tokenwise.core.notices import installed_notices
from tokenwise.ui.i18n import T


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return QCoreApplication.translate("AboutDialog", "unknown")


def summary_html(model: ModelInfo | None) -> str:
    """The dialog's head: what runs, and under which licences."""
    if model is None:
        backend = T("no model loaded")
        model_line = T("No model is loaded.")
    else:
        backend = (T("{backend}, {offloaded} of {layers} layers offloaded").format(
            backend=model.backend, offloaded=model.gpu_layers, layers=model.layers)
                   if model.gpu_layers > 0 else "CPU")
        licence = html.escape(model.license) or T("not stated in the file; see its model card")
        model_line = T("Model: {name}, licence: {licence}").format(
            name=html.escape(model.name), licence=licence)
    return (
        f"<h2>Tokenwise {__version__}</h2>"
        "<p>" + T("See how a local language model writes, one token at a time.") + "</p>"
        "<p>" + T("llama.cpp through llama-cpp-python {version} · backend: {backend}").format(
            version=_version("llama-cpp-python"), backend=backend)
        + f"<br>Qt {_version('PySide6-Essentials')} (PySide6)</p>"
        f"<p>{model_line}</p>"
        "<p>" + T("Tokenwise is licensed under Apache-2.0. PySide6 and Qt are used under the "
                   "LGPL-3.0. The licences of every part follow.") + "</p>"
    )


class AboutDialog(QDialog):
    def __init__(self, model: ModelInfo | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("About Tokenwise"))
        self.setObjectName("aboutDialog")
        self.resize(640, 560)
        self.summary = QLabel(summary_html(model))
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAccessibleName(self.tr("About Tokenwise"))
        self.licences = QPlainTextEdit(installed_notices())
        self.licences.setReadOnly(True)
        self.licences.setObjectName("licences")
        self.licences.setToolTip(self.tr("The licences of Tokenwise and of every part it runs "
                                         "with"))
        self.licences.setAccessibleName(self.tr("Licences"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setToolTip(self.tr("Close (Esc)"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addWidget(self.summary)
        layout.addWidget(self.licences, 1)
        layout.addWidget(buttons)


class CrashReportDialog(QDialog):
    """The last run ended unexpectedly: its versions and last log lines, to copy."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Tokenwise closed unexpectedly"))
        self.setObjectName("crashReport")
        self.resize(640, 420)
        intro = QLabel(self.tr("The last time, Tokenwise ended without closing. Your chats "
                               "were saved as they streamed. If you report the problem, this "
                               "helps:"))
        intro.setWordWrap(True)
        self.report = QPlainTextEdit(text)
        self.report.setReadOnly(True)
        self.report.setAccessibleName(self.tr("Crash report"))
        self.report.setToolTip(self.tr("Versions and the last lines of the log"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton(self.tr("Copy report"),
                                             QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setToolTip(self.tr("Copy the report to the clipboard"))
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.report.toPlainText()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addWidget(self.report, 1)
        layout.addWidget(buttons)
