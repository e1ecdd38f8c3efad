"""The main window: layout, menus, shortcuts and the status bar.

The conversation flows live in the core (:mod:`tokenwise.core.chat.conversation`), wired to the
chat widgets by :mod:`tokenwise.ui.chat.controller`; this module builds the widgets, owns the
application's workers and wires the actions.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.i18n import gap
from tokenwise.core.interface import EngineFactory, ModelInfo
from tokenwise.core.models.queue import DONE, DownloadJob
from tokenwise.core.settings import AppSettings, save_settings
from tokenwise.ui.accessibility import name_controls
from tokenwise.ui.chat.composer import Composer
from tokenwise.ui.chat.controller import ChatController
from tokenwise.ui.chat.conversations import ConversationList
from tokenwise.ui.chat.view import ChatView
from tokenwise.ui.inspector import InspectorPanel
from tokenwise.ui.language_notice import LanguageNotice
from tokenwise.ui.model_picker import ModelPicker
from tokenwise.ui.models.downloads import Downloads
from tokenwise.ui.status_bar import StatusBar
from tokenwise.ui.workers import (
    StoreFactory,
    database_worker,
    engine_worker,
    gui_worker,
    no_resource,
)

if TYPE_CHECKING:
    from tokenwise.ui.lab.window import LabWindow
    from tokenwise.ui.models.window import ModelsWindow
    from tokenwise.ui.tour import TourGuide



class MainWindow(QMainWindow):
    """Tokenwise's window.

    Signals:
        window_shown(): the first show event happened (start-up timing).
    """

    window_shown = Signal()

    def __init__(
        self,
        settings: AppSettings,
        *,
        engine_factory: EngineFactory | None = None,
        store_factory: StoreFactory | None = None,
        model_path: str | None = None,
        autoload: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.setWindowTitle("Tokenwise")
        self.resize(1360, 840)
        self._shown = False
        self._closed = False
        self._ask_before_quitting = True
        self._models_window: ModelsWindow | None = None
        self.tour: TourGuide | None = None

        self.sidebar = ConversationList()
        self.chat_view = ChatView()
        self.composer = Composer()
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.language_notice = LanguageNotice()
        self.language_notice.download_requested.connect(self._download_multilingual)
        self.language_notice.use_requested.connect(self._use_model)
        column.addWidget(self.language_notice)
        column.addWidget(self.chat_view, 1)
        column.addWidget(self.composer)
        self.inspector = InspectorPanel()
        # at least 320 px, and never narrower than its rows of buttons need (Chinese, 200%)
        self.inspector.setMinimumWidth(max(320, self.inspector.minimumSizeHint().width()))
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.inspector)
        self.splitter.setSizes([240, 640, 480])
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(1)
        self.setCentralWidget(self.splitter)

        self.engine = engine_worker(engine_factory)
        self.lab: LabWindow | None = None
        self.db = database_worker(store_factory)
        self.library_worker = gui_worker("tokenwise-library", no_resource)
        self.controller = ChatController(
            view=self.chat_view, sidebar=self.sidebar, composer=self.composer,
            inspector=self.inspector, settings=settings, engine=self.engine, db=self.db,
            parent=self)
        self.flow = self.controller.flow
        self.downloads = Downloads(self)
        self.downloads.job_changed.connect(self._on_download_changed)

        self._build_header()
        self._build_actions()
        self.status = StatusBar()
        self.setStatusBar(self.status)
        name_controls(self)
        self._set_tab_order()
        self._restore_geometry()
        self.inspector.setVisible(settings.show_inspector)
        self.chat_view.set_heatmap(settings.heatmap)
        self.controller.model_loaded.connect(self._on_model_loaded)
        self.controller.model_load_failed.connect(self._on_model_failed)
        self.controller.busy_changed.connect(self._on_busy)
        self.controller.stats_changed.connect(self._on_stats)
        self.controller.error_reported.connect(self._on_error)
        self.controller.load_progressed.connect(self._on_load_progress)
        # the desktop switched between light and dark while the app runs
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
        self.flow.report_recovery()
        self.flow.refresh_conversations()
        if settings.last_conversation is not None:
            self.flow.reopen(settings.last_conversation)
        self._fill_model_picker(model_path, then_load=autoload)
        QTimer.singleShot(0, self.downloads.resume_from_last_session)

    def open_lab(self, tab: int = 0) -> None:
        """The decoding strategies lab (Compare, Score), one window, on the engine's thread."""
        from tokenwise.ui.lab.window import LabWindow

        if self.lab is None:
            asked = [m.content for m in self.flow.path if m.role == "user"]
            prompt = (asked[-1] if asked else self.composer.edit.toPlainText().strip()
                      or "Why is the sky blue?")
            self.lab = LabWindow(self.engine, prompt, self)
            self.lab.tree.hypothesis_chosen.connect(self._open_beam_reply)
        self.lab.tabs.setCurrentIndex(tab)
        self.lab.show()
        self.lab.raise_()

    def _open_beam_reply(self, hypothesis: object) -> None:
        """A finished beam as a new version of the chat's reply to the same prompt."""
        from tokenwise.core.lab.beam_reply import hypothesis_steps
        from tokenwise.core.trace.beams import BeamHypothesis

        lab = self.lab
        if lab is None or lab.tree.result is None or not isinstance(hypothesis, BeamHypothesis):
            return
        search = lab.tree.result
        steps = hypothesis_steps(search, hypothesis)
        settings: dict[str, object] = {
            "beam_width": search.settings.width,
            "length_penalty": search.settings.length_penalty,
            "max_tokens": search.settings.max_tokens}
        if self.flow.add_reply_version(lab.tree_prompt, hypothesis.text, steps, settings):
            self.raise_()
            self.activateWindow()
        else:
            lab.tree.step_text.setText(self.tr(
                "This search's prompt is not the chat's last message (or a reply is being "
                "written): open or write that conversation first, then open the hypothesis."))

    # ------------------------------------------------------------------ building

    def _build_header(self) -> None:
        bar = QToolBar(self.tr("Model"))
        bar.setObjectName("ModelBar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addWidget(QLabel(" " + self.tr("Model") + " "))
        self.model_picker = ModelPicker(self.library_worker)
        self.model_picker.activated.connect(lambda _i: self.load_selected_model())
        bar.addWidget(self.model_picker)
        self.load_bar = QProgressBar()
        self.load_bar.setRange(0, 100)
        self.load_bar.setTextVisible(False)
        self.load_bar.setToolTip(self.tr("Loading the model"))
        self.load_bar.setMaximumWidth(160)
        self.load_action = bar.addWidget(self.load_bar)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.toolbar = bar
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _set_tab_order(self) -> None:
        """Tab walks the window as it reads: model, conversations, the chat, the message
        box and its buttons, then the inspector."""
        chain = [self.model_picker, self.sidebar.new_button, self.sidebar.search,
                 self.sidebar.view, self.language_notice.action_button,
                 self.language_notice.close_button, self.chat_view.scroll_area(),
                 self.chat_view.first_focusable(), self.composer.edit,
                 self.composer.send_button, self.composer.stop_button]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)

    def _action(self, text: str, shortcut: str | QKeySequence.StandardKey | None, tip: str,
                slot: Callable[[], object] | Callable[[bool], object],
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({keys})" if keys else tip)
        action.setStatusTip(tip)
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        c = self.flow
        self.act_new = self._action(self.tr("&New chat"),
                                    "Ctrl+N", self.tr("Start a new conversation"),
                                    c.new_conversation)
        self.act_send = self._action(self.tr("&Send"), "Ctrl+Return", self.tr("Send the message"),
                                     self.composer._submit)
        self.act_stop = self._action(self.tr("S&top"), "Esc", self.tr("Stop the reply"), c.stop)
        self.act_regenerate = self._action(self.tr("&Regenerate"), "Ctrl+R",
                                           self.tr("Write the last reply again (keeps the "
                                                   "old one)"),
                                           c.regenerate_last)
        self.act_focus = self._action(self.tr("Focus &composer"),
                                      "Ctrl+L", self.tr("Type a message"),
                                      self.composer.edit.setFocus)
        self.act_search = self._action(self.tr("&Search conversations"), "Ctrl+F",
                                       self.tr("Search conversations"),
                                       self.sidebar.search.setFocus)
        self.act_system = self._action(self.tr("System &prompt…"), "Ctrl+P",
                                       self.tr("The instructions the model gets before the chat"),
                                       self.edit_system_prompt)
        self.act_rename = self._action(self.tr("Rena&me chat…"),
                                       "F2", self.tr("Rename this conversation"),
                                       self._rename_current)
        self.act_delete = self._action(self.tr("&Delete chat…"),
                                       None, self.tr("Delete this conversation"),
                                       self._delete_current)
        self.act_inspector = self._action(self.tr("&Inspector"), "Ctrl+I",
                                          self.tr("Show or hide the token inspector"),
                                          self.set_inspector_visible, checkable=True)
        self.act_inspector.setChecked(self.settings.show_inspector)
        self.act_heatmap = self._action(self.tr("&Heatmap"), "Ctrl+H",
                                        self.tr("Colour each token by its probability"),
                                        self.set_heatmap, checkable=True)
        self.act_heatmap.setChecked(self.settings.heatmap)
        self.act_settings = self._action(self.tr("Se&ttings…"), "Ctrl+,",
                                         self.tr("Context length, GPU layers, theme, font "
                                                 "size, language"),
                                         self.open_settings)
        self.act_models = self._action(self.tr("&Models…"), "Ctrl+M",
                                       self.tr("Download, import and choose models"),
                                       self.open_models)
        self.act_quit = self._action(self.tr("&Quit"),
                                     "Ctrl+Q", self.tr("Quit Tokenwise"), self.close)
        self.act_tour = self._action(self.tr("&Tour of one generation"), "F1",
                                     self.tr("Seven stops through one real generation, step by "
                                             "step"), self.start_tour)
        self.act_about = self._action(self.tr("&About Tokenwise"), None,
                                      self.tr("Version, backend and the licences of every part"),
                                      self.open_about)
        self.act_compare = self._action(
            self.tr("&Compare strategies…"), "Ctrl+Shift+C",
            self.tr("Greedy, beam search and sampling side by side on one prompt"),
            lambda: self.open_lab(0))
        self.act_score = self._action(
            self.tr("Score a &text…"), "Ctrl+Shift+S",
            self.tr("Every token of a text scored in one pass"), lambda: self.open_lab(1))
        self.act_stop.setEnabled(False)

        menu = self.menuBar()
        file_menu = menu.addMenu(self.tr("&File"))
        for a in (self.act_new, self.act_rename, self.act_delete):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        chat_menu = menu.addMenu(self.tr("&Chat"))
        for a in (self.act_send, self.act_stop, self.act_regenerate, self.act_system,
                  self.act_focus, self.act_search):
            chat_menu.addAction(a)
        view_menu = menu.addMenu(self.tr("&View"))
        view_menu.addAction(self.act_inspector)
        view_menu.addAction(self.act_heatmap)
        view_menu.addSeparator()
        view_menu.addAction(self.act_compare)
        view_menu.addAction(self.act_score)
        model_menu = menu.addMenu(self.tr("&Model"))
        model_menu.addAction(self.act_models)
        model_menu.addAction(self.act_settings)
        help_menu = menu.addMenu(self.tr("&Help"))
        help_menu.addAction(self.act_tour)
        help_menu.addAction(self.act_about)

        for a in (self.act_system, self.act_regenerate, self.act_heatmap, self.act_inspector,
                  self.act_settings):
            self.toolbar.addAction(a)

    # ------------------------------------------------------------------ model

    def _fill_model_picker(self, preferred: str | None, *, then_load: bool = False) -> None:
        self.model_picker.fill(preferred, self.settings.last_model,
                               self.load_selected_model if then_load else None)

    def load_selected_model(self) -> None:
        path = self.model_picker.currentData()
        if not path:
            self._on_error(self.tr("No model is installed. Open Models (Ctrl+M) to download "
                                   "one."))
            return
        self.load_bar.setValue(0)
        self.load_action.setVisible(True)
        self.status.backend_label.setText(self.tr("Loading…"))
        self.composer.set_ready(False)
        self.controller.load_model(str(path))

    def _on_load_progress(self, fraction: float) -> None:
        self.load_bar.setValue(int(fraction * 100))

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.load_action.setVisible(False)
        self.status.show_model(info, gpu_wanted=self.settings.n_gpu_layers != 0)
        self.composer.set_ready(True)
        self.settings.last_model = info.path
        self.language_notice.update_for(info.path, self._installed_files())
        if not self.settings.tour_offered:
            self.offer_tour()

    # ------------------------------------------------------------------ tour

    def offer_tour(self) -> None:
        """The first start: ask once whether to take the tour (a card, not a dialog)."""
        from tokenwise.ui.tour import TourOffer

        self.settings.tour_offered = True
        offer = TourOffer(self)
        self.tour_offer = offer
        offer.accepted.connect(offer.hide)
        offer.accepted.connect(self.start_tour)
        offer.declined.connect(offer.hide)
        offer.adjustSize()
        corner = self.composer.mapTo(self, self.composer.rect().topRight())
        offer.move(max(8, corner.x() - offer.width() - 16), max(8, corner.y() - offer.height()
                                                                 - 12))
        offer.show()
        offer.raise_()

    def start_tour(self) -> None:
        """Help > Tour: from the start, or from the stop a skipped tour reached."""
        from tokenwise.ui.tour import TourGuide

        if self.tour is None:
            self.tour = TourGuide(self)
        self.tour.start(resume_at=self.settings.tour_stop)

    def _installed_files(self) -> dict[str, str]:
        """The models in the picker: file name -> path."""
        found = {}
        for i in range(self.model_picker.count()):
            path = self.model_picker.itemData(i)
            if path:
                found[Path(str(path)).name] = str(path)
        return found

    def _download_multilingual(self, repo_id: str, filenames: tuple[str, ...]) -> None:
        """The language notice's offer: fetch the model, and show its progress in Models."""
        self.downloads.enqueue(repo_id, filenames)
        self.open_models()

    def _on_model_failed(self, message: str) -> None:
        self.load_action.setVisible(False)
        self.status.show_model(None)
        self._on_error(message)

    # ------------------------------------------------------------------ state

    def _on_busy(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        self.act_stop.setEnabled(busy)
        self.act_regenerate.setEnabled(not busy)

    def _on_stats(self, stats: dict[str, Any]) -> None:
        self.status.show_stats(stats, self.flow.n_ctx)

    def _on_error(self, message: str) -> None:
        self.status.showMessage(message, 15000)
        self.chat_view.show_notice(message)

    def set_inspector_visible(self, on: bool) -> None:
        self.inspector.setVisible(on)
        self.settings.show_inspector = on

    def set_heatmap(self, on: bool) -> None:
        self.chat_view.set_heatmap(on)
        self.settings.heatmap = on
        if on:
            self.controller.load_visible_traces()

    # ------------------------------------------------------------------ dialogs

    def edit_system_prompt(self) -> None:
        current = self.flow.system_prompt
        text, ok = QInputDialog.getMultiLineText(
            self, self.tr("System prompt"),
            self.tr("Instructions the model reads before this conversation:"), current)
        if ok:
            self.flow.set_system_prompt(text)

    def _rename_current(self) -> None:
        conv = self.flow.conversation
        if conv is not None:
            self.sidebar.ask_rename(conv.id, conv.title)

    def _delete_current(self) -> None:
        conv = self.flow.conversation
        if conv is not None:
            self.sidebar.ask_delete(conv.id, conv.title)

    def open_settings(self) -> None:
        from tokenwise.ui.settings_dialog import SettingsDialog

        info = self.flow.model_info
        layers = info.layers if info is not None else 0
        offload = info.gpu_offload_supported if info is not None else None
        dialog = SettingsDialog(self.settings, model_layers=layers, gpu_supported=offload,
                                parent=self)
        accepted = dialog.exec()
        if dialog.servers.changed:  # list the servers' models (saved even on Cancel)
            self._fill_model_picker(self.model_picker.currentData())
        if accepted:
            old = (self.settings.n_ctx, self.settings.n_gpu_layers, self.settings.n_threads)
            self.settings = dialog.result_settings()
            self.controller.settings = self.settings
            save_settings(self.settings)
            self.apply_theme()
            new = (self.settings.n_ctx, self.settings.n_gpu_layers, self.settings.n_threads)
            if new != old:
                self.load_selected_model()

    def apply_theme(self) -> None:
        """Theme the application from the settings; repaint what holds colours of its own."""
        from tokenwise.ui import theme
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        theme.apply(app, self.settings.theme, self.settings.font_size)
        self.chat_view.restyle()

    def _on_system_scheme(self, _scheme: Qt.ColorScheme) -> None:
        if self.settings.theme == "system":
            self.apply_theme()

    def offer_crash_report(self, text: str) -> None:
        """The last run crashed: show its report, ready to copy (not modal)."""
        from tokenwise.ui.about import CrashReportDialog

        self.crash_dialog = CrashReportDialog(text, self)
        self.crash_dialog.show()

    def open_about(self) -> None:
        from tokenwise.ui.about import AboutDialog

        AboutDialog(self.flow.model_info, self).exec()

    def open_models(self) -> None:
        from tokenwise.ui.models.window import ModelsWindow

        window = self._models_window
        if window is None:
            window = ModelsWindow(self.downloads, parent=self, files=self.library_worker)
            window.model_chosen.connect(self._use_model)
            window.models_changed.connect(
                lambda: self._fill_model_picker(self.model_picker.currentData()))
            self._models_window = window
        window.show()
        window.raise_()
        window.activateWindow()

    def _on_download_changed(self, job: DownloadJob) -> None:
        self.status.show_download(job, self.downloads.active())
        info = self.flow.model_info
        if job.state == DONE and job.path is not None and info is not None:
            self.language_notice.update_for(info.path, {job.path.name: str(job.path)})

    def close_without_asking(self) -> None:
        """Close for a signal (logout, kill): nobody is there to answer a question."""
        self._ask_before_quitting = False
        self.close()

    def confirm_quit_during_downloads(self, count: int) -> bool:
        """Ask before quitting mid-download; the tests replace this."""
        running = (self.tr("{count} downloads are still running.").format(count=count)
                   if count > 1 else self.tr("1 download is still running."))
        answer = QMessageBox.question(
            self, self.tr("Quit while downloading?"),
            running + gap() + self.tr("Quit anyway? What has arrived is kept, and the download "
                                    "carries on the next time Tokenwise starts."),
        )
        return answer == QMessageBox.StandardButton.Yes

    def _use_model(self, path: str) -> None:
        """A model picked in the Models window: select it and load it."""
        self._fill_model_picker(path, then_load=True)

    # ------------------------------------------------------------------ lifetime

    def _restore_geometry(self) -> None:
        try:
            if self.settings.window_geometry:
                self.restoreGeometry(QByteArray(base64.b64decode(self.settings.window_geometry)))
            if self.settings.window_state:
                self.restoreState(QByteArray(base64.b64decode(self.settings.window_state)))
        except ValueError:
            pass

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self.composer.edit.setFocus()  # the first word typed goes into the message box
            self.window_shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the reply, close the engine on its thread, save what streamed, flush the DB."""
        if not self._closed:
            active = self.downloads.active()
            if active and self._ask_before_quitting and not self.confirm_quit_during_downloads(
                    len(active)):
                event.ignore()
                return
            self._closed = True
            # a stalled read sees the cancel only at its next bytes: the worker is not waited
            # for; what arrived is on disk, and the next start resumes from it
            self.downloads.shutdown(resume_next_start=True, timeout=0.3)
            self.settings.window_geometry = base64.b64encode(
                bytes(self.saveGeometry().data())).decode("ascii")
            self.settings.window_state = base64.b64encode(
                bytes(self.saveState().data())).decode("ascii")
            with contextlib.suppress(OSError):
                save_settings(self.settings)
            self.controller.shutdown()
            if self._models_window is not None:
                self._models_window.shutdown()
            self.library_worker.shutdown(0.2)
        super().closeEvent(event)
