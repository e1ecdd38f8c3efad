"""The downloads of a session: their jobs and states, and the work that fetches one.

UI-free and thread-free: a DownloadQueue is the bookkeeping its owner keeps on one thread;
``fetch`` runs on a download worker (one download at a time: a single network link gains
nothing from two), reporting each change of its job. Cancel stops a running download between
chunks and keeps its partial file, so starting it again continues where it stopped.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.i18n import _
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


Report = Callable[[DownloadJob], None]
FINAL = (DONE, FAILED, CANCELLED)


class DownloadQueue:
    """The session's download jobs in the order they were added, as last reported."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._jobs: dict[int, DownloadJob] = {}

    def add(self, repo_id: str, filenames: tuple[str, ...] | list[str]) -> tuple[DownloadJob, bool]:
        """A new queued job, or the one already on its way (False)."""
        hub.check_repo_id(repo_id)
        for name in filenames:
            hub.check_filename(name)
        for job in self._jobs.values():
            if (job.repo_id == repo_id and job.filenames == tuple(filenames)
                    and job.state in (QUEUED, RUNNING)):
                return job, False
        job = DownloadJob(next(self._ids), repo_id, tuple(filenames))
        self._jobs[job.job_id] = job
        return job, True

    def get(self, job_id: int) -> DownloadJob | None:
        return self._jobs.get(job_id)

    def update(self, job: DownloadJob) -> bool:
        """Record a job's new state; False (and ignored) once the job has ended."""
        known = self._jobs.get(job.job_id)
        if known is None or known.state in FINAL:
            return False
        self._jobs[job.job_id] = job
        return True

    def jobs(self) -> list[DownloadJob]:
        return list(self._jobs.values())

    def active(self) -> list[DownloadJob]:
        """The jobs still queued or running, in the order they were added."""
        return [j for j in self._jobs.values() if j.state in (QUEUED, RUNNING)]


def fetch(job: DownloadJob, cancel: threading.Event, report: Report, *,
          retry_delay_s: float = 1.0) -> DownloadJob:
    """Download every file of ``job``, reporting each change; returns how it ended."""
    job = replace(job, state=RUNNING)
    report(job)
    paths_done: list[Path] = []
    try:
        for index, filename in enumerate(job.filenames):
            job = replace(job, part_index=index)
            report(job)

            def progress(p: download.DownloadProgress, index: int = index) -> None:
                nonlocal job
                job = replace(job, progress=p, part_index=index)
                report(job)

            paths_done.append(download.download_file(
                job.repo_id, filename, progress=progress, cancel=cancel,
                retry_delay_s=retry_delay_s))
        return replace(job, state=DONE, path=paths_done[0], message=_("Ready."))
    except download.DownloadCancelled as exc:
        return replace(job, state=CANCELLED, message=str(exc))
    except TokenwiseError as exc:
        return replace(job, state=FAILED, message=str(exc))
    except Exception as exc:
        return replace(job, state=FAILED, message=_(
            "The download failed unexpectedly: {error}").format(error=repr(exc)))


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
