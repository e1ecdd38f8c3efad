"""Item models for the Models window: installed models, the catalogue, hub results.

Plain table models over the core's records; the window never reaches into the records
through the view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from tokenwise.core.formatting import format_size
from tokenwise.core.models.hub import CatalogueEntry, HubModelFile, HubRepo
from tokenwise.core.models.library import InstalledModel
from tokenwise.ui.i18n import N, T

R = TypeVar("R")
Column = tuple[str, Callable[[Any], str], str]  # header, cell text, header tooltip
AnyIndex = QModelIndex | QPersistentModelIndex


class RecordTable(QAbstractTableModel, Generic[R]):
    """A read-only table: one row per record, columns given as (header, text, tooltip)."""

    def __init__(self, columns: Sequence[Column], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[R] = []

    def set_records(self, records: Sequence[R]) -> None:
        self.beginResetModel()
        self._rows = list(records)
        self.endResetModel()

    def record(self, row: int) -> R | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def records(self) -> list[R]:
        return list(self._rows)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        record = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._columns[index.column()][1](record)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip_of(record)
        if role == Qt.ItemDataRole.UserRole:
            return record
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return T(self._columns[section][0])
        if role == Qt.ItemDataRole.ToolTipRole:
            return T(self._columns[section][2])
        return None


def tooltip_of(record: object) -> str:
    if isinstance(record, InstalledModel):
        return record.problem or str(record.path)
    if isinstance(record, CatalogueEntry):
        return f"{record.description}\n{record.repo_id}: {', '.join(record.files)}"
    if isinstance(record, HubRepo):
        return T("{repo}: {count} downloads").format(repo=record.repo_id,
                                                     count=f"{record.downloads:,}")
    if isinstance(record, HubModelFile):
        return "\n".join(p.filename for p in record.parts)
    return ""


def _size(n: int | None, approx: bool = False) -> str:
    return ("~" if approx else "") + format_size(n) if n else "?"


#: where an installed model came from, as shown
SOURCE_NAMES: dict[str, str] = {"bundled": N("bundled"), "downloaded": N("downloaded"),
                                "imported": N("imported")}

INSTALLED_COLUMNS: list[Column] = [
    (N("Name"), lambda m: m.name + ("" if m.usable else T("  (unusable)")),
     N("The model's name")),
    (N("Size"), lambda m: _size(m.size), N("Size on disk")),
    (N("Quantization"), lambda m: m.quantization or "-", N("How the weights are stored")),
    (N("Context"), lambda m: f"{m.context_length:,}" if m.context_length else "-",
     N("Longest context the model was trained for, in tokens")),
    (N("License"), lambda m: m.license or "-", N("The license the model's file declares")),
    (N("Source"), lambda m: T(SOURCE_NAMES.get(m.source, m.source)),
     N("bundled with Tokenwise, downloaded, or imported")),
    (N("Location"), lambda m: str(m.path), N("Where the file is")),
]

CATALOGUE_COLUMNS: list[Column] = [
    (N("Name"), lambda e: e.name, N("A curated instruct model")),
    (N("Parameters"), lambda e: f"{e.parameters / 1e9:.2f} B", N("Number of weights")),
    (N("Quantization"), lambda e: e.quantization, N("How the weights are stored")),
    (N("Size"), lambda e: _size(e.approx_size, e.size_bytes is None),
     N("Download size (~ where approximate)")),
    (N("Context"), lambda e: f"{e.context_length:,}", N("Trained context length in tokens")),
    (N("License"), lambda e: e.license, N("The model's license")),
    (N("About"), lambda e: e.description, N("What the model is good for")),
]

REPO_COLUMNS: list[Column] = [
    (N("Repository"), lambda r: r.repo_id, N("owner/name on the hub")),
    (N("Downloads"), lambda r: f"{r.downloads:,}", N("Downloads in the last month")),
    (N("Likes"), lambda r: str(r.likes), N("Likes on the hub")),
    (N("Access"), lambda r: T("gated: accept the license first") if r.gated else T("open"),
     N("Gated models need an access token and an accepted license")),
]

FILE_COLUMNS: list[Column] = [
    (N("Model file"), lambda f: f.name, N("A GGUF file, or a model split into parts")),
    (N("Quantization"), lambda f: f.quantization or "?", N("From the file name")),
    (N("Size"), lambda f: _size(f.size), N("Download size")),
]
