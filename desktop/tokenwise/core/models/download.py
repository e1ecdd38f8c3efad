"""Resumable, verified model downloads through huggingface_hub's HTTP client.

huggingface_hub 2.x keeps partial downloads only for the life of one process and checks
sizes, not hashes. Here the partial file lives in ``<models>/.partial/`` next to a small
JSON note (URL, size, sha256, ETag), so a download continues with a Range request after
the app was closed or killed. Only a file whose sha256 matches the hub's LFS hash and
whose GGUF header checks out is moved (atomically) into place; a mismatch is moved to
``<models>/.quarantine/`` and reported, never loaded.

huggingface_hub supplies everything about the request: the URL (``hf_hub_url``), the
headers and token (``build_hf_headers``), the metadata (``get_hf_file_metadata``), the
connection (``get_session``: its redirects, which drop the token when the origin changes;
its certificates, proxies and request hook) and the status errors (``hf_raise_for_status``).
The body is copied into a few reused buffers that two threads write and hash while the
next ones arrive, so the sha256 is known when the last byte is in.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tokenwise.core import paths
from tokenwise.core.errors import ModelFileError, TokenwiseError
from tokenwise.core.formatting import format_size
from tokenwise.core.i18n import _
from tokenwise.core.models import hub, safenames
from tokenwise.core.models.gguf import inspect_gguf
from tokenwise.core.models.library import Library

if TYPE_CHECKING:
    import httpx2

BUFFER_BYTES = 2 << 20  # one write + one hash update per buffer
BUFFERS = 6
# Written in pieces: single 2 MiB writes cost 2-5x the kernel CPU of the same bytes
# written 256 KiB at a time in about half the runs here (Linux 6.18, ext4; no compaction
# stalls counted, the cause is not pinned down); 256 KiB writes were steady.
WRITE_BYTES = 256 << 10
CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 30.0  # a stalled body fails after this long and is resumed
HASH_BLOCK = 8 << 20
SPACE_MARGIN = 64 << 20  # keep some room for the index, logs and the system
MAX_RETRIES = 5
PROGRESS_INTERVAL_S = 0.1


class DownloadError(TokenwiseError):
    pass


class DownloadCancelled(DownloadError):
    pass


class ChecksumMismatchError(DownloadError):
    pass


class InsufficientSpaceError(DownloadError):
    pass


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """A snapshot of one download, for a progress bar."""

    repo_id: str
    filename: str
    phase: str  # "connecting", "downloading", "verifying", "done"
    done: int
    total: int | None
    speed: float  # bytes per second, averaged over this session of the download
    resumed_from: int

    @property
    def eta_s(self) -> float | None:
        if not self.total or self.speed <= 0:
            return None
        return max(self.total - self.done, 0) / self.speed


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(slots=True)
class PartialNote:
    """What the .partial file belongs to: saved beside it so a later process can resume."""

    repo_id: str
    filename: str
    revision: str
    url: str
    size: int | None
    sha256: str | None
    etag: str | None
    commit: str | None


def partial_dir() -> Path:
    return _ensure(paths.models_dir() / ".partial")


def quarantine_dir() -> Path:
    return _ensure(paths.models_dir() / ".quarantine")


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def target_path(repo_id: str, filename: str) -> Path:
    """Where a finished download lives: <models>/<owner>/<repo>/<file>."""
    hub.check_filename(filename)
    base = paths.models_dir()
    return safenames.check_inside(base, base / hub.check_repo_id(repo_id) / filename)


def partial_path(repo_id: str, filename: str) -> Path:
    hub.check_filename(filename)
    flat = f"{hub.check_repo_id(repo_id).replace('/', '__')}__{filename.replace('/', '__')}"
    return safenames.check_inside(paths.models_dir(), partial_dir() / f"{flat}.part")


def _note_path(part: Path) -> Path:
    return part.with_suffix(".json")


def read_note(part: Path) -> PartialNote | None:
    try:
        return PartialNote(**json.loads(_note_path(part).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def pending_downloads() -> list[tuple[PartialNote, int]]:
    """Downloads that stopped before the end (app closed, killed, network gone)."""
    found = []
    for part in sorted(partial_dir().glob("*.part")):
        note = read_note(part)
        if note is not None:
            found.append((note, part.stat().st_size))
    return found


def discard_partial(repo_id: str, filename: str) -> None:
    part = partial_path(repo_id, filename)
    part.unlink(missing_ok=True)
    _note_path(part).unlink(missing_ok=True)


def sha256_of(path: Path, cancel: threading.Event | None = None) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("Download cancelled.")
            digest.update(block)
    return digest


def _fetch_metadata(
    url: str, token: str | None, what: str
) -> tuple[int | None, str | None, str | None]:
    """HEAD the resolve URL: size, ETag (the sha256 for LFS files), commit."""
    from huggingface_hub import get_hf_file_metadata

    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=hub.endpoint())
    except Exception as exc:
        raise hub.translate_error(exc, what) from None
    return meta.size, meta.etag, meta.commit_hash


def _expected_sha256(repo_id: str, filename: str, revision: str, etag: str | None) -> str | None:
    """The hub's LFS sha256 for the file; the ETag of an LFS file is the same hash."""
    for file in hub.list_repo_files(repo_id, revision=revision):
        if file.filename == filename and file.sha256:
            return file.sha256.lower()
    if etag and re.fullmatch(r"[0-9a-fA-F]{64}", etag):
        return etag.lower()
    return None


