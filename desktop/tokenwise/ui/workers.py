"""The one way work leaves the GUI thread: a core SerialWorker whose reports come back through
a Qt bridge.

Each resource has its worker (the engine, the chat database, downloads, hub requests, the
model library); the bridge turns the worker thread's reports into queued signals, so every
task callback runs on the GUI thread and no widget is ever touched from another thread.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal, Slot

from tokenwise.core.chat.engine_tasks import EngineSlot
from tokenwise.core.chat.store import ChatStore, open_or_recover
from tokenwise.core.interface import ChatEngine, EngineFactory
from tokenwise.core.tasks import P, R, SerialWorker, T, Task

ENGINE_THREAD = "tokenwise-engine"
DATABASE_THREAD = "tokenwise-db"
GIL_SWITCH_INTERVAL_S = 0.0005
StoreFactory = Callable[[], ChatStore]


class WorkerBridge(QObject):
    """Carries a worker thread's reports to the GUI thread (queued connections).

    Signals:
        progressed(object, object): a task and a value it yielded or reported.
        returned(object, object): a task and its result.
        failed(object, object): a task and the exception it raised.
        aborted(object): a task that was cancelled before it finished.
    """

    progressed = Signal(object, object)
    returned = Signal(object, object)
    failed = Signal(object, object)
    aborted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        queued = Qt.ConnectionType.QueuedConnection
        self.progressed.connect(self._on_progressed, queued)
        self.returned.connect(self._on_returned, queued)
        self.failed.connect(self._on_failed, queued)
        self.aborted.connect(self._on_aborted, queued)

    # ----- the Outbox, called on the worker's thread
    def post_progress(self, task: Task[P, T], value: P) -> None:
        self.progressed.emit(task, value)

    def post_returned(self, task: Task[P, T], value: T) -> None:
        self.returned.emit(task, value)

    def post_failed(self, task: Task[P, T], error: Exception) -> None:
        self.failed.emit(task, error)

    def post_aborted(self, task: Task[P, T]) -> None:
        self.aborted.emit(task)

    def deliver_pending(self) -> None:
        """Run the reports already posted, now (used while closing, with no event loop)."""
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall.value)

    # ----- on the GUI thread
    @Slot(object, object)
    def _on_progressed(self, task: Task[object, object], value: object) -> None:
        task.deliver_progress(value)

    @Slot(object, object)
    def _on_returned(self, task: Task[object, object], value: object) -> None:
        task.deliver_returned(value)

    @Slot(object, object)
    def _on_failed(self, task: Task[object, object], error: Exception) -> None:
        task.deliver_failed(error)

    @Slot(object)
    def _on_aborted(self, task: Task[object, object]) -> None:
        task.deliver_aborted()


def gui_worker(name: str, open_resource: Callable[[], R],
               close_resource: Callable[[R], None] | None = None) -> SerialWorker[R]:
    """A serial worker whose callbacks run on the GUI thread."""
    return SerialWorker(name, WorkerBridge(), open_resource, close_resource)


def no_resource() -> None:
    """The resource of a worker that needs none (hub requests): tasks get None."""
    return None


# ----- the application's workers


def default_engine_factory(path: str, **options: object) -> ChatEngine:
    """Import the engine (and llama_cpp) on the engine's thread: keeps start-up fast.
    A remote model's path ("remote:<server>/<model>") opens the remote engine instead."""
    if path.startswith("remote:"):
        from tokenwise.core.remote import open_saved

        return open_saved(path)
    from tokenwise.core.engine.local import Engine

    return Engine(path, **options)  # type: ignore[arg-type]


def engine_worker(factory: EngineFactory | None = None) -> SerialWorker[EngineSlot]:
    """The one thread that owns the engine: every llama.cpp call runs on it."""
    # The engine thread gives up the GIL during every decode and needs it back at once when
    # the decode returns; with the default 5 ms switch interval, a busy GUI thread would add
    # up to 5 ms to every token.
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    chosen = factory or default_engine_factory
    return gui_worker(ENGINE_THREAD, lambda: EngineSlot(chosen), EngineSlot.close)


def database_worker(factory: StoreFactory | None = None) -> SerialWorker[ChatStore]:
    """The chat history's thread: a trace write or a long read never blocks the GUI."""
    return gui_worker(DATABASE_THREAD, factory or open_or_recover, ChatStore.close)
