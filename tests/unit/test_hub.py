"""Hub search and repository listings, with the real huggingface_hub client against the
loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubserver import STARTER_REPO, HubServer, serving_starter
from tokenwise.core import paths, secrets
from tokenwise.core.models import download, hub, library
from tokenwise.core.models.queue import DownloadQueue


@pytest.fixture
def hub_server(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serving_starter(starter_model_path) as server:
        yield server


def test_search_sorted_by_downloads(hub_server: HubServer, starter_model_path: Path) -> None:
    hub_server.add_repo("someone/Tiny-Chat-GGUF", {"a.gguf": starter_model_path},
                        downloads=9000)
    hub_server.add_repo("other/Unrelated-GGUF", {"b.gguf": starter_model_path}, downloads=1)
    found = hub.search_models("gguf")
    assert [r.repo_id for r in found] == [
        "someone/Tiny-Chat-GGUF", STARTER_REPO, "other/Unrelated-GGUF"
    ]
    assert found[0].downloads == 9000
    assert [r.repo_id for r in hub.search_models("smollm2")] == [STARTER_REPO]
    search = next(e for e in hub_server.log if e.path == "/api/models")
    assert search.status == 200


def test_repo_files_with_sizes_quantization_and_split_groups(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    files = {
        "model-Q4_K_M.gguf": starter_model_path,
        "big-Q8_0-00001-of-00002.gguf": starter_model_path,
        "big-Q8_0-00002-of-00002.gguf": starter_model_path,
        "README.md": starter_model_path,
    }
    hub_server.add_repo("someone/Split-GGUF", files)
    models = hub.list_gguf_models("someone/Split-GGUF")
    size = starter_model_path.stat().st_size
    assert [(m.name, m.quantization, m.size, len(m.parts)) for m in models] == [
        ("model-Q4_K_M.gguf", "Q4_K_M", size, 1),
        ("big-Q8_0 (2 parts)", "Q8_0", 2 * size, 2),
    ]
    assert models[1].parts[0].filename.endswith("00001-of-00002.gguf")
    assert all(len(p.sha256 or "") == 64 for m in models for p in m.parts)


def test_unknown_repository(hub_server: HubServer) -> None:
    with pytest.raises(hub.HubNotFoundError, match="not found on the hub"):
        hub.list_gguf_models("nobody/Nothing-GGUF")


def test_gated_repository_says_to_accept_the_license(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    hub_server.add_repo("google/gated-GGUF", {"g.gguf": starter_model_path},
                        gated=True, token="hf_right")
    with pytest.raises(hub.HubAuthError, match="accept its license"):
        hub.list_gguf_models("google/gated-GGUF")
    hub.save_token("hf_wrong")
    with pytest.raises(hub.HubAuthError, match="accept its license"):
        hub.list_gguf_models("google/gated-GGUF")
    hub.save_token("hf_right")
    assert [m.name for m in hub.list_gguf_models("google/gated-GGUF")] == ["g.gguf"]
    statuses = [e.status for e in hub_server.log if "gated" in e.path]
    assert statuses == [401, 403, 200]


def test_the_token_is_kept_in_the_secrets_store(tokenwise_home: Path) -> None:
    hub.save_token("  hf_secret\n")
    assert hub.saved_token() == hub.token() == "hf_secret"
    assert secrets.get_secret(hub.TOKEN_SECRET) == "hf_secret"
    secrets_file = secrets.secrets_path()
    assert secrets_file.stat().st_mode & 0o077 == 0
    assert not list(tokenwise_home.rglob("hub-token"))
    hub.save_token(None)
    assert hub.saved_token() is None
    assert secrets.get_secret(hub.TOKEN_SECRET) is None


def test_a_token_file_of_an_earlier_version_is_moved_once(tokenwise_home: Path) -> None:
    old = paths.config_dir() / "hub-token"
    old.write_text("hf_from_0.1\n", encoding="utf-8")
    assert hub.saved_token() == "hf_from_0.1"
    assert not old.exists()
    assert secrets.get_secret(hub.TOKEN_SECRET) == "hf_from_0.1"
    hub.save_token("hf_newer")
    old.write_text("hf_stale", encoding="utf-8")  # e.g. restored from a backup
    assert hub.saved_token() == "hf_newer"  # the store wins; the stale file goes
    assert not old.exists()


def test_offline_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    with pytest.raises(hub.HubOfflineError, match="offline"):
        hub.search_models("qwen")


def test_offline_mode_variable(monkeypatch: pytest.MonkeyPatch, hub_server: HubServer) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.HubOfflineError, match="offline mode"):
        hub.search_models("smol")
    assert not [e for e in hub_server.log if e.path.startswith("/api/models")]


@pytest.mark.parametrize(
    "name", ["../x.gguf", "/etc/x.gguf", "a/../../x.gguf", "C:evil.gguf", "a\\..\\x.gguf", ""]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(hub.UnsafeFileNameError):
        hub.check_filename(name)


def test_safe_names_pass() -> None:
    assert hub.check_filename("sub/model-Q4_K_M.gguf") == "sub/model-Q4_K_M.gguf"
    with pytest.raises(hub.UnsafeFileNameError, match=r"not a \.gguf"):
        hub.check_filename("model.safetensors")


@pytest.mark.parametrize("repo_id", [
    "gpt2", "a/b/c", "../x", "owner/..", "owner/na..me", "owner/na--me", "-owner/name",
    "owner/name.", "owner/na me", "owner\\name", "", "owner/" + "n" * 97,
])
def test_repository_ids_are_checked_in_one_place(repo_id: str) -> None:
    with pytest.raises(hub.InvalidRepoIdError, match="owner/name"):
        hub.check_repo_id(repo_id)
    with pytest.raises(hub.InvalidRepoIdError):
        hub.list_repo_files(repo_id)
    with pytest.raises(hub.InvalidRepoIdError):
        download.download_file(repo_id, "model.gguf")
    with pytest.raises(hub.InvalidRepoIdError):
        DownloadQueue().add(repo_id, ["model.gguf"])


@pytest.mark.parametrize("repo_id", [STARTER_REPO, "bartowski/Qwen2.5-0.5B-Instruct-GGUF",
                                     "a/b", "Org_1/model.v2"])
def test_ordinary_repository_ids_pass(repo_id: str) -> None:
    assert hub.check_repo_id(repo_id) == repo_id
    assert download.target_path(repo_id, "m.gguf") == paths.models_dir() / repo_id / "m.gguf"


def test_split_file_names_have_one_pattern() -> None:
    assert library.SPLIT_RE is hub.SPLIT_RE
    found = hub.SPLIT_RE.match("sub/Big-Q4_K_M-00002-of-00003.gguf")
    assert found is not None
    assert (found["stem"], found["index"], found["count"]) == ("sub/Big-Q4_K_M", "00002", "00003")
    assert hub.SPLIT_RE.match("Big-Q4_K_M.gguf") is None


@pytest.mark.parametrize(
    ("filename", "quant"),
    [
        ("qwen2.5-0.5b-instruct-q4_k_m.gguf", "Q4_K_M"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("Phi-3-mini-4k-instruct-q4.gguf", "Q4"),
        ("gemma-3-1b-it-IQ4_XS.gguf", "IQ4_XS"),
        ("model-f16.gguf", "F16"),
        ("model.gguf", ""),
    ],
)
def test_quantization_from_file_name(filename: str, quant: str) -> None:
    assert hub.quantization_from_name(filename) == quant


def test_catalogue_is_complete_and_safe() -> None:
    entries = hub.load_catalogue()
    assert len(entries) >= 10
    families = {e.family for e in entries}
    assert {"SmolLM2", "Qwen", "Llama", "Gemma", "Phi", "Mistral"} <= families
    params = sorted(e.parameters for e in entries)
    assert params[0] < 200e6
    assert params[-1] > 7e9
    for entry in entries:
        assert entry.repo_id.count("/") == 1
        assert entry.description and entry.license and entry.checked
        assert entry.context_length >= 2048
        assert entry.size_bytes is None or entry.size_bytes > 10e6
    assert len({e.id for e in entries}) == len(entries)


def test_catalogue_starter_entry_matches_the_bundled_file(starter_model_path: Path) -> None:
    entry = hub.find_catalogue_entry("smollm2-135m-q4_1")
    assert entry is not None
    assert entry.files == (starter_model_path.name,)
    assert entry.size_bytes == starter_model_path.stat().st_size
