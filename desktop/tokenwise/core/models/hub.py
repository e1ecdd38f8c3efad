"""Search the Hugging Face hub for GGUF models and list a repository's GGUF files.

Everything goes through huggingface_hub's own client, so a user's login, proxies and
HF_ENDPOINT work as they do for the hub's own tools. HF_ENDPOINT is read at call time,
not at import, so the same process can be pointed at a test server. Hub failures are
turned into :class:`HubError` subclasses whose messages say what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tokenwise.core import i18n, paths, secrets
from tokenwise.core.errors import TokenwiseError
from tokenwise.core.models import safenames

#: a part of a split model: "<stem>-00001-of-00003.gguf"
SPLIT_RE = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.I)
QUANT_RE = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d(?:_[0-9A-Z]+)*|F16|F32|BF16|TQ\d_\d|MXFP4(?:_MOE)?)(?![A-Za-z0-9])",
    re.I,
)
DEFAULT_TIMEOUT_S = 15.0
TOKEN_SECRET = "huggingface-token"  # the name of the hub token in the secrets store


class HubError(TokenwiseError):
    """The hub could not answer as asked."""


class HubOfflineError(HubError):
    pass


class HubAuthError(HubError):
    """401/403: a private or gated repository, or a token without access."""


class HubNotFoundError(HubError):
    pass


class UnsafeFileNameError(HubError):
    """A file name from a listing that would escape the models folder."""


class InvalidRepoIdError(HubError):
    """Not a repository id of the form owner/name."""


@dataclass(frozen=True, slots=True)
class HubRepo:
    repo_id: str
    downloads: int
    likes: int
    gated: bool
    last_modified: str


@dataclass(frozen=True, slots=True)
class HubFile:
    filename: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class HubModelFile:
    """One model in a repository: a single .gguf, or the parts of a split one."""

    repo_id: str
    name: str  # the file name, or for a split model its stem with "(N parts)"
    quantization: str
    parts: tuple[HubFile, ...]

    @property
    def size(self) -> int | None:
        sizes = [part.size for part in self.parts]
        return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)

    @property
    def first_filename(self) -> str:
        return self.parts[0].filename


def endpoint() -> str:
    """The hub's address: HF_ENDPOINT now, else the library's default."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def is_offline_mode() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.upper() in {"1", "ON", "YES", "TRUE"}


def offline_mode_error() -> HubOfflineError:
    return HubOfflineError(
        "Tokenwise is in offline mode (HF_HUB_OFFLINE is set): the hub cannot be searched "
        "and nothing can be downloaded. Installed models still work."
    )


def _old_token_path() -> Path:
    """Where Tokenwise 0.1 kept the token, in plain text."""
    return paths.config_dir() / "hub-token"


def _move_old_token() -> None:
    """Move a token from the plain-text file of earlier versions into the secrets store."""
    path = _old_token_path()
    try:
        old = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable: left alone, and never sent
    if old and secrets.get_secret(TOKEN_SECRET) is None:
        secrets.set_secret(TOKEN_SECRET, old)
    path.unlink(missing_ok=True)


def saved_token() -> str | None:
    """A token entered in Tokenwise, which wins over huggingface_hub's own login."""
    _move_old_token()
    return secrets.get_secret(TOKEN_SECRET)


def save_token(token: str | None) -> None:
    """Keep ``token`` in the secrets store; empty or None forgets it."""
    _move_old_token()
    token = (token or "").strip()
    if token:
        secrets.set_secret(TOKEN_SECRET, token)
    else:
        secrets.delete_secret(TOKEN_SECRET)


def token() -> str | None:
    """The token to send: Tokenwise's own, else huggingface_hub's login (None lets it look)."""
    return saved_token()


def check_repo_id(repo_id: str) -> str:
    """The one check of a repository id: the hub's own rules, and the owner/name form that
    the models folder is laid out by (``<models>/<owner>/<name>/``)."""
    from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]

    try:
        validate_repo_id(repo_id)
        if not isinstance(repo_id, str) or repo_id.count("/") != 1:
            raise ValueError(repo_id)
        if safenames.name_problem(repo_id):  # owner and name become folders
            raise ValueError(repo_id)
    except ValueError:
        raise InvalidRepoIdError(
            f"{repo_id!r} is not a hub repository id: it should look like owner/name."
        ) from None
    return repo_id


