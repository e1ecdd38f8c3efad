"""Pieces the Models window's pages share: a record table's view, a button, an error's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QPushButton, QTableView

from tokenwise.core.errors import TokenwiseError
from tokenwise.ui.i18n import T
from tokenwise.ui.models.tables import RecordTable


def table_view(model: RecordTable[Any], tooltip: str) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setToolTip(tooltip)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setShowGrid(False)
    view.setAlternatingRowColors(True)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.setWordWrap(False)
    return view


def push_button(text: str, tooltip: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tooltip)
    button.clicked.connect(slot)
    return button


def failure_text(error: Exception) -> str:
    """What went wrong, for the user: our errors say it themselves."""
    if isinstance(error, TokenwiseError):
        return str(error)
    return T("Unexpected error: {error}").format(error=repr(error))
