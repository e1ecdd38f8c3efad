"""The Models window's hub search: repositories matching some words, then a repository's
GGUF models, ready to download.

Signals:
    search_finished(): hub results (or an error message) are shown.
    files_listed(): a repository's GGUF files are shown.
    download_requested(str, object): a repository id and the filenames (a tuple) to fetch.

Requests run on the hub's worker, one at a time; a newer search (or listing) makes an older
one's answer be dropped unseen, so a slow answer never overwrites a newer one.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSplitter, QVBoxLayout, QWidget

from tokenwise.core.models import hub
from tokenwise.ui.models.parts import failure_text, push_button, table_view
from tokenwise.ui.models.tables import FILE_COLUMNS, REPO_COLUMNS, RecordTable
from tokenwise.ui.workers import gui_worker, no_resource

HUB_THREAD = "tokenwise-hub"


class HubSearchPage(QWidget):
    search_finished = Signal()
    files_listed = Signal()
    download_requested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub_requests = gui_worker(HUB_THREAD, no_resource)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("Search GGUF models, e.g. qwen 0.5b "
                                                    "instruct"))
        self.search_edit.setToolTip(self.tr("Words to look for in repository names"))
        self.search_edit.returnPressed.connect(self.search)
        self.search_button = push_button(self.tr("Search"),
                                         self.tr("Search the hub, most downloaded first"),
                                         self.search)
        self.search_status = QLabel()
        self.search_status.setObjectName("searchStatus")
        self.search_status.setWordWrap(True)
        self.search_status.setToolTip(self.tr("What the hub answered"))
        self.repo_model: RecordTable[hub.HubRepo] = RecordTable(REPO_COLUMNS)
        self.repo_view = table_view(self.repo_model,
                                    self.tr("Repositories; select one to see its files"))
        self.repo_view.selectionModel().selectionChanged.connect(lambda *_: self.list_files())
        self.file_model: RecordTable[hub.HubModelFile] = RecordTable(FILE_COLUMNS)
        self.file_view = table_view(self.file_model,
                                    self.tr("The repository's models; split files grouped"))
        self.file_view.doubleClicked.connect(lambda _i: self.download_file_selected())
        self.file_download = push_button(self.tr("Download"),
                                         self.tr("Download the selected file (all its parts)"),
                                         self.download_file_selected)
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.search_button)
        split = QSplitter()
        split.addWidget(self.repo_view)
        split.addWidget(self.file_view)
        bottom = QHBoxLayout()
        bottom.addWidget(self.search_status, 1)
        bottom.addWidget(self.file_download)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def search(self) -> None:
        """Search the hub; a newer search makes an older one's answer be dropped unseen."""
        text = self.search_edit.text().strip()
        self.search_status.setText(self.tr("Searching…"))
        self.file_model.set_records([])
        self.hub_requests.submit(lambda _none, _state: hub.search_models(text), key="search",
                                 returned=self._show_results, failed=self._search_failed)

    def _show_results(self, repos: list[hub.HubRepo]) -> None:
        self.repo_model.set_records(repos)
        self.repo_view.resizeColumnToContents(0)
        self.search_status.setText(
            self.tr("{count} repositories, most downloaded first.").format(count=len(repos))
            if repos else self.tr("No GGUF repositories match.")
        )
        self.search_finished.emit()

    def _search_failed(self, error: Exception) -> None:
        self.search_status.setText(failure_text(error))
        self.repo_model.set_records([])
        self.search_finished.emit()

    def list_files(self) -> None:
        rows = self.repo_view.selectionModel().selectedRows()
        repo = self.repo_model.record(rows[0].row()) if rows else None
        if repo is None:
            return
        self.search_status.setText(self.tr("Listing {repo}…").format(repo=repo.repo_id))
        repo_id = repo.repo_id
        self.hub_requests.submit(lambda _none, _state: hub.list_gguf_models(repo_id),
                                 key="files", returned=self._show_files,
                                 failed=self._files_failed)

    def _show_files(self, files: list[hub.HubModelFile]) -> None:
        self.file_model.set_records(files)
        self.file_view.resizeColumnToContents(0)
        self.search_status.setText(f"{len(files)} GGUF models in this repository."
                                   if files else "This repository has no GGUF files.")
        self.files_listed.emit()

    def _files_failed(self, error: Exception) -> None:
        self.search_status.setText(failure_text(error))
        self.file_model.set_records([])
        self.files_listed.emit()

    def download_file_selected(self) -> None:
        rows = self.file_view.selectionModel().selectedRows()
        model = self.file_model.record(rows[0].row()) if rows else None
        if model is not None:
            self.download_requested.emit(model.repo_id, tuple(p.filename for p in model.parts))

    def shutdown(self, timeout: float = 0.2) -> None:
        self.hub_requests.shutdown(timeout)