def check_filename(filename: str) -> str:
    """Refuse names from a listing that would write outside the models folder."""
    problem = safenames.name_problem(filename) if isinstance(filename, str) else "not text"
    if problem:
        raise UnsafeFileNameError(
            f"The hub listed a file named {filename!r} ({problem}): as it stands it could be "
            "written outside the models folder, or not at all on some systems. Tokenwise "
            "refuses it; choose another file or repository."
        )
    if not filename.lower().endswith(".gguf"):
        raise UnsafeFileNameError(
            f"{filename} is not a .gguf file. Tokenwise downloads GGUF models only."
        )
    return filename


def quantization_from_name(filename: str) -> str:
    """Q4_K_M from "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"; "" when the name does not say."""
    stem = PurePosixPath(filename).name
    found = QUANT_RE.findall(stem.replace(".gguf", "").replace(".", "-"))
    return found[-1].upper() if found else ""


def group_gguf_files(repo_id: str, files: Iterable[HubFile]) -> list[HubModelFile]:
    """Group split files (-00001-of-00003) into one model; drop non-GGUF files."""
    singles: list[HubModelFile] = []
    splits: dict[tuple[str, str], list[tuple[int, HubFile]]] = {}
    for file in files:
        if not file.filename.lower().endswith(".gguf"):
            continue
        match = SPLIT_RE.match(file.filename)
        if match:
            key = (match["stem"], match["count"])
            splits.setdefault(key, []).append((int(match["index"]), file))
        else:
            quant = quantization_from_name(file.filename)
            singles.append(HubModelFile(repo_id, file.filename, quant, (file,)))
    for (stem, count), indexed in splits.items():
        parts = tuple(f for _, f in sorted(indexed, key=lambda pair: pair[0]))
        name = f"{PurePosixPath(stem).name} ({int(count)} parts)"
        if len(parts) != int(count):
            name += f", only {len(parts)} listed"
        singles.append(HubModelFile(repo_id, name, quantization_from_name(stem), parts))
    return sorted(singles, key=lambda m: (m.size is None, m.size or 0, m.name))


