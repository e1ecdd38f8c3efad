"""Downloads through the real huggingface_hub client from the loopback hub server:
progress, dropped connections, cancel and resume, corrupt bytes, refusals, full disk."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubserver import STARTER_REPO, HubServer, serving_starter
from tokenwise.core import paths
from tokenwise.core.errors import ModelFileError, NotGGUFError
from tokenwise.core.models import download, hub
from tokenwise.core.models.library import Library


@pytest.fixture
def hub_server(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serving_starter(starter_model_path) as server:
        yield server


@pytest.fixture(scope="module")
def starter_sha(starter_model_path: Path) -> str:
    return hashlib.sha256(starter_model_path.read_bytes()).hexdigest()


def _gguf_files_in_models_dir() -> list[Path]:
    root = paths.models_dir()
    return [p for p in root.rglob("*.gguf") if not p.relative_to(root).parts[0].startswith(".")]


def test_download_reports_progress_and_is_listed(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    events: list[download.DownloadProgress] = []
    path = download.download_file(STARTER_REPO, starter_model_path.name, progress=events.append)
    size = starter_model_path.stat().st_size
    assert path == paths.models_dir() / STARTER_REPO / starter_model_path.name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    phases = [e.phase for e in events]
    assert phases[0] == "connecting"
    assert phases[-2:] == ["verifying", "done"]
    done = [e.done for e in events if e.phase == "downloading"]
    assert done == sorted(done)
    assert events[-1].done == events[-1].total == size
    assert events[-1].speed > 0
    models = {m.name: m for m in Library().list_models()}
    downloaded = [m for m in models.values() if m.source == "downloaded"]
    assert len(downloaded) == 1
    assert downloaded[0].repo_id == STARTER_REPO
    assert downloaded[0].quantization == "Q4_1"
    assert not download.pending_downloads()
    gets = hub_server.gets(starter_model_path.name)
    assert [(g.status, g.range_start, g.bytes_sent) for g in gets] == [(200, None, size)]


def test_dropped_connection_is_resumed_with_a_range_request(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    name = starter_model_path.name
    hub_server.faults.drop_after[name] = 30_000_000
    path = download.download_file(STARTER_REPO, name, retry_delay_s=0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    first, second = hub_server.gets(name)
    assert first.bytes_sent == 30_000_000
    assert second.status == 206
    assert 0 < second.range_start <= 30_000_000  # type: ignore[operator]
    assert second.range_start + second.bytes_sent == starter_model_path.stat().st_size  # type: ignore[operator]


def test_cancel_keeps_the_partial_file_and_resume_fetches_only_the_rest(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    name = starter_model_path.name
    size = starter_model_path.stat().st_size
    hub_server.faults.hold_after = 30_000_000  # the rest waits until the test releases it
    cancel = threading.Event()

    def cancel_while_held() -> None:
        hub_server.wait_for_bytes(name, 30_000_000)
        cancel.set()
        hub_server.faults.release.set()  # the next bytes to arrive find the cancel

    canceller = threading.Thread(target=cancel_while_held, daemon=True)
    canceller.start()
    with pytest.raises(download.DownloadCancelled, match="kept to resume"):
        download.download_file(STARTER_REPO, name, cancel=cancel)
    canceller.join()
    pending = download.pending_downloads()
    assert len(pending) == 1
    note, kept = pending[0]
    assert (note.repo_id, note.filename, note.sha256) == (STARTER_REPO, name, starter_sha)
    assert 0 < kept < size
    assert not _gguf_files_in_models_dir()
    assert [m.source for m in Library().list_models()] == ["bundled"]

    hub_server.faults.hold_after = None
    events: list[download.DownloadProgress] = []
    path = download.download_file(STARTER_REPO, name, progress=events.append)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    resumed = hub_server.gets(name)[-1]
    assert resumed.range_start == kept
    assert resumed.bytes_sent == size - kept
    assert events[-1].resumed_from == kept


def test_wrong_bytes_are_quarantined_never_listed(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    hub_server.faults.corrupt.add(starter_model_path.name)
    with pytest.raises(download.ChecksumMismatchError, match="arrived damaged") as raised:
        download.download_file(STARTER_REPO, starter_model_path.name)
    assert "set aside" in str(raised.value)
    assert not _gguf_files_in_models_dir()
    assert len(list(download.quarantine_dir().iterdir())) == 1
    assert [m.source for m in Library().list_models()] == ["bundled"]
    assert not download.pending_downloads()


def test_an_html_page_served_as_a_model_is_refused(
    hub_server: HubServer, tmp_path: Path
) -> None:
    page = tmp_path / "login.gguf"
    page.write_text("<!DOCTYPE html><html><body>Please log in</body></html>" * 20)
    hub_server.add_repo("someone/Fake-GGUF", {"model.gguf": page})
    with pytest.raises(NotGGUFError, match="HTML page"):
        download.download_file("someone/Fake-GGUF", "model.gguf")
    assert not _gguf_files_in_models_dir()
    assert len(list(download.quarantine_dir().iterdir())) == 1


def test_missing_file_is_404(hub_server: HubServer) -> None:
    with pytest.raises(hub.HubNotFoundError, match="not found"):
        download.download_file(STARTER_REPO, "no-such-file-Q4_K_M.gguf")
    assert not download.pending_downloads()


def test_gated_repository_needs_the_token(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    hub_server.add_repo("google/Gated-GGUF", {"gated.gguf": starter_model_path},
                        gated=True, token="hf_ok")
    with pytest.raises(hub.HubAuthError, match="accept its license"):
        download.download_file("google/Gated-GGUF", "gated.gguf")
    hub.save_token("hf_ok")
    path = download.download_file("google/Gated-GGUF", "gated.gguf")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha


def test_server_error_mid_file_reports_clearly(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    hub_server.faults.status[starter_model_path.name] = 503
    with pytest.raises(hub.HubError, match="503"):
        download.download_file(STARTER_REPO, starter_model_path.name)


def test_offline(monkeypatch: pytest.MonkeyPatch, starter_model_path: Path) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(hub.HubOfflineError, match="offline"):
        download.download_file(STARTER_REPO, starter_model_path.name)
    assert [m.source for m in Library().list_models()] == ["bundled"]


def test_path_components_in_a_listed_name_are_refused(hub_server: HubServer) -> None:
    hub_server.add_repo("evil/Repo-GGUF", {}, listed_only=("../../escape.gguf",))
    listed = hub.list_repo_files("evil/Repo-GGUF")
    assert [f.filename for f in listed] == ["../../escape.gguf"]
    with pytest.raises(hub.UnsafeFileNameError, match="outside the models folder"):
        download.download_file("evil/Repo-GGUF", listed[0].filename)
    assert not [e for e in hub_server.log if "resolve" in e.path]


def test_not_enough_disk_space_is_checked_before_starting(
    hub_server: HubServer, starter_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage

    def nearly_full(path: object) -> object:
        usage = real(path)  # type: ignore[arg-type]
        return type(usage)(usage.total, usage.total - 10_000_000, 10_000_000)

    monkeypatch.setattr(download.shutil, "disk_usage", nearly_full)
    with pytest.raises(download.InsufficientSpaceError, match="Not enough free disk space"):
        download.download_file(STARTER_REPO, starter_model_path.name)
    assert not hub_server.gets(starter_model_path.name)


def test_a_changed_file_on_the_hub_restarts_the_partial(
    hub_server: HubServer, starter_model_path: Path, starter_sha: str
) -> None:
    name = starter_model_path.name
    part = download.partial_path(STARTER_REPO, name)
    part.write_bytes(b"stale bytes of an older version")
    note = download.PartialNote(STARTER_REPO, name, "main", "x", 31, "0" * 64, None, None)
    download._note_path(part).write_text(
        __import__("json").dumps(__import__("dataclasses").asdict(note))
    )
    path = download.download_file(STARTER_REPO, name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == starter_sha
    assert hub_server.gets(name)[-1].range_start is None


def test_downloaded_model_is_validated_like_any_model(
    hub_server: HubServer, starter_model_path: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(starter_model_path.read_bytes()[:5_000_000])
    hub_server.add_repo("someone/Cut-GGUF", {"cut.gguf": cut})
    with pytest.raises(ModelFileError, match="incomplete"):
        download.download_file("someone/Cut-GGUF", "cut.gguf")
    assert not _gguf_files_in_models_dir()
