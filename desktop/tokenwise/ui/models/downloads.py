"""The application's downloads: one queue that outlives the Models window.

Signals:
    job_changed(object): a DownloadJob changed (queued, progress, done, failed, cancelled).

Downloads run one after another on the download worker; the Models window and the main
window's status bar only show them. Quitting while a download runs stops it (its partial file
stays) and notes it, so the next start carries on.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from tokenwise.core.models.queue import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    DownloadJob,
    DownloadQueue,
    fetch,
    remember_for_next_start,
    take_resume_list,
)
from tokenwise.core.tasks import Task
from tokenwise.ui.workers import gui_worker, no_resource

DOWNLOAD_THREAD = "tokenwise-downloads"


class Downloads(QObject):
    job_changed = Signal(object)

    def __init__(self, parent: QObject | None = None, *, retry_delay_s: float = 1.0) -> None:
        super().__init__(parent)
        self.queue = DownloadQueue()
        self.worker = gui_worker(DOWNLOAD_THREAD, no_resource)
        self._retry_delay_s = retry_delay_s
        self._tasks: dict[int, Task[DownloadJob, DownloadJob]] = {}
        self._stopped = False

    def enqueue(self, repo_id: str, filenames: tuple[str, ...]) -> DownloadJob:
        job, new = self.queue.add(repo_id, filenames)
        if not new:
            return job  # already on its way
        self.job_changed.emit(job)
        delay = self._retry_delay_s
        self._tasks[job.job_id] = self.worker.submit(
            lambda _none, state: fetch(job, state.cancel_event, state.report,
                                       retry_delay_s=delay),
            progress=self._changed, returned=self._changed,
            failed=lambda error: self._changed(replace(
                job, state=FAILED, message=self.tr(
                    "The download failed unexpectedly: {error}").format(error=repr(error)))),
            aborted=lambda: self._changed(replace(
                job, state=CANCELLED, message=self.tr("Cancelled before it started."))))
        return job

    def _changed(self, job: DownloadJob) -> None:
        if self.queue.update(job):
            self.job_changed.emit(job)

    def cancel(self, job_id: int) -> None:
        job = self.queue.get(job_id)
        task = self._tasks.get(job_id)
        if job is None or task is None or job.state not in (QUEUED, RUNNING):
            return
        task.cancel()  # a running one reports its cancel when it has stopped
        if job.state == QUEUED:
            self._changed(replace(job, state=CANCELLED,
                                  message=self.tr("Cancelled before it started.")))

    def jobs(self) -> list[DownloadJob]:
        return self.queue.jobs()

    def active(self) -> list[DownloadJob]:
        return self.queue.active()

    def resume_from_last_session(self) -> int:
        """Start again what the last session was quit in the middle of; returns how many."""
        resumed = take_resume_list()
        for repo_id, filenames in resumed:
            self.enqueue(repo_id, filenames)
        return len(resumed)

    def shutdown(self, *, resume_next_start: bool = True, timeout: float = 5.0) -> None:
        """Stop the worker; unfinished downloads keep their partial files."""
        if self._stopped:
            return
        self._stopped = True
        if resume_next_start:
            remember_for_next_start(self.queue.active())
        self.worker.shutdown(timeout)
