"""The sidebar: new chat, search, and the conversations (an item model over the records)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QDateTime,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.chat.store import Conversation

ID_ROLE = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex


def when(stamp: float, now: float | None = None) -> str:
    """A short 'updated' label: time today, else the date (in the UI language)."""
    now = time.time() if now is None else now
    local, today = time.localtime(stamp), time.localtime(now)
    moment = QDateTime.fromSecsSinceEpoch(int(stamp))
    if local[:3] == today[:3]:
        return QLocale().toString(moment.time(), "HH:mm")
    return QLocale().toString(moment.date(), QCoreApplication.translate("ConversationList",
                                                                        "d MMM"))


class ConversationModel(QAbstractListModel):
    """Conversations, newest first, as the store lists them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[Conversation] = []

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        conv = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return conv.title or self.tr("New chat")
        if role == Qt.ItemDataRole.ToolTipRole:
            return conv.title + "\n" + self.tr("updated {when}").format(
                when=when(conv.updated_at))
        if role == ID_ROLE:
            return conv.id
        return None

    def set_conversations(self, items: Sequence[Conversation]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def row_of(self, conv_id: int) -> int:
        for row, conv in enumerate(self._items):
            if conv.id == conv_id:
                return row
        return -1

    def conversation(self, row: int) -> Conversation:
        return self._items[row]


class ConversationList(QWidget):
    """The left column.

    Signals:
        conversation_selected(int): conversation id.
        new_requested(): the user wants a new chat.
        rename_requested(int, str): id, new title.
        delete_requested(int): id (confirmed).
        search_changed(str): the filter text (debounced).
    """

    conversation_selected = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        self.new_button = QPushButton("+  " + self.tr("New chat"))
        self.new_button.setObjectName("Primary")
        self.new_button.setToolTip(self.tr("Start a new conversation (Ctrl+N)"))
        self.new_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.new_button.clicked.connect(self.new_requested)
        layout.addWidget(self.new_button)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search conversations"))
        self.search.setToolTip(self.tr("Search titles and messages (Ctrl+F)"))
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        title = QLabel(self.tr("Conversations"))
        title.setObjectName("SidebarTitle")
        layout.addWidget(title)
        self.model = ConversationModel(self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setToolTip(self.tr("Your conversations; right-click to rename or delete"))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.setUniformItemSizes(True)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        layout.addWidget(self.view, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self._quiet = False

    def set_conversations(self, items: Sequence[Conversation], current: int | None) -> None:
        self._quiet = True
        try:
            self.model.set_conversations(items)
            self.select(current)
        finally:
            self._quiet = False

    def select(self, conv_id: int | None) -> None:
        row = self.model.row_of(conv_id) if conv_id is not None else -1
        was, self._quiet = self._quiet, True
        try:
            if row >= 0:
                self.view.setCurrentIndex(self.model.index(row))
            else:
                self.view.clearSelection()
        finally:
            self._quiet = was

    def current_id(self) -> int | None:
        index = self.view.currentIndex()
        return int(index.data(ID_ROLE)) if index.isValid() else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._quiet:
            self.conversation_selected.emit(int(current.data(ID_ROLE)))

    def _menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        conv = self.model.conversation(index.row())
        menu = QMenu(self)
        rename = menu.addAction(self.tr("Rename…"))
        delete = menu.addAction(self.tr("Delete…"))
        chosen = menu.exec(self.view.viewport().mapToGlobal(pos))
        if chosen is rename:
            self.ask_rename(conv.id, conv.title)
        elif chosen is delete:
            self.ask_delete(conv.id, conv.title)

    def ask_rename(self, conv_id: int, title: str) -> None:
        text, ok = QInputDialog.getText(self, self.tr("Rename conversation"), self.tr("Title:"),
                                        text=title)
        if ok and text.strip():
            self.rename_requested.emit(conv_id, text.strip())

    def ask_delete(self, conv_id: int, title: str) -> None:
        answer = QMessageBox.question(
            self, self.tr("Delete conversation"),
            self.tr("Delete “{title}” and all its messages? This cannot be undone.").format(
                title=title),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_requested.emit(conv_id)
