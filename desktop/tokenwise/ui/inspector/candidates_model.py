"""The item model over the stage table: what the stage view paints, as rows and columns.

The painted view reads the plain StageTable directly (fast); this model gives the same
numbers to copy/paste and to anything that speaks Qt's model interface (tests run it
through qtmodeltester).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from tokenwise.core.formatting import percent_column
from tokenwise.core.sampling.stages import stage_label
from tokenwise.ui.inspector.stage_table import EMPTY_TABLE, StageTable

ProbRole = Qt.ItemDataRole.UserRole + 1  # the float probability of a cell (None where cut)
TokenIdRole = Qt.ItemDataRole.UserRole + 2
ChosenRole = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex


class CandidatesModel(QAbstractTableModel):
    """Rows: candidates; column 0: the token; then one column per distribution (raw, stages)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._table = EMPTY_TABLE

    def table(self) -> StageTable:
        return self._table

    def set_table(self, table: StageTable) -> None:
        self.beginResetModel()
        self._table = table
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._table.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 1 + len(self._table.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._table.rows)):
            return None
        row = self._table.rows[index.row()]
        col = index.column()
        if role == TokenIdRole:
            return row.token_id
        if role == ChosenRole:
            return row.chosen
        if col == 0:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return row.label
            return None
        if not (1 <= col <= len(row.probs)):
            return None
        prob = row.probs[col - 1]
        if role == Qt.ItemDataRole.DisplayRole:
            return percent_column(prob)
        if role == ProbRole:
            return prob
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            if 0 <= section < len(self._table.rows):
                return str(self._table.rows[section].raw_rank or "")
            return None
        if section == 0:
            return self.tr("token")
        if 1 <= section <= len(self._table.columns):
            column = self._table.columns[section - 1]
            return stage_label(column.name, column.label)
        return None


def table_text(model: CandidatesModel) -> str:
    """The model as tab-separated text (header row first), for the clipboard."""
    cols = model.columnCount()
    lines = ["\t".join(str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(cols))]
    for r in range(model.rowCount()):
        lines.append("\t".join(str(model.data(model.index(r, c)) or "") for c in range(cols)))
    return "\n".join(lines) + "\n"
