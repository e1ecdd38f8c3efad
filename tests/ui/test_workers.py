"""The GUI's workers: reports come through the bridge's queued signals and reach the callbacks
on the GUI thread, in order; stale results are dropped; an error is reported; cancel stops a
stream between yields; shutdown joins the thread."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tokenwise.core.tasks import SerialWorker, TaskState
from tokenwise.ui.workers import gui_worker, no_resource

TIMEOUT_MS = 10_000


@pytest.fixture
def worker(qtbot: Any) -> Iterator[SerialWorker[None]]:
    w = gui_worker("test-gui-worker", no_resource)
    yield w
    w.shutdown(2.0)


def test_results_arrive_in_order_on_the_gui_thread(
        qtbot: Any, worker: SerialWorker[None]) -> None:
    gui = threading.current_thread()
    got: list[tuple[int, bool]] = []
    ran_on: set[str] = set()

    def work(_r: None, _s: TaskState[None], i: int) -> int:
        ran_on.add(threading.current_thread().name)
        return i

    for i in range(50):
        worker.submit(lambda r, s, i=i: work(r, s, i),
                      returned=lambda v: got.append((v, threading.current_thread() is gui)))
    qtbot.waitUntil(lambda: len(got) == 50, timeout=TIMEOUT_MS)
    assert got == [(i, True) for i in range(50)]
    assert ran_on == {"test-gui-worker"}


def test_a_stale_result_is_dropped_and_only_the_newest_shown(
        qtbot: Any, worker: SerialWorker[None]) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_r: None, _s: TaskState[None]) -> str:
        started.set()
        release.wait(10)
        return "old"

    shown: list[str] = []
    oldest = worker.submit(slow, key="k", returned=shown.append)
    assert started.wait(10)
    newest = worker.submit(lambda _r, _s: "new", key="k", returned=shown.append)
    release.set()
    qtbot.waitUntil(lambda: oldest.ended and newest.ended, timeout=TIMEOUT_MS)
    assert shown == ["new"]


def test_an_error_is_reported_by_signal_and_callback(
        qtbot: Any, worker: SerialWorker[None]) -> None:
    def broken(_r: None, _s: TaskState[None]) -> None:
        raise RuntimeError("no luck")

    gui = threading.current_thread()
    errors: list[tuple[Exception, bool]] = []
    worker.submit(broken, failed=lambda e: errors.append((e, threading.current_thread() is gui)))
    qtbot.waitUntil(lambda: bool(errors), timeout=TIMEOUT_MS)
    ((error, on_gui_thread),) = errors
    assert isinstance(error, RuntimeError) and str(error) == "no luck" and on_gui_thread


def test_cancel_stops_a_stream_between_yields(
        qtbot: Any, worker: SerialWorker[None]) -> None:
    permit = threading.Semaphore(0)

    def steps(_r: None, _s: TaskState[int]) -> Generator[int, None, str]:
        for i in range(1000):
            yield i
            permit.acquire(timeout=10)
        return "all of them"

    seen: list[int] = []
    ends: list[str] = []
    task = worker.stream(steps, progress=seen.append, returned=ends.append,
                         aborted=lambda: ends.append("aborted"))
    qtbot.waitUntil(lambda: seen == [0], timeout=TIMEOUT_MS)
    permit.release()
    qtbot.waitUntil(lambda: seen == [0, 1], timeout=TIMEOUT_MS)
    task.cancel()
    permit.release()
    qtbot.waitUntil(lambda: bool(ends), timeout=TIMEOUT_MS)
    assert ends == ["aborted"] and len(seen) <= 3


def test_shutdown_joins_the_thread(qtbot: Any) -> None:
    worker = gui_worker("test-gui-shutdown", no_resource)
    started = threading.Event()

    def wait_for_cancel(_r: None, state: TaskState[None]) -> None:
        started.set()
        state.cancel_event.wait(10)

    worker.submit(wait_for_cancel)
    assert started.wait(10)
    assert worker.shutdown(2.0)
    assert not worker.thread_alive
    assert "test-gui-shutdown" not in {t.name for t in threading.enumerate()}