def translate_error(exc: BaseException, what: str) -> HubError:
    """Turn a huggingface_hub / httpx error into a message a user can act on."""
    import httpx2
    from huggingface_hub import errors as hf_errors

    page = f"{endpoint()}/{what}" if "/" in what else endpoint()
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return offline_mode_error()
    if isinstance(exc, hf_errors.GatedRepoError):
        return HubAuthError(
            f"{what} is a gated model: open {page} while logged in, accept its license, "
            "then enter your access token in Tokenwise (or run `hf auth login`) and try again."
        )
    if isinstance(exc, hf_errors.RepositoryNotFoundError | hf_errors.RemoteEntryNotFoundError):
        status = exc.response.status_code if exc.response is not None else 404
        return HubNotFoundError(
            f"{what} was not found on the hub ({status}). Check the spelling of the repository "
            "and file name; the file may have been renamed or removed. If the repository is "
            "private, give Tokenwise an access token that may read it."
        )
    if isinstance(exc, hf_errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return HubAuthError(
                f"The hub refused access to {what} ({status}). It is private or gated: accept "
                f"the license on {page} while logged in, and give Tokenwise an access token "
                "that may read it."
            )
        if status == 404:
            return HubNotFoundError(
                f"{what} was not found on the hub (404). Check the spelling of the repository "
                "and file name; the file may have been renamed or removed."
            )
        return HubError(f"The hub answered {status} for {what}. Try again in a moment.")
    if isinstance(exc, httpx2.TimeoutException):
        return HubOfflineError(
            f"The hub did not answer in time while fetching {what}. Check your connection "
            "and try again."
        )
    if isinstance(exc, httpx2.TransportError | ConnectionError):
        return HubOfflineError(
            f"Cannot reach the hub ({endpoint()}): you seem to be offline. Installed models "
            "still work; search and downloads need a connection."
        )
    return HubError(f"Talking to the hub about {what} failed: {exc}")


def _get_json(path: str, params: dict[str, str | int], what: str) -> object:
    """One GET to the hub's API with huggingface_hub's session, headers and error types.

    HfApi's own calls retry a refused connection for about 20 s; a search box must say
    "offline" at once, so the request is made here, once, with a short timeout.
    """
    if is_offline_mode():
        raise offline_mode_error()
    from huggingface_hub import get_session, hf_raise_for_status
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    try:
        response = get_session().get(
            f"{endpoint()}{path}", params=params, headers=build_hf_headers(token=token()),
            timeout=DEFAULT_TIMEOUT_S,
        )
        hf_raise_for_status(response)
        return response.json()
    except Exception as exc:
        raise translate_error(exc, what) from None


def search_models(text: str, *, limit: int = 30) -> list[HubRepo]:
    """GGUF repositories matching ``text``, most downloaded first."""
    from huggingface_hub.hf_api import ModelInfo

    params: dict[str, str | int] = {"filter": "gguf", "sort": "downloads", "limit": limit}
    if text.strip():
        params["search"] = text.strip()
    found = _get_json("/api/models", params, "search")
    if not isinstance(found, list):
        raise HubError("The hub answered the search with something unexpected. Try again.")
    repos = []
    for item in found:
        m = ModelInfo(**item)
        repos.append(HubRepo(m.id, int(m.downloads or 0), int(m.likes or 0), bool(m.gated),
                             str(m.last_modified or "")))
    return repos


def list_repo_files(repo_id: str, *, revision: str | None = None) -> list[HubFile]:
    """Every file of a repository with its size and LFS sha256."""
    from huggingface_hub.hf_api import ModelInfo

    check_repo_id(repo_id)
    path = f"/api/models/{repo_id}"
    if revision:
        from urllib.parse import quote

        path += f"/revision/{quote(revision, safe='')}"
    data = _get_json(path, {"blobs": "true"}, repo_id)
    if not isinstance(data, dict):
        raise HubError(f"The hub answered with something unexpected for {repo_id}.")
    info = ModelInfo(**data)
    files = []
    for sibling in info.siblings or []:
        sha = sibling.lfs.sha256 if sibling.lfs is not None else None
        size = sibling.lfs.size if sibling.lfs is not None else sibling.size
        files.append(HubFile(sibling.rfilename, size, sha))
    return files


def list_gguf_models(repo_id: str, *, revision: str | None = None) -> list[HubModelFile]:
    """A repository's GGUF models, split files grouped, smallest first."""
    return group_gguf_files(repo_id, list_repo_files(repo_id, revision=revision))


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A curated model, kept as data in resources/catalogue.json."""

    id: str
    name: str
    family: str
    repo_id: str
    files: tuple[str, ...]
    quantization: str
    size_bytes: int | None
    approx_size_mb: int | None
    parameters: int
    license: str
    context_length: int
    description: str
    checked: str
    sha256: str | None = None

    @property
    def approx_size(self) -> int | None:
        if self.size_bytes is not None:
            return self.size_bytes
        return self.approx_size_mb * 1_000_000 if self.approx_size_mb else None


def load_catalogue(path: Path | None = None) -> list[CatalogueEntry]:
    """The curated catalogue; its file names are checked like any hub listing."""
    import json

    source = path or paths.resources_dir() / "catalogue.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    entries = []
    language = i18n.language()
    for raw in data["models"]:
        # descriptions in other languages sit beside the English one: description_zh_CN
        fields = {k: v for k, v in raw.items() if not k.startswith("description_")}
        fields["description"] = raw.get(f"description_{language}") or raw["description"]
        entry = CatalogueEntry(**{**fields, "files": tuple(raw["files"])})
        check_repo_id(entry.repo_id)
        for name in entry.files:
            check_filename(name)
        entries.append(entry)
    return entries


def find_catalogue_entry(name: str) -> CatalogueEntry | None:
    wanted = name.strip().lower()
    for entry in load_catalogue():
        if wanted in (entry.id.lower(), entry.name.lower()):
            return entry
    return None
