"""Names from the hub, the catalogue and imports cannot write outside the models folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ggufwriter import write_tiny_model
from tokenwise.core import paths
from tokenwise.core.models import download, hub, safenames
from tokenwise.core.models.library import Library

HOSTILE_NAMES = [
    "", ".", "..", "../x.gguf", "a/../../x.gguf", "sub/./x.gguf", "a//x.gguf", "/etc/x.gguf",
    "//server/share/x.gguf", "C:x.gguf", "C:\\x.gguf", "c:/x.gguf", "a\\..\\x.gguf",
    "CON", "CON.gguf", "NUL.gguf", "nul.gguf", "Aux.gguf", "prn.Q4_K_M.gguf", "com1.gguf",
    "COM9.gguf", "LPT9.gguf", "lpt1", "CONIN$.gguf", "sub/PRN.gguf", "CON/x.gguf",
    "nul /x.gguf", "x.gguf.", "x.gguf ", "sub./x.gguf", "a:b.gguf", "x.gguf:stream",
    "x\0.gguf", "x\n.gguf", "x?.gguf", "x|y.gguf",
]
SAFE_NAMES = ["model-Q4_K_M.gguf", "sub/model.gguf", "console.gguf", "CONFIG.gguf",
              "com10.gguf", "nullable.gguf", "a.b.c.gguf"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hub_file_names_are_refused(name: str) -> None:
    with pytest.raises(hub.UnsafeFileNameError, match="refuses"):
        hub.check_filename(name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_download_paths_are_refused(name: str) -> None:
    with pytest.raises(hub.UnsafeFileNameError):
        download.target_path("owner/repo", name)
    with pytest.raises(hub.UnsafeFileNameError):
        download.partial_path("owner/repo", name)
    assert not any(p for p in paths.models_dir().rglob("*") if p.name != ".partial")


@pytest.mark.parametrize("name", SAFE_NAMES)
def test_ordinary_names_pass(name: str) -> None:
    assert hub.check_filename(name) == name
    assert download.target_path("owner/repo", name) == paths.models_dir() / "owner/repo" / name


@pytest.mark.parametrize("repo_id", ["CON/model", "owner/NUL", "owner/com1", "lpt9/x"])
def test_repository_ids_that_are_device_names_are_refused(repo_id: str) -> None:
    with pytest.raises(hub.InvalidRepoIdError):
        hub.check_repo_id(repo_id)
    with pytest.raises(hub.InvalidRepoIdError):
        download.target_path(repo_id, "model.gguf")


def _catalogue(tmp_path: Path, **changes: object) -> Path:
    real = json.loads((paths.resources_dir() / "catalogue.json").read_text("utf-8"))
    entry = {**real["models"][0], **changes}
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({**real, "models": [entry]}), "utf-8")
    return path


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_catalogue_file_names_are_checked(tmp_path: Path, name: str) -> None:
    with pytest.raises(hub.UnsafeFileNameError):
        hub.load_catalogue(_catalogue(tmp_path, files=[name]))


@pytest.mark.parametrize("repo_id", ["../x", "owner/..", "CON/model", "owner/nul", "C:/x"])
def test_catalogue_repository_ids_are_checked(tmp_path: Path, repo_id: str) -> None:
    with pytest.raises(hub.InvalidRepoIdError):
        hub.load_catalogue(_catalogue(tmp_path, repo_id=repo_id))


def test_the_shipped_catalogue_passes() -> None:
    assert hub.load_catalogue()


@pytest.mark.parametrize("name", ["CON.gguf", "nul.gguf", "com1.gguf", "LPT9.gguf",
                                  "a:b.gguf", "x?.gguf", "model.gguf.", "aux"])
def test_imported_copies_get_a_safe_name_inside_the_models_folder(
    tmp_path: Path, name: str
) -> None:
    source = write_tiny_model(tmp_path / name)
    imported = Library().import_model(source, copy=True)
    stored = Path(imported.path)
    assert stored.parent == paths.models_dir() / "imported"
    assert safenames.part_problem(stored.name) is None
    assert stored.read_bytes() == source.read_bytes()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def _nothing_in(folder: Path) -> bool:
    return not any(folder.rglob("*"))


def test_a_link_inside_the_models_folder_is_not_followed_for_downloads(outside: Path) -> None:
    (paths.models_dir() / "owner").symlink_to(outside, target_is_directory=True)
    with pytest.raises(safenames.UnsafePathError, match="symbolic link"):
        download.target_path("owner/repo", "model.gguf")
    assert _nothing_in(outside)


def test_a_linked_partial_file_is_not_written_through(outside: Path) -> None:
    download.partial_dir()  # created
    flat = download.partial_dir() / "owner__repo__model.gguf.part"
    flat.symlink_to(outside / "victim")
    with pytest.raises(safenames.UnsafePathError):
        download.partial_path("owner/repo", "model.gguf")
    assert _nothing_in(outside)


def test_a_linked_partial_folder_is_not_written_through(outside: Path) -> None:
    (paths.models_dir() / ".partial").symlink_to(outside, target_is_directory=True)
    with pytest.raises(safenames.UnsafePathError):
        download.partial_path("owner/repo", "model.gguf")
    assert _nothing_in(outside)


def test_a_linked_import_folder_is_not_written_through(tmp_path: Path, outside: Path) -> None:
    (paths.models_dir() / "imported").symlink_to(outside, target_is_directory=True)
    source = write_tiny_model(tmp_path / "mine.gguf")
    with pytest.raises(safenames.UnsafePathError):
        Library().import_model(source, copy=True)
    assert _nothing_in(outside)


def test_a_linked_models_folder_itself_is_allowed(tmp_path: Path, outside: Path) -> None:
    """Moving the whole models folder to another disk through a link is the user's choice."""
    linked = tmp_path / "linked-models"
    linked.symlink_to(outside, target_is_directory=True)
    target = linked / "owner" / "repo" / "m.gguf"
    assert safenames.check_inside(linked, target) == target


@pytest.mark.parametrize("relative", ["../x.gguf", "a/../../x.gguf"])
def test_check_inside_refuses_climbing_out(tmp_path: Path, relative: str) -> None:
    with pytest.raises(safenames.UnsafePathError):
        safenames.check_inside(tmp_path / "models", tmp_path / "models" / relative)
    with pytest.raises(safenames.UnsafePathError, match="outside"):
        safenames.check_inside(tmp_path / "models", Path(os.sep) / "etc" / "x.gguf")
