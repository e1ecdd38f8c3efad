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

T = TypeVar("T")
Column = tuple[str, Callable[[Any], str], str]  # header, cell text, header tooltip
AnyIndex = QModelIndex | QPersistentModelIndex


class RecordTable(QAbstractTableModel, Generic[T]):
    """A read-only table: one row per record, columns given as (header, text, tooltip)."""

    def __init__(self, columns: Sequence[Column], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[T] = []

    def set_records(self, records: Sequence[T]) -> None:
        self.beginResetModel()
        self._rows = list(records)
        self.endResetModel()

    def record(self, row: int) -> T | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def records(self) -> list[T]:
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
            return self._columns[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._columns[section][2]
        return None


def tooltip_of(record: object) -> str:
    if isinstance(record, InstalledModel):
        return record.problem or str(record.path)
    if isinstance(record, CatalogueEntry):
        return f"{record.description}\n{record.repo_id}: {', '.join(record.files)}"
    if isinstance(record, HubRepo):
        return f"{record.repo_id}: {record.downloads:,} downloads"
    if isinstance(record, HubModelFile):
        return "\n".join(p.filename for p in record.parts)
    return ""


def _size(n: int | None, approx: bool = False) -> str:
    return ("~" if approx else "") + format_size(n) if n else "?"


INSTALLED_COLUMNS: list[Column] = [
    ("Name", lambda m: m.name + ("" if m.usable else "  (unusable)"), "The model's name"),
    ("Size", lambda m: _size(m.size), "Size on disk"),
    ("Quantization", lambda m: m.quantization or "-", "How the weights are stored"),
    ("Context", lambda m: f"{m.context_length:,}" if m.context_length else "-",
     "Longest context the model was trained for, in tokens"),
    ("License", lambda m: m.license or "-", "The license the model's file declares"),
    ("Source", lambda m: m.source, "bundled with Tokenwise, downloaded, or imported"),
    ("Location", lambda m: str(m.path), "Where the file is"),
]

CATALOGUE_COLUMNS: list[Column] = [
    ("Name", lambda e: e.name, "A curated instruct model"),
    ("Parameters", lambda e: f"{e.parameters / 1e9:.2f} B", "Number of weights"),
    ("Quantization", lambda e: e.quantization, "How the weights are stored"),
    ("Size", lambda e: _size(e.approx_size, e.size_bytes is None),
     "Download size (~ where approximate)"),
    ("Context", lambda e: f"{e.context_length:,}", "Trained context length in tokens"),
    ("License", lambda e: e.license, "The model's license"),
    ("About", lambda e: e.description, "What the model is good for"),
]

REPO_COLUMNS: list[Column] = [
    ("Repository", lambda r: r.repo_id, "owner/name on the hub"),
    ("Downloads", lambda r: f"{r.downloads:,}", "Downloads in the last month"),
    ("Likes", lambda r: str(r.likes), "Likes on the hub"),
    ("Access", lambda r: "gated: accept the license first" if r.gated else "open",
     "Gated models need an access token and an accepted license"),
]

FILE_COLUMNS: list[Column] = [
    ("Model file", lambda f: f.name, "A GGUF file, or a model split into parts"),
    ("Quantization", lambda f: f.quantization or "?", "From the file name"),
    ("Size", lambda f: _size(f.size), "Download size"),
]
