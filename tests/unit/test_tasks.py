"""The serial worker without Qt: order, stale results, errors, cancel between yields, and a
resource created, used and closed on the worker's own thread."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import pytest

from tokenwise.core.tasks import Mailbox, SerialWorker, TaskCancelled, TaskState

TIMEOUT_S = 10.0


class Resource:
    """Notes the threads it was opened, used and closed on."""

    def __init__(self) -> None:
        self.opened_on = threading.current_thread().name
        self.used_on: set[str] = set()
        self.closed_on: str | None = None

    def use(self) -> str:
        self.used_on.add(threading.current_thread().name)
        return threading.current_thread().name

    def close(self) -> None:
        self.closed_on = threading.current_thread().name


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def worker(mailbox: Mailbox) -> Iterator[SerialWorker[Resource]]:
    made: list[Resource] = []

    def open_resource() -> Resource:
        made.append(Resource())
        return made[-1]

    w = SerialWorker("test-worker", mailbox, open_resource, Resource.close)
    w.made = made  # type: ignore[attr-defined]
    yield w
    w.shutdown(2.0)


def test_tasks_run_in_order_on_one_thread_and_report_on_the_owners(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    got: list[tuple[int, str, str]] = []
    for i in range(20):
        worker.submit(lambda r, _s, i=i: (i, r.use()),
                      returned=lambda v: got.append((*v, threading.current_thread().name)))
    assert mailbox.run_until(lambda: len(got) == 20, TIMEOUT_S)
    assert [g[0] for g in got] == list(range(20))
    assert {g[1] for g in got} == {"test-worker"}
    assert {g[2] for g in got} == {threading.current_thread().name}


def test_a_newer_task_with_the_same_key_makes_the_older_result_stale(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_r: Resource, _s: TaskState[None]) -> str:
        started.set()
        release.wait(TIMEOUT_S)
        return "first"

    shown: list[str] = []
    first = worker.submit(slow, key="search", returned=shown.append)
    assert started.wait(TIMEOUT_S)  # the first is running when the second comes
    second = worker.submit(lambda _r, _s: "second", key="search", returned=shown.append)
    release.set()
    assert mailbox.run_until(lambda: second.ended and first.ended, TIMEOUT_S)
    assert shown == ["second"]
    assert first.stale and first.cancelled and not second.stale


def test_an_error_goes_to_failed_and_the_thread_goes_on(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    errors: list[Exception] = []
    after: list[str] = []

    def broken(_r: Resource, _s: TaskState[None]) -> None:
        raise ValueError("broken on purpose")

    worker.submit(broken, failed=errors.append, returned=lambda _v: after.append("wrong"))
    worker.submit(lambda _r, _s: "next", returned=after.append)
    assert mailbox.run_until(lambda: bool(after), TIMEOUT_S)
    assert [str(e) for e in errors] == ["broken on purpose"]
    assert after == ["next"]


def test_cancel_is_seen_between_yields_and_the_generator_is_closed(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    permit = threading.Semaphore(0)
    closed = threading.Event()

    def count(_r: Resource, _s: TaskState[int]) -> Generator[int, None, str]:
        try:
            for i in range(1000):
                yield i
                permit.acquire(timeout=TIMEOUT_S)
        finally:
            closed.set()
        return "all"

    seen: list[int] = []
    ends: list[str] = []
    task = worker.stream(count, progress=seen.append, returned=ends.append,
                         aborted=lambda: ends.append("aborted"))
    for n in (1, 2, 3):
        assert mailbox.run_until(lambda n=n: len(seen) == n, TIMEOUT_S)
        if n < 3:
            permit.release()
    task.cancel()
    permit.release()
    assert mailbox.run_until(lambda: bool(ends), TIMEOUT_S)
    assert ends == ["aborted"]
    assert closed.is_set()
    assert seen[:3] == [0, 1, 2] and len(seen) <= 4


def test_a_generator_returns_its_value_after_its_yields(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    def count(_r: Resource, _s: TaskState[int]) -> Generator[int, None, str]:
        yield from range(3)
        return "done"

    got: list[object] = []
    worker.stream(count, progress=got.append, returned=got.append)
    assert mailbox.run_until(lambda: "done" in got, TIMEOUT_S)
    assert got == [0, 1, 2, "done"]


def test_work_may_stop_itself_on_cancel_and_report_progress(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    def copy(_r: Resource, state: TaskState[int]) -> None:
        for i in range(1000):
            state.report(i)
            if state.cancel_event.wait(0.01):
                raise TaskCancelled

    seen: list[int] = []
    ends: list[str] = []
    task = worker.submit(copy, progress=seen.append, aborted=lambda: ends.append("aborted"))
    assert mailbox.run_until(lambda: len(seen) >= 2, TIMEOUT_S)
    task.cancel()
    assert mailbox.run_until(lambda: bool(ends), TIMEOUT_S)
    assert ends == ["aborted"] and len(seen) < 1000


def test_shutdown_cancels_what_is_queued_joins_and_closes_the_resource_on_its_thread(
        worker: SerialWorker[Resource], mailbox: Mailbox) -> None:
    started = threading.Event()

    def block(_r: Resource, state: TaskState[None]) -> str:
        started.set()
        state.cancel_event.wait(TIMEOUT_S)  # until shutdown cancels it
        return "cancelled" if state.cancelled else "not cancelled"

    ends: list[str] = []
    worker.submit(block, returned=ends.append)
    worker.submit(lambda _r, _s: "queued", returned=ends.append,
                  aborted=lambda: ends.append("aborted"))
    assert started.wait(TIMEOUT_S)
    assert worker.shutdown(TIMEOUT_S)
    assert not worker.thread_alive
    mailbox.deliver_pending()
    assert ends == ["cancelled", "aborted"]
    (resource,) = worker.made  # type: ignore[attr-defined]
    assert resource.opened_on == resource.closed_on == "test-worker"
    late = worker.submit(lambda _r, _s: "late", returned=ends.append)
    assert late.cancelled and ends == ["cancelled", "aborted"]


def test_shutdown_can_run_what_is_queued_first(mailbox: Mailbox) -> None:
    worker = SerialWorker("test-writer", mailbox, lambda: None)
    written: list[int] = []
    for i in range(5):
        worker.submit(lambda _r, _s, i=i: written.append(i))
    assert worker.shutdown(TIMEOUT_S, run_queued=True)
    assert written == [0, 1, 2, 3, 4]


def test_a_resource_that_cannot_open_fails_every_task(mailbox: Mailbox) -> None:
    def refuse() -> None:
        raise OSError("no such database")

    worker = SerialWorker("test-broken", mailbox, refuse)
    errors: list[Exception] = []
    worker.submit(lambda _r, _s: None, failed=errors.append)
    assert mailbox.run_until(lambda: bool(errors), TIMEOUT_S)
    assert "no such database" in str(errors[0])
    assert worker.shutdown(TIMEOUT_S)
