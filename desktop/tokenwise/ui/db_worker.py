"""The thread adapter around the ChatStore: every database call runs on one thread.

A trace write while a reply streams, a long conversation read on a chat switch: none of it
may block the GUI. Callers submit a function of the store; it runs on the store's thread in
submission order, and its result is handed to a callback on the GUI thread (a queued signal).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

StoreFactory = Callable[[], Any]


def default_store_factory() -> Any:
    from tokenwise.core.chat.store import ChatStore

    return ChatStore()


class DbWorker(QObject):
    """Runs store calls on one thread; results come back on the GUI thread.

    Signals:
        task_failed(str): a store call raised; the message is for the user.
        drained(): the queue became empty (every submitted call has run).
    """

    task_failed = Signal(str)
    drained = Signal()
    _delivered = Signal(object, object)

    def __init__(self, store_factory: StoreFactory | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = store_factory or default_store_factory
        self._queue: queue.Queue[tuple[Callable[[Any], Any], Callable[[Any], None] | None]
                                 | None] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._delivered.connect(self._deliver)
        self._thread = threading.Thread(target=self._run, name="tokenwise-db", daemon=True)
        self._thread.start()

    @property
    def thread_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, fn: Callable[[Any], Any],
               done: Callable[[Any], None] | None = None) -> None:
        """Run ``fn(store)`` on the store's thread; then ``done(result)`` on the GUI thread."""
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((fn, done))

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every submitted call has run (callbacks are not waited for)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 1.5) -> bool:
        """Run what is queued, close the store, join the thread. True if it finished."""
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _deliver(self, done: Callable[[Any], None], result: Any) -> None:
        done(result)

    def _run(self) -> None:
        store = None
        try:
            store = self._factory()
            while True:
                item = self._queue.get()
                if item is None:
                    break
                fn, done = item
                try:
                    result = fn(store)
                except Exception as error:  # reported, never fatal to the thread
                    self.task_failed.emit(f"Could not save or read the chat history: {error}")
                else:
                    if done is not None:
                        self._delivered.emit(done, result)
                finally:
                    with self._lock:
                        self._pending -= 1
                        if self._pending == 0:
                            self._idle.set()
                            self.drained.emit()
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
            self._idle.set()
