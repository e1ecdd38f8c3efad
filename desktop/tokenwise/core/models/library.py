"""The local model library: the bundled starter, downloads and imports, with cached details.

The index is one small JSON file in the data folder. It records imported models by path
(they may live anywhere) and caches each file's GGUF header summary keyed by path, size
and modification time, so listing fifty models reads one file instead of fifty headers.
Downloaded models are found by scanning the models folder, so a download that finished
just before a crash is still listed; partial and quarantined files live in hidden folders
that are never scanned.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

from tokenwise.core import paths
from tokenwise.core.errors import ModelFileError, ModelNotFoundError, TokenwiseError
from tokenwise.core.formatting import format_size
from tokenwise.core.i18n import _
from tokenwise.core.models import safenames
from tokenwise.core.models.gguf import ArrayInfo, GGUFInfo, inspect_gguf
from tokenwise.core.models.hub import SPLIT_RE
from tokenwise.core.models.starter import STARTER_NAME, starter_model_path

INDEX_VERSION = 1
SOURCES = ("bundled", "downloaded", "imported")


COPY_CHUNK = 16 << 20  # an import's copy reports progress and checks cancel this often

CopyProgress = Callable[[int, int], None]  # bytes copied, bytes in all


class LibraryError(TokenwiseError):
    pass


class ImportCancelled(LibraryError):
    pass


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    path: Path
    size: int
    quantization: str
    context_length: int
    license: str
    source: str  # "bundled" | "downloaded" | "imported"
    repo_id: str
    filename: str
    info: GGUFInfo | None  # None when the file is missing or broken: see ``problem``
    problem: str = ""
    copied: bool = False  # imported by copying into the models folder
    added: float = 0.0

    @property
    def usable(self) -> bool:
        return self.info is not None and not self.problem


def index_path() -> Path:
    return paths.data_dir() / "library.json"


def _info_to_json(info: GGUFInfo) -> dict[str, object]:
    data = {f.name: getattr(info, f.name) for f in fields(info)}
    data["metadata"] = {
        key: {"__array__": [value.type, value.length]} if isinstance(value, ArrayInfo) else value
        for key, value in info.metadata.items()
    }
    return data


def _info_from_json(data: dict[str, object]) -> GGUFInfo:
    raw_meta = data.get("metadata")
    metadata: dict[str, object] = {}
    if isinstance(raw_meta, dict):
        for key, value in raw_meta.items():
            if isinstance(value, dict) and "__array__" in value:
                kind, length = value["__array__"]
                metadata[key] = ArrayInfo(str(kind), int(length))
            else:
                metadata[key] = value
    return GGUFInfo(**{**data, "metadata": metadata})  # type: ignore[arg-type]


class Library:
    """The models a user has: list, look up, import, remove. No Qt, safe to use from a CLI."""

    def __init__(self) -> None:
        self._index = self._load()
        self._dirty = False

    def reload(self) -> None:
        """Read the index again (another Library changed it: an import, a download)."""
        self._index = self._load()

    # ----- index -------------------------------------------------------------------------
    def _load(self) -> dict[str, object]:
        try:
            data = json.loads(index_path().read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == INDEX_VERSION:
                data.setdefault("models", [])
                data.setdefault("cache", {})
                return data
        except (OSError, ValueError):
            pass
        return {"version": INDEX_VERSION, "models": [], "cache": {}}

    def _save(self) -> None:
        target = index_path()
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._index), encoding="utf-8")
        os.replace(tmp, target)

    @property
    def _records(self) -> list[dict[str, object]]:
        return self._index["models"]  # type: ignore[return-value]

    @property
    def _cache(self) -> dict[str, dict[str, object]]:
        return self._index["cache"]  # type: ignore[return-value]

    def inspect(self, path: Path) -> GGUFInfo:
        """The GGUF summary of ``path``, from the cache when the file has not changed."""
        try:
            st = path.stat()
        except OSError:
            return inspect_gguf(path)  # raises the error that explains what is wrong
        key = str(path)
        entry = self._cache.get(key)
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            try:
                return _info_from_json(entry["info"])  # type: ignore[arg-type]
            except (TypeError, ValueError, KeyError):
                pass
        info = inspect_gguf(path)
        self._cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                            "info": _info_to_json(info)}
        self._dirty = True
        return info

    # ----- listing -----------------------------------------------------------------------
    def list_models(self) -> list[InstalledModel]:
        """Every model: the starter first, then the others by name."""
        self._dirty = False
        models: list[InstalledModel] = []
        with contextlib.suppress(ModelNotFoundError):
            models.append(self._entry(starter_model_path(), "bundled", name=STARTER_NAME))
        recorded: set[str] = set()
        for record in self._records:
            path = Path(str(record["path"]))
            recorded.add(str(path))
            models.append(
                self._entry(
                    path,
                    str(record.get("source", "imported")),
                    repo_id=str(record.get("repo_id", "")),
                    filename=str(record.get("filename", path.name)),
                    copied=bool(record.get("copied", False)),
                    added=float(record.get("added", 0.0)),  # type: ignore[arg-type]
                )
            )
        for path in self._scan_downloads():
            if str(path) not in recorded:
                rel = path.relative_to(paths.models_dir())
                repo_id = "/".join(rel.parts[:2]) if len(rel.parts) >= 3 else ""
                models.append(
                    self._entry(path, "downloaded", repo_id=repo_id, filename=path.name,
                                added=path.stat().st_mtime)
                )
        if self._dirty:
            self._drop_stale_cache()
            self._save()
        return self._unique_names(models)

    def _scan_downloads(self) -> list[Path]:
        root = paths.models_dir()
        found = []
        for path in root.rglob("*.gguf"):
            rel = path.relative_to(root)
            if rel.parts[0].startswith(".") or not path.is_file():
                continue
            split = SPLIT_RE.match(path.name)
            if split and int(split["index"]) != 1:
                continue  # later parts of a split model travel with the first
            found.append(path)
        return sorted(found)

    def _entry(self, path: Path, source: str, *, name: str = "", repo_id: str = "",
               filename: str = "", copied: bool = False, added: float = 0.0) -> InstalledModel:
        display = name or _display_name(path)
        try:
            info = self.inspect(path)
            size = _total_size(path)
            problem = ""
            if SPLIT_RE.match(path.name) and size == info.file_size:
                count = int(SPLIT_RE.match(path.name)["count"])  # type: ignore[index]
                if count > 1:
                    problem = _("Only the first of its {count} parts is here: download the "
                                "rest.").format(count=count)
            return InstalledModel(display, path, size, info.quantization, info.context_length,
                                  info.license, source, repo_id, filename or path.name, info,
                                  problem, copied, added)
        except (ModelFileError, OSError) as exc:
            message = (str(exc) if isinstance(exc, ModelFileError)
                       else _("Cannot read: {error}").format(error=exc))
            return InstalledModel(display, path, 0, "", 0, "", source, repo_id,
                                  filename or path.name, None, message, copied, added)

    def _drop_stale_cache(self) -> None:
        for key in [k for k in self._cache if not Path(k).exists()]:
            del self._cache[key]

    @staticmethod
    def _unique_names(models: list[InstalledModel]) -> list[InstalledModel]:
        seen: dict[str, int] = {}
        result = []
        for model in models:
            count = seen.get(model.name.lower(), 0) + 1
            seen[model.name.lower()] = count
            if count > 1:
                model = replace(model, name=f"{model.name} ({count})")
            result.append(model)
        return result

    # ----- lookup ------------------------------------------------------------------------
    def get(self, name: str) -> InstalledModel:
        """A model by its name, file name or path (names are matched without case)."""
        models = self.list_models()
        wanted = name.strip().lower()
        for test in (
            lambda m: m.name.lower() == wanted,
            lambda m: m.filename.lower() == wanted or m.path.name.lower() == wanted,
            lambda m: str(m.path) == name or _same_file(m.path, name),
        ):
            matches = [m for m in models if test(m)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise LibraryError(
                    _("{name} matches {count} models; use one of: {names}").format(
                        name=repr(name), count=len(matches),
                        names=", ".join(m.name for m in matches))
                )
        raise LibraryError(
            _("No installed model is called {name}. `tokenwise models list` shows the "
              "installed models.").format(name=repr(name))
        )

    def default_model(self) -> InstalledModel | None:
        """The model to open when the user has not chosen one: the newest usable download
        or import, else the bundled starter."""
        models = [m for m in self.list_models() if m.usable]
        others = sorted((m for m in models if m.source != "bundled"), key=lambda m: -m.added)
        if others:
            return others[0]
        return next((m for m in models if m.source == "bundled"), None)

    # ----- changes -----------------------------------------------------------------------
    def record_download(self, path: Path, repo_id: str, filename: str, sha256: str | None) -> None:
        """Remember where a verified download came from (the scan would find it anyway)."""
        self._forget_path(path)
        self._records.append({"path": str(path), "source": "downloaded", "repo_id": repo_id,
                              "filename": filename, "sha256": sha256, "added": time.time()})
        self._save()

    def import_model(self, path: str | os.PathLike[str], copy: bool, *,
                     progress: CopyProgress | None = None,
                     cancel: threading.Event | None = None) -> InstalledModel:
        """Validate a local .gguf, then link it in place or copy it into the models folder.

        A copy reports ``progress`` and stops at ``cancel`` (ImportCancelled; nothing kept).
        """
        source = Path(path).expanduser()
        info = inspect_gguf(source)  # raises with a clear message for anything unusable
        source = source.resolve()
        for model in self.list_models():
            if _same_file(model.path, str(source)):
                return model
        if copy:
            folder = paths.models_dir() / "imported"
            folder.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(folder).free
            if info.file_size > free:
                raise LibraryError(
                    _("Not enough free disk space to copy {name} ({size}; {free} free). Import "
                      "it in place instead, or free some space.").format(
                        name=source.name, size=format_size(info.file_size),
                        free=format_size(free))
                )
            target = _free_name(folder / safenames.safe_import_name(source.name))
            tmp = target.with_name(f".{target.name}.copying")
            safenames.check_inside(paths.models_dir(), tmp)
            try:
                _copy_file(source, tmp, progress, cancel)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            stored = target
        else:
            stored = source
        self._records.append({"path": str(stored), "source": "imported", "repo_id": "",
                              "filename": source.name, "copied": copy, "added": time.time()})
        self._save()
        return next(m for m in self.list_models() if _same_file(m.path, str(stored)))

    def remove(self, name: str) -> int:
        """Forget a model and delete the files Tokenwise owns; returns the bytes freed.

        A model imported in place stays on disk (it is the user's file): only forgotten."""
        model = self.get(name)
        if model.source == "bundled":
            raise LibraryError(
                _("The bundled starter model is part of Tokenwise and cannot be removed.")
            )
        freed = 0
        owned = model.source == "downloaded" or model.copied
        if owned:
            for part in _all_parts(model.path):
                try:
                    freed += part.stat().st_size
                    part.unlink()
                except FileNotFoundError:
                    pass
            _prune_empty_dirs(model.path.parent, paths.models_dir())
        self._forget_path(model.path)
        self._cache.pop(str(model.path), None)
        self._save()
        return freed

    def _forget_path(self, path: Path) -> None:
        self._index["models"] = [r for r in self._records if r.get("path") != str(path)]


def _copy_file(source: Path, target: Path, progress: CopyProgress | None,
               cancel: threading.Event | None) -> None:
    total = source.stat().st_size
    done = 0
    buffer = memoryview(bytearray(COPY_CHUNK))
    with source.open("rb") as src, target.open("wb") as dst:
        while True:
            if cancel is not None and cancel.is_set():
                raise ImportCancelled(_("The import of {name} was cancelled.").format(
                    name=source.name))
            n = src.readinto(buffer)
            if not n:
                break
            dst.write(buffer[:n])
            done += n
            if progress is not None:
                progress(done, total)


def _display_name(path: Path) -> str:
    split = SPLIT_RE.match(path.name)
    return split["stem"] if split else path.stem


def _all_parts(path: Path) -> list[Path]:
    split = SPLIT_RE.match(path.name)
    if not split:
        return [path]
    count = int(split["count"])
    return [path.with_name(f"{split['stem']}-{i:05d}-of-{count:05d}.gguf")
            for i in range(1, count + 1)]


def _total_size(path: Path) -> int:
    return sum(p.stat().st_size for p in _all_parts(path) if p.exists())


def _same_file(path: Path, other: str) -> bool:
    try:
        return path.resolve() == Path(other).expanduser().resolve()
    except OSError:
        return False


def _free_name(target: Path) -> Path:
    n = 2
    candidate = target
    while candidate.exists():
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        n += 1
    return candidate


def _prune_empty_dirs(folder: Path, root: Path) -> None:
    root = root.resolve()
    folder = folder.resolve()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def model_record(model: InstalledModel) -> dict[str, object]:
    """A JSON-ready summary (for `tokenwise models list --json`)."""
    data: dict[str, object] = {
        f.name: getattr(model, f.name) for f in fields(model) if f.name != "info"
    }
    data["path"] = str(model.path)
    if model.info is not None:
        info = model.info
        data.update(architecture=info.architecture, parameters=info.parameters,
                    layers=info.layers, vocab_size=info.vocab_size,
                    has_chat_template=info.chat_template is not None)
    return data
