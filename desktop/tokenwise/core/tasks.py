"""Work off the owner's thread: one serial worker per resource, reports back as callbacks.

A SerialWorker owns one thread and one resource (the engine, the chat store, ...), which is
created, used and closed on that thread; tasks run there one at a time, in the order they were
submitted (Anki's taskman keeps such a one-thread executor for its collection). A work
function is a module-level function of (resource, state) that never touches a widget (Orange3's
``run(data, learner, state)``): it may report progress through ``state``, or be a generator whose
every yield is reported (superqt's GeneratorWorker).

Reports travel through an Outbox to the owner's thread, where the task's callbacks run: the Qt
bridge in tokenwise.ui.workers posts them to the GUI thread as queued signals; a Mailbox lets an
owner without an event loop (a test, a command) pump them on its own thread.

Cancel sets a flag: a generator task is closed at its next yield and reported aborted; any task
can read ``state.cancelled`` or hand ``state.cancel_event`` to code that checks it. A newer task
submitted with the same key makes the older one stale: it is cancelled, and anything it still
reports is dropped. Use a key only for work whose result alone matters (a search, a read).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Generator, Hashable
from typing import Generic, Protocol, TypeVar

P = TypeVar("P")  # what a task reports while it runs
T = TypeVar("T")  # what it returns
R = TypeVar("R")  # the worker's resource


class TaskCancelled(Exception):
    """Raised by work that stopped because its task was cancelled: reported as aborted."""


class Task(Generic[P, T]):
    """The owner's handle on one submitted piece of work.

    Its callbacks run on the owner's thread, in order: any progress, then exactly one of
    returned, failed or aborted; none at all once the task is stale.
    """

    def __init__(self, task_id: int, key: Hashable | None,
                 progress: Callable[[P], None] | None, returned: Callable[[T], None] | None,
                 failed: Callable[[Exception], None] | None,
                 aborted: Callable[[], None] | None) -> None:
        self.task_id = task_id
        self.key = key
        self.cancel_event = threading.Event()
        self.stale = False  # superseded by a newer task with the same key
        self.ended = False  # its end was delivered to the owner
        self._progress = progress
        self._returned = returned
        self._failed = failed
        self._aborted = aborted

    def cancel(self) -> None:
        """Ask the work to stop; checked between yields and by work that reads the flag."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    # ----- on the owner's thread
    def deliver_progress(self, value: P) -> None:
        if not self.stale and self._progress is not None:
            self._progress(value)

    def deliver_returned(self, value: T) -> None:
        self.ended = True
        if not self.stale and self._returned is not None:
            self._returned(value)

    def deliver_failed(self, error: Exception) -> None:
        self.ended = True
        if not self.stale and self._failed is not None:
            self._failed(error)

    def deliver_aborted(self) -> None:
        self.ended = True
        if not self.stale and self._aborted is not None:
            self._aborted()


class Outbox(Protocol):
    """Carries a worker thread's reports to the owner's thread (called on the worker's)."""

    def post_progress(self, task: Task[P, T], value: P) -> None: ...

    def post_returned(self, task: Task[P, T], value: T) -> None: ...

    def post_failed(self, task: Task[P, T], error: Exception) -> None: ...

    def post_aborted(self, task: Task[P, T]) -> None: ...

    def deliver_pending(self) -> None:
        """On the owner's thread: run every report that has arrived, now."""


class TaskState(Generic[P]):
    """What a work function sees of its task: the cancel flag, and a way to report."""

    def __init__(self, task: Task[P, T], outbox: Outbox) -> None:
        self._task = task
        self._outbox = outbox
        self.cancel_event = task.cancel_event

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def report(self, value: P) -> None:
        """Send progress to the owner (from the worker's thread)."""
        self._outbox.post_progress(self._task, value)


