"""A queue of downloads on one worker thread, reporting through a plain callback.

UI-free: the Models window wraps the callback in a Qt signal; the CLI prints from it.
One download runs at a time (a single network link gains nothing from two); the others
wait in order. Cancel stops a running download between chunks and keeps its partial
file, so starting it again continues where it stopped.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.models import download, hub

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass(frozen=True, slots=True)
class DownloadJob:
    """One model to fetch: a single file or every part of a split model."""

    job_id: int
    repo_id: str
    filenames: tuple[str, ...]
    state: str = QUEUED
    progress: download.DownloadProgress | None = None
    part_index: int = 0  # which of ``filenames`` is being fetched
    message: str = ""
    path: Path | None = None

    @property
    def title(self) -> str:
        name = self.filenames[0]
        return name if len(self.filenames) == 1 else f"{name} (+{len(self.filenames) - 1} parts)"


Listener = Callable[[DownloadJob], None]


class DownloadQueue:
    """Runs queued downloads in order on one daemon thread; call :meth:`shutdown` on exit."""

    def __init__(self, listener: Listener, *, retry_delay_s: float = 1.0) -> None:
        self._listener = listener
        self._retry_delay_s = retry_delay_s
        self._ids = itertools.count(1)
        self._pending: deque[DownloadJob] = deque()
        self._jobs: dict[int, DownloadJob] = {}
        self._cancels: dict[int, threading.Event] = {}
        self._lock = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="downloads", daemon=True)
        self._thread.start()

    def enqueue(self, repo_id: str, filenames: tuple[str, ...] | list[str]) -> DownloadJob:
        hub.check_repo_id(repo_id)
        for name in filenames:
            hub.check_filename(name)
        with self._lock:
            for job in self._jobs.values():
                if job.repo_id == repo_id and job.filenames == tuple(filenames) and job.state in (
                    QUEUED, RUNNING
                ):
                    return job  # already on its way
            job = DownloadJob(next(self._ids), repo_id, tuple(filenames))
            self._jobs[job.job_id] = job
            self._cancels[job.job_id] = threading.Event()
            self._pending.append(job)
            self._lock.notify()
        self._listener(job)
        return job

    def cancel(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state not in (QUEUED, RUNNING):
                return
            self._cancels[job_id].set()
            if job.state == QUEUED:
                self._pending = deque(j for j in self._pending if j.job_id != job_id)
                job = self._update(job, state=CANCELLED, message="Cancelled before it started.")
            else:
                return  # the worker reports the cancel when it has stopped
        self._listener(job)

    def jobs(self) -> list[DownloadJob]:
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[DownloadJob]:
        """The jobs still queued or running, in the order they were added."""
        with self._lock:
            return [j for j in self._jobs.values() if j.state in (QUEUED, RUNNING)]

    def is_idle(self) -> bool:
        with self._lock:
            return not self._pending and all(j.state != RUNNING for j in self._jobs.values())

    def shutdown(self, timeout: float | None = 10.0) -> None:
        """Cancel everything (partial files stay for a later resume) and stop the worker."""
        with self._lock:
            self._stopping = True
            for event in self._cancels.values():
                event.set()
            self._lock.notify_all()
        self._thread.join(timeout)

    # ----- worker ------------------------------------------------------------------------
    def _update(self, job: DownloadJob, **changes: object) -> DownloadJob:
        job = replace(job, **changes)  # type: ignore[arg-type]
        self._jobs[job.job_id] = job
        return job

    def _set(self, job: DownloadJob, **changes: object) -> DownloadJob:
        with self._lock:
            job = self._update(job, **changes)
        self._listener(job)
        return job

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                job = self._pending.popleft()
                cancel = self._cancels[job.job_id]
            self._fetch(job, cancel)

    def _fetch(self, job: DownloadJob, cancel: threading.Event) -> None:
        job = self._set(job, state=RUNNING)
        paths_done: list[Path] = []
        try:
            for index, filename in enumerate(job.filenames):
                job = self._set(job, part_index=index)

                def report(progress: download.DownloadProgress, index: int = index) -> None:
                    nonlocal job
                    job = self._set(job, progress=progress, part_index=index)

                path = download.download_file(
                    job.repo_id, filename, progress=report, cancel=cancel,
                    retry_delay_s=self._retry_delay_s,
                )
                paths_done.append(path)
            self._set(job, state=DONE, path=paths_done[0], message="Ready.")
        except download.DownloadCancelled as exc:
            self._set(job, state=CANCELLED, message=str(exc))
        except TokenwiseError as exc:
            self._set(job, state=FAILED, message=str(exc))
        except Exception as exc:
            self._set(job, state=FAILED, message=f"The download failed unexpectedly: {exc!r}")


def _resume_file() -> Path:
    return download.partial_dir() / "resume-on-start.json"


def remember_for_next_start(jobs: list[DownloadJob]) -> None:
    """Note downloads stopped by quitting, so that the next start resumes them."""
    entries = [{"repo_id": j.repo_id, "filenames": list(j.filenames)} for j in jobs]
    if entries:
        _resume_file().write_text(json.dumps(entries), encoding="utf-8")


def take_resume_list() -> list[tuple[str, tuple[str, ...]]]:
    """The downloads the last session asked to resume (read once, then forgotten)."""
    path = _resume_file()
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    finally:
        path.unlink(missing_ok=True)
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("repo_id"), str) and isinstance(
            entry.get("filenames"), list
        ) and all(isinstance(n, str) for n in entry["filenames"]):
            found.append((entry["repo_id"], tuple(entry["filenames"])))
    return found
