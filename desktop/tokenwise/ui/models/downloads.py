"""The application's downloads: one queue that outlives the Models window.

Signals:
    job_changed(object): a DownloadJob changed (queued, progress, done, failed, cancelled).

The Models window and the main window's status bar only show it. Quitting while a download
runs stops it (its partial file stays) and notes it, so the next start carries on.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from tokenwise.core.models.queue import (
    DownloadJob,
    DownloadQueue,
    remember_for_next_start,
    take_resume_list,
)


class Downloads(QObject):
    job_changed = Signal(object)

    def __init__(self, parent: QObject | None = None, *, retry_delay_s: float = 1.0) -> None:
        super().__init__(parent)
        # emitted from the queue's thread; Qt queues it to this object's (the GUI) thread
        self.queue = DownloadQueue(self.job_changed.emit, retry_delay_s=retry_delay_s)
        self._stopped = False

    def enqueue(self, repo_id: str, filenames: tuple[str, ...]) -> DownloadJob:
        return self.queue.enqueue(repo_id, filenames)

    def cancel(self, job_id: int) -> None:
        self.queue.cancel(job_id)

    def jobs(self) -> list[DownloadJob]:
        return self.queue.jobs()

    def active(self) -> list[DownloadJob]:
        return self.queue.active()

    def resume_from_last_session(self) -> int:
        """Start again what the last session was quit in the middle of; returns how many."""
        resumed = take_resume_list()
        for repo_id, filenames in resumed:
            self.queue.enqueue(repo_id, filenames)
        return len(resumed)

    def shutdown(self, *, resume_next_start: bool = True, timeout: float = 5.0) -> None:
        """Stop the worker; unfinished downloads keep their partial files."""
        if self._stopped:
            return
        self._stopped = True
        if resume_next_start:
            remember_for_next_start(self.queue.active())
        self.queue.shutdown(timeout=timeout)