def _check_space(folder: Path, needed: int, filename: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed + SPACE_MARGIN > free:
        raise InsufficientSpaceError(
            _("Not enough free disk space for {file}: it needs {needed} more but only {free} "
              "is free in {folder}. Free some space (or remove a model you no longer use) and "
              "try again.").format(file=filename, needed=format_size(needed),
                                   free=format_size(free), folder=folder)
        )


class _Progress:
    """Throttles progress callbacks to a few per second; a new phase is always reported
    (the first bytes received among them)."""

    def __init__(self, callback: ProgressCallback | None, repo_id: str, filename: str) -> None:
        self.callback = callback
        self.repo_id = repo_id
        self.filename = filename
        self.started = time.monotonic()
        self.last = 0.0
        self.phase = ""
        self.resumed_from = 0
        self.session_bytes = 0

    def emit(self, phase: str, done: int, total: int | None, *, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and phase == self.phase and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        self.phase = phase
        elapsed = max(now - self.started, 1e-6)
        speed = self.session_bytes / elapsed
        self.callback(
            DownloadProgress(
                self.repo_id, self.filename, phase, done, total, speed, self.resumed_from
            )
        )


def download_file(
    repo_id: str,
    filename: str,
    *,
    revision: str = "main",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    retry_delay_s: float = 1.0,
) -> Path:
    """Download one file of a repository into the models folder, resuming, then verify it.

    Returns the final path. Raises HubError subclasses for hub failures, DownloadError
    subclasses for cancel / space / checksum, ModelFileError for a file that is not a model.
    """
    from huggingface_hub import hf_hub_url

    if hub.is_offline_mode():
        raise hub.offline_mode_error()
    cancel = cancel or threading.Event()
    final = target_path(repo_id, filename)
    part = partial_path(repo_id, filename)
    what = f"{repo_id}/{filename}"
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=hub.endpoint())
    token = hub.token()
    bar = _Progress(progress, repo_id, filename)
    bar.emit("connecting", 0, None, force=True)

    size, etag, commit = _fetch_metadata(url, token, what)
    sha256 = _expected_sha256(repo_id, filename, revision, etag)
    note = PartialNote(repo_id, filename, revision, url, size, sha256, etag, commit)
    old = read_note(part)
    if part.exists() and (old is None or (old.sha256, old.size) != (sha256, size)):
        part.unlink()  # the file changed on the hub since: start over
    _note_path(part).write_text(json.dumps(asdict(note)), encoding="utf-8")

    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    bar.resumed_from = have
    if size is not None:
        _check_space(partial_dir(), size - have, filename)

    digest = sha256_of(part, cancel) if have else hashlib.sha256()
    have, digest = _transfer(
        url, part, have, size, digest, token, what, bar, cancel, retry_delay_s
    )

    bar.emit("verifying", have, size, force=True)
    if size is not None and have != size:
        raise DownloadError(
            _("{file}: the server sent {have} of {size}. Try the download again: it resumes "
              "where it stopped.").format(file=filename, have=format_size(have),
                                          size=format_size(size))
        )
    got = digest.hexdigest()
    if sha256 is not None and got != sha256:
        jail = _quarantine(part, got)
        raise ChecksumMismatchError(
            _("{file} arrived damaged: its sha256 is {got}… but the hub lists {listed}…. The "
              "file was set aside in {folder} and will not be loaded. Download it again; if it "
              "happens again the server or a proxy is altering the file.").format(
                file=filename, got=got[:12], listed=sha256[:12], folder=jail.parent)
        )
    try:
        inspect_gguf(part)
    except ModelFileError as exc:
        jail = _quarantine(part, got)
        message = str(exc).replace(part.name, filename)
        raise type(exc)(f"{message} (The download was set aside in {jail.parent}.)") from None
    safenames.check_inside(paths.models_dir(), final)  # again: a link may have appeared since
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)
    _note_path(part).unlink(missing_ok=True)
    Library().record_download(final, repo_id, filename, got)
    bar.emit("done", have, size, force=True)
    return final


