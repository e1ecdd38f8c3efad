"""The model library: starter listed as bundled, import, remove, cached details, speed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from ggufwriter import write_tiny_model
from tokenwise.core import paths
from tokenwise.core.errors import NotGGUFError, TruncatedModelError
from tokenwise.core.models import library as library_mod
from tokenwise.core.models.fit import estimate_memory, kv_cache_bytes
from tokenwise.core.models.gguf import inspect_gguf
from tokenwise.core.models.library import Library, LibraryError


def test_starter_is_listed_as_bundled_and_default(starter_model_path: Path) -> None:
    models = Library().list_models()
    assert [(m.name, m.source) for m in models] == [("SmolLM2-135M-Instruct", "bundled")]
    starter = models[0]
    assert starter.path == starter_model_path
    assert (starter.quantization, starter.context_length, starter.license) == (
        "Q4_1", 8192, "apache-2.0"
    )
    assert Library().default_model() == starter


def test_import_in_place_validates_and_keeps_the_file(tmp_path: Path) -> None:
    model_file = write_tiny_model(tmp_path / "Tiny-Q8_0.gguf")
    imported = Library().import_model(model_file, copy=False)
    assert (imported.source, imported.path, imported.copied) == ("imported", model_file, False)
    assert Library().get("Tiny-Q8_0").path == model_file
    assert Library().default_model() == imported  # a user's own model wins over the starter
    assert Library().remove("Tiny-Q8_0") == 0  # forgotten, not deleted: it is the user's file
    assert model_file.exists()
    assert [m.source for m in Library().list_models()] == ["bundled"]


def test_import_by_copy_then_remove_frees_the_space(tmp_path: Path) -> None:
    model_file = write_tiny_model(tmp_path / "Tiny.gguf")
    imported = Library().import_model(model_file, copy=True)
    assert imported.copied
    assert imported.path.parent == paths.models_dir() / "imported"
    assert imported.path.read_bytes() == model_file.read_bytes()
    freed = Library().remove(imported.name)
    assert freed == model_file.stat().st_size
    assert not imported.path.exists()


def test_import_refuses_broken_files(tmp_path: Path) -> None:
    html = tmp_path / "page.gguf"
    html.write_text("<html><body>404</body></html>")
    with pytest.raises(NotGGUFError):
        Library().import_model(html, copy=True)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(write_tiny_model(tmp_path / "whole.gguf").read_bytes()[:-100])
    with pytest.raises(TruncatedModelError):
        Library().import_model(cut, copy=False)
    assert [m.source for m in Library().list_models()] == ["bundled"]
    assert not list((paths.models_dir()).rglob("*.gguf"))


def test_importing_the_same_file_twice_lists_it_once(tmp_path: Path) -> None:
    model_file = write_tiny_model(tmp_path / "Tiny.gguf")
    Library().import_model(model_file, copy=False)
    Library().import_model(model_file, copy=False)
    assert len(Library().list_models()) == 2


def test_the_bundled_starter_cannot_be_removed() -> None:
    with pytest.raises(LibraryError, match="cannot be removed"):
        Library().remove("SmolLM2-135M-Instruct")


def test_moved_imported_file_is_listed_with_its_problem(tmp_path: Path) -> None:
    model_file = write_tiny_model(tmp_path / "Tiny.gguf")
    Library().import_model(model_file, copy=False)
    model_file.unlink()
    broken = Library().get("Tiny")
    assert not broken.usable
    assert "does not exist" in broken.problem
    assert Library().default_model().source == "bundled"  # type: ignore[union-attr]


def test_files_dropped_into_the_models_folder_are_found_partials_are_not(tmp_path: Path) -> None:
    folder = paths.models_dir() / "owner" / "Repo-GGUF"
    folder.mkdir(parents=True)
    write_tiny_model(folder / "model-Q8_0.gguf")
    hidden = paths.models_dir() / ".partial"
    hidden.mkdir()
    write_tiny_model(hidden / "half.gguf")
    names = {m.name: m for m in Library().list_models()}
    assert set(names) == {"SmolLM2-135M-Instruct", "model-Q8_0"}
    assert names["model-Q8_0"].repo_id == "owner/Repo-GGUF"
    assert names["model-Q8_0"].source == "downloaded"


def test_split_models_are_listed_once_with_their_total_size(tmp_path: Path) -> None:
    folder = paths.models_dir() / "owner" / "Split-GGUF"
    folder.mkdir(parents=True)
    first = write_tiny_model(folder / "big-00001-of-00002.gguf")
    second = write_tiny_model(folder / "big-00002-of-00002.gguf")
    models = [m for m in Library().list_models() if m.source == "downloaded"]
    assert [(m.name, m.size) for m in models] == [
        ("big", first.stat().st_size + second.stat().st_size)
    ]
    total = first.stat().st_size + second.stat().st_size
    assert Library().remove("big") == total
    assert not folder.exists()


def test_details_are_cached_and_refreshed_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_file = write_tiny_model(tmp_path / "Tiny.gguf")
    Library().import_model(model_file, copy=False)
    calls: list[Path] = []
    real = library_mod.inspect_gguf

    def counting(path: Path) -> object:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(library_mod, "inspect_gguf", counting)
    Library().list_models()
    assert calls == []  # everything came from the index
    from ggufwriter import tiny_model_metadata

    metadata = tiny_model_metadata()
    metadata["general.name"] = "Changed"
    write_tiny_model(model_file, metadata=metadata)
    os.utime(model_file, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert Library().get("Tiny").info.name == "Changed"  # type: ignore[union-attr]
    assert calls == [model_file]


def test_fifty_models_list_fast_from_the_cache(tmp_path: Path, starter_model_path: Path) -> None:
    root = paths.models_dir()
    for i in range(50):
        folder = root / f"owner{i}" / "Repo-GGUF"
        folder.mkdir(parents=True)
        write_tiny_model(folder / f"model{i}-Q8_0.gguf")
    assert len(Library().list_models()) == 51  # first listing parses and fills the cache
    began = time.perf_counter()
    models = Library().list_models()
    elapsed = time.perf_counter() - began
    assert len(models) == 51
    assert elapsed < 0.15, f"listing 51 cached models took {elapsed * 1000:.0f} ms"


def test_memory_estimate_for_the_starter(starter_model_path: Path) -> None:
    info = inspect_gguf(starter_model_path)
    # llama.cpp reports a 180 MiB f16 KV cache for this model at 8192 tokens:
    # 30 layers x 3 KV heads x (64 + 64) dims x 8192 positions x 2 bytes.
    assert kv_cache_bytes(info, 8192) == 180 * 1024 * 1024
    estimate = estimate_memory(info, 2048, probe_gpu=False)
    assert estimate.model_bytes == info.data_end - info.data_offset
    assert estimate.total > estimate.model_bytes + estimate.kv_bytes
    assert estimate.fits_ram in (True, False, None)
    assert "KV cache" in estimate.summary()


def test_index_survives_a_damaged_index_file(tmp_path: Path) -> None:
    model_file = write_tiny_model(tmp_path / "Tiny.gguf")
    Library().import_model(model_file, copy=True)
    library_mod.index_path().write_text("{not json")
    names = [m.name for m in Library().list_models()]
    assert "Tiny" in names  # the copy in the models folder is found again by the scan
    shutil.rmtree(paths.models_dir())
