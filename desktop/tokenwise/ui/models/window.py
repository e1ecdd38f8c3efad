"""The Models window: installed models with their details, the catalogue, hub search,
and the download queue.

Signals:
    model_chosen(str): the path of the model the user wants to use.
    models_changed(): a model was downloaded, imported or removed.
    search_finished(): hub results (or an error message) are shown.
    files_listed(): a repository's GGUF files are shown.
    download_updated(object): a DownloadJob changed (progress, done, failed, cancelled).
    import_ended(str): an import finished, failed or was cancelled; a word for the user.

Hub requests run on the hub's worker (hub_search.py), one at a time, and only the newest
search or listing is shown; an import (gigabytes, when copied) runs on the library's worker
with its progress shown and a cancel; downloads run on the application's download worker.
The library index makes opening the window cheap even with many models.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core import secrets
from tokenwise.core.errors import TokenwiseError
from tokenwise.core.formatting import format_size
from tokenwise.core.i18n import gap
from tokenwise.core.models import download, hub
from tokenwise.core.models.fit import estimate_memory
from tokenwise.core.models.library import ImportCancelled, InstalledModel, Library
from tokenwise.core.models.queue import DONE, DownloadJob
from tokenwise.core.tasks import SerialWorker, Task, TaskCancelled, TaskState
from tokenwise.ui.accessibility import name_controls
from tokenwise.ui.i18n import T
from tokenwise.ui.models.downloads import Downloads
from tokenwise.ui.models.hub_search import HubSearchPage
from tokenwise.ui.models.parts import failure_text, push_button, table_view
from tokenwise.ui.models.rows import DownloadRow
from tokenwise.ui.models.tables import (
    CATALOGUE_COLUMNS,
    INSTALLED_COLUMNS,
    SOURCE_NAMES,
    RecordTable,
)
from tokenwise.ui.workers import gui_worker, no_resource

LIBRARY_THREAD = "tokenwise-library"


def import_file(path: str, copy: bool, state: TaskState[tuple[int, int]]) -> InstalledModel:
    """Import a model file (work for the library's worker); reports (bytes copied, total)."""
    try:
        return Library().import_model(path, copy=copy, cancel=state.cancel_event,
                                      progress=lambda done, total: state.report((done, total)))
    except ImportCancelled as exc:
        raise TaskCancelled(str(exc)) from exc


class ModelsWindow(QDialog):
    model_chosen = Signal(str)
    models_changed = Signal()
    search_finished = Signal()
    files_listed = Signal()
    download_updated = Signal(object)
    import_ended = Signal(str)

    def __init__(self, downloads: Downloads, parent: QWidget | None = None, *,
                 library: Library | None = None,
                 files: SerialWorker[None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsWindow")
        self.setWindowTitle(self.tr("Models"))
        self.setModal(False)
        self.resize(1080, 680)
        self.library = library or Library()
        self._own_files = files is None
        self.files = files or gui_worker(LIBRARY_THREAD, no_resource)  # imports
        self.downloads = downloads  # the application's: it outlives this window
        downloads.job_changed.connect(self._on_job_changed)
        self._rows: dict[int, DownloadRow] = {}
        self._import_task: Task[tuple[int, int], InstalledModel] | None = None

        self.tabs = QTabWidget()
        self.tabs.setToolTip(self.tr("Installed models, curated models, or the whole hub"))
        self.tabs.addTab(self._build_installed(), self.tr("Installed"))
        self.tabs.addTab(self._build_catalogue(), self.tr("Catalogue"))
        self.hub_search = HubSearchPage()
        self.hub_search.search_finished.connect(self.search_finished)
        self.hub_search.files_listed.connect(self.files_listed)
        self.hub_search.download_requested.connect(self.start_download)
        self.tabs.addTab(self.hub_search, self.tr("Search the hub"))

        self.downloads_box = QWidget()
        self.downloads_layout = QVBoxLayout(self.downloads_box)
        self.downloads_layout.setContentsMargins(0, 0, 0, 0)
        self.downloads_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.downloads_box)
        scroll.setToolTip(self.tr("Downloads run one after another; an interrupted one can be "
                                  "resumed"))
        scroll.setMinimumHeight(90)
        downloads_title = QLabel(self.tr("Downloads"))
        downloads_title.setObjectName("sectionTitle")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        layout.addWidget(self.tabs, 4)
        layout.addWidget(downloads_title)
        layout.addWidget(scroll, 1)
        name_controls(self)

        self.refresh_installed()
        self.catalogue_model.set_records(hub.load_catalogue())
        for column in range(6):
            self.catalogue_view.resizeColumnToContents(column)
        for job in downloads.jobs():
            self._on_job_changed(job)
        on_the_way = {(j.repo_id, j.filenames[0]) for j in downloads.active()}
        for note, have in download.pending_downloads():
            if (note.repo_id, note.filename) not in on_the_way:
                self._add_resumable_row(note, have)

    # ----- Installed ---------------------------------------------------------------------
    def _build_installed(self) -> QWidget:
        self.installed_model: RecordTable[InstalledModel] = RecordTable(INSTALLED_COLUMNS)
        self.installed_view = table_view(
            self.installed_model, self.tr("Your models; double-click one to use it")
        )
        self.installed_view.selectionModel().selectionChanged.connect(self._show_details)
        self.installed_view.doubleClicked.connect(lambda _index: self.use_selected())

        self.details = QLabel()
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setToolTip(self.tr("Read from the model file's GGUF metadata"))
        self.ctx_spin = QSpinBox()
        self.ctx_spin.setRange(256, 1_048_576)
        self.ctx_spin.setSingleStep(1024)
        self.ctx_spin.setValue(4096)
        self.ctx_spin.setSuffix(self.tr(" tokens"))
        self.ctx_spin.setToolTip(self.tr("Context length to plan for: the KV cache grows with "
                                         "it"))
        self.ctx_spin.valueChanged.connect(lambda _v: self._update_fit())
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.fit_label.setToolTip(self.tr("Weights plus KV cache against free memory (an "
                                          "estimate)"))
        self.template_button = push_button(
            self.tr("Chat template…"),
            self.tr("Show the Jinja chat template stored in the model file"),
            self.show_template,
        )
        side = QWidget()
        form = QFormLayout(side)
        form.addRow(self.details)
        form.addRow(self.tr("Plan for"), self.ctx_spin)
        form.addRow(self.fit_label)
        form.addRow(self.template_button)

        # the details scroll when the window is short (large text, 200% scaling, Chinese)
        side_scroll = QScrollArea()
        side_scroll.setWidgetResizable(True)
        side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        side_scroll.setWidget(side)
        side_scroll.setToolTip(self.tr("Read from the model file's GGUF metadata"))
        split = QSplitter()
        split.addWidget(self.installed_view)
        split.addWidget(side_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        self.use_button = push_button(self.tr("Use this model"),
                                      self.tr("Load the selected model in the chat"),
                                      self.use_selected)
        self.use_button.setDefault(True)
        self.import_button = push_button(self.tr("Import…"),
                                         self.tr("Add a .gguf file from this computer"),
                                         self.import_model)
        self.remove_button = push_button(self.tr("Remove…"),
                                         self.tr("Remove the selected model (asks first)"),
                                         self.remove_selected)
        self.token_button = push_button(self.tr("Hub token…"),
                                        self.tr("Access token for gated or private models on "
                                                "the hub"),
                                        self.edit_token)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.token_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)

        self.import_status = QLabel()
        self.import_status.setToolTip(self.tr("The import of a model file"))
        self.import_bar = QProgressBar()
        self.import_bar.setRange(0, 1000)
        self.import_bar.setTextVisible(False)
        self.import_bar.setToolTip(self.tr("How much of the model file is copied"))
        self.import_cancel = push_button(self.tr("Cancel import"),
                                         self.tr("Stop copying; nothing is kept"),
                                         self.cancel_import)
        progress = QHBoxLayout()
        progress.addWidget(self.import_status, 1)
        progress.addWidget(self.import_bar, 1)
        progress.addWidget(self.import_cancel)
        for widget in (self.import_bar, self.import_cancel):
            widget.hide()

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(split, 1)
        layout.addLayout(progress)
        layout.addLayout(buttons)
        return page

    def refresh_installed(self) -> None:
        selected = self.selected_model()
        models = self.library.list_models()
        self.installed_model.set_records(models)
        for header_section in range(5):
            self.installed_view.resizeColumnToContents(header_section)
        names = [m.name for m in models]
        wanted = selected.name if selected else None
        if wanted not in names:
            default = self.library.default_model() if self._first_refresh() else None
            wanted = default.name if default else (names[0] if names else None)
        if wanted is not None:
            self.installed_view.selectRow(names.index(wanted))

    def _first_refresh(self) -> bool:
        first = not getattr(self, "_refreshed", False)
        self._refreshed = True
        return first

    def selected_model(self) -> InstalledModel | None:
        rows = self.installed_view.selectionModel().selectedRows()
        return self.installed_model.record(rows[0].row()) if rows else None

    def _show_details(self, *_args: object) -> None:
        model = self.selected_model()
        self.remove_button.setEnabled(model is not None and model.source != "bundled")
        self.use_button.setEnabled(model is not None and model.usable)
        if model is None:
            self.details.setText("")
            self.fit_label.setText("")
            return
        if model.info is None:
            self.details.setText(f"<b>{model.name}</b><br>{model.problem}")
            self.template_button.setEnabled(False)
            self.fit_label.setText("")
            return
        info = model.info
        rows = [
            (self.tr("Architecture"), info.architecture),
            (self.tr("Parameters"), f"{info.parameters / 1e6:,.1f} M"),
            (self.tr("Quantization"), info.quantization), (self.tr("Layers"), str(info.layers)),
            (self.tr("Context length"), f"{info.context_length:,}"),
            (self.tr("Vocabulary"), self.tr("{count} tokens").format(count=f"{info.vocab_size:,}")),
            (self.tr("License"), info.license or "-"),
            (self.tr("Size"), format_size(model.size)),
            (self.tr("Source"), T(SOURCE_NAMES.get(model.source, model.source))),
            (self.tr("Repository"), model.repo_id or "-"),
        ]
        body = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in rows)
        subtitle = f"<br><small>{info.name}</small>" if info.name != model.name else ""
        self.details.setText(f"<b>{model.name}</b>{subtitle}<table>{body}</table>")
        self.template_button.setEnabled(info.chat_template is not None)
        self.ctx_spin.setMaximum(max(info.context_length, 256))
        self._update_fit()

    def _update_fit(self) -> None:
        model = self.selected_model()
        if model is None or model.info is None:
            return
        estimate = estimate_memory(model.info, self.ctx_spin.value(), probe_gpu=False)
        self.fit_label.setText(estimate.summary())

    def show_template(self) -> None:
        model = self.selected_model()
        if model is None or model.info is None:
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(self.tr("Chat template of {name}").format(name=model.name))
        text = QPlainTextEdit(model.info.chat_template or self.tr("(no chat template)"))
        text.setReadOnly(True)
        text.setToolTip(self.tr("How the conversation is turned into one text before "
                                "tokenization"))
        QVBoxLayout(dialog).addWidget(text)
        dialog.resize(720, 520)
        self.template_dialog = dialog
        dialog.show()

    def use_selected(self) -> None:
        model = self.selected_model()
        if model is not None and model.usable:
            self.model_chosen.emit(str(model.path))

    # Dialog hooks: tests replace these three; everything else runs as for a user.
    def ask_import_path(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Import a GGUF model"),
                                              str(Path.home()),
                                              self.tr("GGUF models (*.gguf);;All files (*)"))
        return path

    def ask_copy(self, path: str) -> bool | None:
        box = QMessageBox(self)
        box.setWindowTitle(self.tr("Import model"))
        box.setText(self.tr("Use {name} where it is, or copy it into Tokenwise's folder?").format(
            name=Path(path).name))
        link = box.addButton(self.tr("Use in place"), QMessageBox.ButtonRole.AcceptRole)
        copy = box.addButton(self.tr("Copy"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return True if clicked is copy else False if clicked is link else None

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def import_model(self) -> None:
        """Ask for a file, then import it on the library's worker (a copy shows progress)."""
        path = self.ask_import_path()
        if not path:
            return
        copy = self.ask_copy(path)
        if copy is None:
            return
        self.import_button.setEnabled(False)
        self.import_status.setText(
            (self.tr("Copying {name}…") if copy else self.tr("Adding {name}…")).format(
                name=Path(path).name))
        self.import_bar.setValue(0)
        self.import_bar.setVisible(copy)
        self.import_cancel.setVisible(copy)
        self._import_task = self.files.submit(
            lambda _none, state: import_file(path, copy, state),
            progress=self._import_progressed, returned=self._imported,
            failed=self._import_failed,
            aborted=lambda: self._import_done(self.tr("Import cancelled.")))

    def cancel_import(self) -> None:
        if self._import_task is not None:
            self._import_task.cancel()

    def _import_progressed(self, progress: tuple[int, int]) -> None:
        done, total = progress
        self.import_bar.setValue(round(1000 * done / total) if total else 1000)
        self.import_status.setText(self.tr("Copying: {done} of {total}").format(
            done=format_size(done), total=format_size(total)))

    def _import_done(self, status: str) -> None:
        self._import_task = None
        self.import_button.setEnabled(True)
        self.import_bar.hide()
        self.import_cancel.hide()
        self.import_status.setText(status)
        self.import_ended.emit(status)

    def _imported(self, model: InstalledModel) -> None:
        self.library.reload()
        self.refresh_installed()
        self.installed_view.selectRow(
            [m.name for m in self.installed_model.records()].index(model.name)
        )
        self._import_done(self.tr("Imported {name}.").format(name=model.name))
        self.models_changed.emit()

    def _import_failed(self, error: Exception) -> None:
        self._import_done("")
        QMessageBox.warning(self, self.tr("Cannot import"), failure_text(error))

    def remove_selected(self) -> None:
        model = self.selected_model()
        if model is None or model.source == "bundled":
            return
        owned = model.source == "downloaded" or model.copied
        consequence = (self.tr("Its file ({size}) will be deleted.").format(
            size=format_size(model.size)) if owned else
            self.tr("Tokenwise will forget it; the file itself stays where it is."))
        if not self.confirm(self.tr("Remove model"), self.tr("Remove {name}?").format(
                name=model.name) + gap() + consequence):
            return
        try:
            self.library.remove(model.name)
        except TokenwiseError as exc:
            QMessageBox.warning(self, self.tr("Cannot remove"), str(exc))
            return
        self.refresh_installed()
        self.models_changed.emit()

    def edit_token(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        text, ok = QInputDialog.getText(
            self, self.tr("Hub access token"),
            self.tr("Token for gated or private models (empty: use huggingface_hub's own "
                    "login).\nIt is kept in {place}.").format(place=secrets.backend_name()),
            QLineEdit.EchoMode.Password, hub.saved_token() or "",
        )
        if ok:
            hub.save_token(text.strip() or None)

    # ----- Catalogue ---------------------------------------------------------------------
    def _build_catalogue(self) -> QWidget:
        self.catalogue_model: RecordTable[hub.CatalogueEntry] = RecordTable(CATALOGUE_COLUMNS)
        self.catalogue_view = table_view(self.catalogue_model,
                                         self.tr("Curated instruct models; double-click to "
                                                 "download"))
        self.catalogue_view.doubleClicked.connect(lambda _i: self.download_catalogue_selected())
        self.catalogue_download = push_button(self.tr("Download"),
                                              self.tr("Download the selected model"),
                                              self.download_catalogue_selected)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.catalogue_view, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.catalogue_download)
        layout.addLayout(row)
        return page

    def download_catalogue_selected(self) -> None:
        rows = self.catalogue_view.selectionModel().selectedRows()
        entry = self.catalogue_model.record(rows[0].row()) if rows else None
        if entry is not None:
            self.start_download(entry.repo_id, entry.files)

    # ----- Downloads ---------------------------------------------------------------------
    def start_download(self, repo_id: str, filenames: tuple[str, ...]) -> DownloadJob | None:
        try:
            return self.downloads.enqueue(repo_id, filenames)
        except TokenwiseError as exc:
            QMessageBox.warning(self, self.tr("Cannot download"), str(exc))
            return None

    def _add_row(self, key: int, title: str) -> DownloadRow:
        row = DownloadRow(title)
        self._rows[key] = row
        self.downloads_layout.insertWidget(self.downloads_layout.count() - 1, row)
        return row

    def _add_resumable_row(self, note: download.PartialNote, have: int) -> None:
        key = -len(self._rows) - 1
        row = self._add_row(key, note.filename)
        row.show_paused(have, note.size)

        def resume() -> None:
            row.setParent(None)
            self._rows.pop(key, None)
            self.start_download(note.repo_id, (note.filename,))

        row.resume_requested.connect(resume)

    def _on_job_changed(self, job: DownloadJob) -> None:
        row = self._rows.get(job.job_id) or self._add_row(job.job_id, job.title)
        row.show_job(job)
        if not row.cancel_wired:
            row.cancel_requested.connect(
                lambda job_id=job.job_id: self.downloads.cancel(job_id))
            row.resume_requested.connect(
                lambda job_id=job.job_id, repo=job.repo_id, names=job.filenames:
                self._restart(job_id, repo, names)
            )
            row.cancel_wired = True
        if job.state == DONE:
            self.refresh_installed()
            self.models_changed.emit()
        self.download_updated.emit(job)

    def _restart(self, job_id: int, repo_id: str, filenames: tuple[str, ...]) -> None:
        row = self._rows.pop(job_id, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
        self.start_download(repo_id, filenames)

    def shutdown(self) -> None:
        """The application closes: stop the hub's worker (and the library's, if it is ours)."""
        self.hub_search.shutdown()
        if self._own_files:
            self.files.shutdown(0.2)