def _quarantine(part: Path, sha: str) -> Path:
    jail = quarantine_dir() / f"{part.stem}.{sha[:12]}.bad"
    os.replace(part, jail)
    _note_path(part).unlink(missing_ok=True)
    return jail


class _Sink:
    """Writes and hashes received buffers on two threads of its own, in order.

    A buffer goes from the receiving thread to the writer (one large write, no flush),
    then to the hasher, then back to the pool. File writes and hashlib (for large buffers)
    release the GIL, so receiving, writing and hashing run at once; sha256 is the slowest
    stage and the others keep up with it. BUFFERS buffers of BUFFER_BYTES bound the memory.
    """

    def __init__(self, out: BinaryIO, digest: hashlib._Hash) -> None:
        self.out = out
        self.digest = digest
        self.error: BaseException | None = None
        self.stored = 0  # bytes written and hashed: the file is truncated to this on retry
        self.free: queue.Queue[bytearray] = queue.Queue()
        for _buffer in range(BUFFERS):
            self.free.put(bytearray(BUFFER_BYTES))
        self.to_write: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self.to_hash: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self.threads = [
            threading.Thread(target=self._write, name="download-writer", daemon=True),
            threading.Thread(target=self._hash, name="download-hasher", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _write(self) -> None:
        while (item := self.to_write.get()) is not None:
            buffer, length = item
            if self.error is None:
                try:
                    view = memoryview(buffer)[:length]
                    written = 0
                    while written < length:
                        written += self.out.write(view[written : written + WRITE_BYTES]) or 0
                except BaseException as exc:
                    self.error = exc
            self.to_hash.put(item)
        self.to_hash.put(None)

    def _hash(self) -> None:
        """Hashes only what was written: once a write fails, nothing more is counted."""
        while (item := self.to_hash.get()) is not None:
            buffer, length = item
            if self.error is None:
                self.digest.update(memoryview(buffer)[:length])
                self.stored += length
            self.free.put(buffer)

    def take(self) -> bytearray:
        """An empty buffer; raises what went wrong on the writer thread, if anything."""
        buffer = self.free.get()
        if self.error is not None:
            self.free.put(buffer)
            raise self.error
        return buffer

    def give(self, buffer: bytearray, length: int) -> None:
        self.to_write.put((buffer, length))

    def close(self) -> None:
        """Wait until everything received is on disk and hashed."""
        self.to_write.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error


def _disk_error(exc: OSError, what: str, have: int) -> DownloadError:
    if exc.errno == errno.ENOSPC:
        return InsufficientSpaceError(
            _("The disk filled up while downloading {what}. {have} are kept: free some space "
              "and download it again to continue where it stopped.").format(
                what=what, have=format_size(have))
        )
    return DownloadError(_("Cannot write the download of {what}: {error}.").format(
        what=what, error=exc.strerror or exc))


@contextlib.contextmanager
def open_stream(url: str, headers: dict[str, str]) -> Iterator[httpx2.Response]:
    """GET ``url`` through huggingface_hub's session; the body is left to read.

    The session follows redirects and drops Authorization when one leaves the origin
    (except an http->https upgrade of the same host), trusts SSL_CERT_FILE / SSL_CERT_DIR,
    takes HTTP(S)_PROXY and NO_PROXY from the environment when it is created, and runs
    huggingface_hub's request hook (a request id; a refusal in offline mode). Network
    failures raise httpx2 transport errors.
    """
    import httpx2
    from huggingface_hub import get_session

    timeout = httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    with get_session().stream(
        "GET", url, headers=headers, follow_redirects=True, timeout=timeout
    ) as response:
        yield response


def _transfer(
    url: str,
    part: Path,
    have: int,
    size: int | None,
    digest: hashlib._Hash,
    token: str | None,
    what: str,
    bar: _Progress,
    cancel: threading.Event,
    retry_delay_s: float,
) -> tuple[int, hashlib._Hash]:
    """GET with Range from ``have``, retrying dropped connections; returns bytes on disk."""
    import httpx2
    from huggingface_hub import hf_raise_for_status
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    retries = 0
    while size is None or have < size:
        headers = build_hf_headers(token=token)
        # the raw bytes are the file: Range offsets and the sha256 count them
        headers["Accept-Encoding"] = "identity"
        if have:
            headers["Range"] = f"bytes={have}-"
        before = have
        try:
            with open_stream(url, headers) as response:
                if response.status_code == 416 and size is not None and have == size:
                    break
                hf_raise_for_status(response)
                if have and response.status_code != 206:
                    have = 0  # the server ignored the Range: start over
                    digest = hashlib.sha256()
                with open(part, "r+b" if have else "wb", buffering=0) as out:
                    if have:  # drop a tail that was written but not hashed
                        out.seek(have)
                        out.truncate()
                    # (no truncate of an empty file: on ext4 that makes close() flush it)
                    sink, start = _Sink(out, digest), have
                    try:
                        _receive(response.iter_raw(), sink, have, size, what, bar, cancel)
                    finally:
                        have = start + sink.stored
            if size is None:
                break
            if have < size:
                raise httpx2.RemoteProtocolError("the server closed the connection early")
        except DownloadCancelled:
            raise
        except (httpx2.TransportError, httpx2.TimeoutException) as exc:
            retries = 0 if have > before else retries + 1
            if retries >= MAX_RETRIES:
                raise hub.translate_error(exc, what) from None
            if cancel.wait(retry_delay_s):
                raise DownloadCancelled(_("Download of {what} cancelled.").format(
                    what=what)) from None
        except HfHubHTTPError as exc:
            raise hub.translate_error(exc, what) from None
        except OSError as exc:
            raise _disk_error(exc, what, have) from None
        except Exception as exc:
            raise hub.translate_error(exc, what) from None
    return have, digest


def _receive(
    chunks: Iterable[bytes],
    sink: _Sink,
    have: int,
    size: int | None,
    what: str,
    bar: _Progress,
    cancel: threading.Event,
) -> None:
    """Copy ``chunks`` into the sink's buffers until they end or fail.

    Chunks come as the connection delivers them (64 KiB at most), so cancel and progress
    are looked at often even on a slow link. Whatever arrived before a cancel or a dropped
    connection is written before returning or raising, so a resume continues from the
    last byte received.
    """
    buffer = sink.take()
    filled = 0
    try:
        for chunk in chunks:
            if cancel.is_set():
                raise DownloadCancelled(
                    _("Download of {what} cancelled; {have} kept to resume later.").format(
                        what=what, have=format_size(have))
                )
            view = memoryview(chunk)
            while view:
                n = min(len(view), BUFFER_BYTES - filled)
                buffer[filled : filled + n] = view[:n]
                filled += n
                view = view[n:]
                if filled == BUFFER_BYTES:
                    sink.give(buffer, filled)
                    buffer, filled = sink.take(), 0
            have += len(chunk)
            bar.session_bytes += len(chunk)
            bar.emit("downloading", have, size)
    finally:
        if filled:
            sink.give(buffer, filled)
        sink.close()