class Mailbox:
    """An Outbox for an owner without an event loop: reports wait until pumped."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def post_progress(self, task: Task[P, T], value: P) -> None:
        self._queue.put(lambda: task.deliver_progress(value))

    def post_returned(self, task: Task[P, T], value: T) -> None:
        self._queue.put(lambda: task.deliver_returned(value))

    def post_failed(self, task: Task[P, T], error: Exception) -> None:
        self._queue.put(lambda: task.deliver_failed(error))

    def post_aborted(self, task: Task[P, T]) -> None:
        self._queue.put(task.deliver_aborted)

    def deliver_pending(self) -> None:
        while True:
            try:
                report = self._queue.get_nowait()
            except queue.Empty:
                return
            report()

    def run_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Deliver reports as they come until ``condition()`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                report = self._queue.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            report()
        return True


_Run = Callable[[R], None]


class SerialWorker(Generic[R]):
    """One thread that owns one resource and runs tasks on it, one at a time, in order.

    Submit, cancel and shut down from the owner's thread.
    """

    def __init__(self, name: str, outbox: Outbox, open_resource: Callable[[], R],
                 close_resource: Callable[[R], None] | None = None) -> None:
        self.name = name
        self.outbox = outbox
        self._open = open_resource
        self._close = close_resource
        self._queue: queue.SimpleQueue[tuple[Task[object, object], _Run[R]] | None] = (
            queue.SimpleQueue())
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._unfinished: dict[int, Task[object, object]] = {}
        self._idle = threading.Event()
        self._idle.set()
        self._latest: dict[Hashable, Task[object, object]] = {}
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def thread_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, work: Callable[[R, TaskState[P]], T], *, key: Hashable | None = None,
               progress: Callable[[P], None] | None = None,
               returned: Callable[[T], None] | None = None,
               failed: Callable[[Exception], None] | None = None,
               aborted: Callable[[], None] | None = None) -> Task[P, T]:
        """Run ``work(resource, state)``; what it returns goes to ``returned``."""
        task: Task[P, T] = Task(next(self._ids), key, progress, returned, failed, aborted)

        def run(resource: R) -> None:
            state = TaskState(task, self.outbox)
            try:
                result = work(resource, state)
            except TaskCancelled:
                self.outbox.post_aborted(task)
            except Exception as error:  # reported to the owner, never fatal to the thread
                self.outbox.post_failed(task, error)
            else:
                self.outbox.post_returned(task, result)

        return self._enqueue(task, run)

    def stream(self, work: Callable[[R, TaskState[P]], Generator[P, None, T]], *,
               key: Hashable | None = None, progress: Callable[[P], None] | None = None,
               returned: Callable[[T], None] | None = None,
               failed: Callable[[Exception], None] | None = None,
               aborted: Callable[[], None] | None = None) -> Task[P, T]:
        """Run a generator: each yield goes to ``progress``, its return value to ``returned``.

        The cancel flag is checked before every step: a cancelled generator is closed (its
        ``finally`` runs on this thread) and reported aborted.
        """
        task: Task[P, T] = Task(next(self._ids), key, progress, returned, failed, aborted)

        def run(resource: R) -> None:
            try:
                steps = work(resource, TaskState(task, self.outbox))
                while True:
                    if task.cancelled:
                        steps.close()
                        self.outbox.post_aborted(task)
                        return
                    try:
                        value = next(steps)
                    except StopIteration as stop:
                        self.outbox.post_returned(task, stop.value)
                        return
                    self.outbox.post_progress(task, value)
            except TaskCancelled:
                self.outbox.post_aborted(task)
            except Exception as error:
                self.outbox.post_failed(task, error)

        return self._enqueue(task, run)

    def _enqueue(self, task: Task[P, T], run: _Run[R]) -> Task[P, T]:
        erased: Task[object, object] = task  # type: ignore[assignment]
        if task.key is not None:
            older = self._latest.get(task.key)
            if older is not None:
                older.stale = True
                older.cancel()
            self._latest[task.key] = erased
        with self._lock:
            if self._closing:
                task.cancel()
                task.ended = True
                return task
            self._unfinished[task.task_id] = erased
            self._idle.clear()
        self._queue.put((erased, run))
        return task

    def cancel_all(self) -> None:
        """Cancel every queued and running task."""
        with self._lock:
            tasks = list(self._unfinished.values())
        for task in tasks:
            task.cancel()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every submitted task has run (their callbacks are not waited for)."""
        return self._idle.wait(timeout)

    def shutdown(self, timeout: float = 1.5, *, run_queued: bool = False) -> bool:
        """Stop taking tasks, cancel them (or run those queued), close the resource on its
        thread and join it. True if the thread has ended."""
        with self._lock:
            first = not self._closing
            self._closing = True
        if not run_queued:
            self.cancel_all()
        if first:
            self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ----- the worker's thread
    def _loop(self) -> None:
        try:
            resource = self._open()
        except Exception as error:  # every task then reports why the resource is missing
            self._fail_all(error)
            return
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                task, run = item
                if task.cancelled:
                    self.outbox.post_aborted(task)
                else:
                    run(resource)
                self._finished(task)
        finally:
            if self._close is not None:
                self._close(resource)
            self._idle.set()

    def _fail_all(self, error: Exception) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._idle.set()
                return
            task, _run = item
            self.outbox.post_failed(task, error)
            self._finished(task)

    def _finished(self, task: Task[object, object]) -> None:
        with self._lock:
            self._unfinished.pop(task.task_id, None)
            if not self._unfinished:
                self._idle.set()
