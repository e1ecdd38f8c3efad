"""Export buttons: the reply's trace as JSON or CSV, the candidates view as PNG.

The writing itself lives in tokenwise.core.trace.export (tested without Qt); this module adds
the file dialogs and the PNG grab.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from tokenwise.core.trace.export import write_trace_csv, write_trace_json
from tokenwise.core.trace.records import Trace
from tokenwise.ui.i18n import T


def save_png(widget: QWidget, path: str | Path) -> Path:
    """The widget as it is drawn now, at the screen's pixel ratio."""
    path = Path(path)
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"Could not write {path}")
    return path



def _ask(panel: QWidget, title: str, name: str, filters: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(panel, title, str(Path.home() / name), filters)
    return Path(path) if path else None


def _report(panel: QWidget, error: OSError) -> None:
    QMessageBox.warning(panel, T("Export failed"),
                        T("The file could not be written: {error}").format(error=error))


def export_json_dialog(parent: QWidget, trace: Callable[[], Trace]) -> None:
    path = _ask(parent, T("Export the reply's trace"), "reply-trace.json", "JSON (*.json)")
    if path is not None:
        try:
            write_trace_json(trace(), path)
        except OSError as error:
            _report(parent, error)


def export_csv_dialog(parent: QWidget, trace: Callable[[], Trace]) -> None:
    path = _ask(parent, T("Export the reply's trace"), "reply-trace.csv", "CSV (*.csv)")
    if path is not None:
        try:
            write_trace_csv(trace(), path)
        except OSError as error:
            _report(parent, error)


def export_png_dialog(parent: QWidget, view: QWidget) -> None:
    path = _ask(parent, T("Save the candidates view"), "candidates.png",
                T("PNG image (*.png)"))
    if path is not None:
        try:
            save_png(view, path)
        except OSError as error:
            _report(parent, error)
