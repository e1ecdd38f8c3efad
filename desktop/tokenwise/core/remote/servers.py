"""The servers the user added: name, base URL, CA certificate; the API key apart.

The list lives in ``servers.json`` in the config folder. An API key lives only in the secrets
store (the OS keyring, else a file only the user can read), under the server's id: never in
this file, the settings file, the chat database or the log.
"""

from __future__ import annotations

import json
import logging
import os
import secrets as random_ids
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tokenwise.core import paths, secrets
from tokenwise.core.remote.client import CONNECT_TIMEOUT_S, RemoteClient, normalise_url
from tokenwise.core.remote.probe import short_model_name

log = logging.getLogger(__name__)

FILE_NAME = "servers.json"
REMOTE_PREFIX = "remote:"  # a remote model's "path": remote:<server id>/<model id>


@dataclass(frozen=True, slots=True)
class ServerRecord:
    id: str
    name: str
    base_url: str
    ca_cert: str = ""  # a CA certificate file for a self-signed server
    post_sampling: bool = False  # llama-server: probabilities after its sampler chain

    @property
    def key_name(self) -> str:
        return f"server-api-key:{self.id}"

    def api_key(self) -> str | None:
        return secrets.get_secret(self.key_name)

    def client(self, *, api_key: str | None = None, timeout: float | None = None
               ) -> RemoteClient:
        key = api_key if api_key is not None else self.api_key()
        if timeout is None:
            return RemoteClient(self.base_url, api_key=key, ca_cert=self.ca_cert)
        return RemoteClient(self.base_url, api_key=key, ca_cert=self.ca_cert, timeout=timeout,
                            connect_timeout=min(timeout, CONNECT_TIMEOUT_S))

    def model_path(self, model: str) -> str:
        return f"{REMOTE_PREFIX}{self.id}/{model}"


def display_name(model: str) -> str:
    """A model id as the picker shows it: a GGUF path (llama-server's id) by its file name."""
    return short_model_name(model)


def new_record(name: str, base_url: str, ca_cert: str = "") -> ServerRecord:
    url = normalise_url(base_url)
    return ServerRecord(id=random_ids.token_hex(6), name=name.strip() or url, base_url=url,
                        ca_cert=ca_cert.strip())


def split_model_path(path: str) -> tuple[str, str] | None:
    """(server id, model id) of a remote model's path, None for a local one."""
    if not path.startswith(REMOTE_PREFIX):
        return None
    server_id, _, model = path[len(REMOTE_PREFIX):].partition("/")
    return (server_id, model) if server_id and model else None


def servers_path() -> Path:
    return paths.config_dir() / FILE_NAME


def load_servers(path: Path | None = None) -> list[ServerRecord]:
    path = path or servers_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("servers: cannot read %s (%s); no servers listed", path, type(exc).__name__)
        return []
    out = []
    for item in data.get("servers", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) \
                and isinstance(item.get("base_url"), str):
            out.append(ServerRecord(
                id=item["id"], name=str(item.get("name") or item["base_url"]),
                base_url=item["base_url"], ca_cert=str(item.get("ca_cert") or ""),
                post_sampling=bool(item.get("post_sampling", False))))
    return out


def save_servers(servers: list[ServerRecord], path: Path | None = None) -> None:
    """Replace the list atomically (no key in it: the record holds none)."""
    path = path or servers_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": 1, "servers": [asdict(s) for s in servers]}, indent=2)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def upsert(record: ServerRecord, api_key: str | None = None) -> list[ServerRecord]:
    """Add or replace ``record``; a given key is stored ("" forgets it, None keeps it)."""
    servers = [s for s in load_servers() if s.id != record.id]
    servers.append(replace(record, base_url=normalise_url(record.base_url)))
    save_servers(servers)
    if api_key is not None:
        if api_key:
            secrets.set_secret(record.key_name, api_key)
        else:
            secrets.delete_secret(record.key_name)
    log.info("servers: saved %s", record.name)
    return servers


def remove(server_id: str) -> list[ServerRecord]:
    servers = load_servers()
    gone = [s for s in servers if s.id == server_id]
    kept = [s for s in servers if s.id != server_id]
    save_servers(kept)
    for s in gone:
        secrets.delete_secret(s.key_name)
    return kept


def find(server_id: str) -> ServerRecord | None:
    return next((s for s in load_servers() if s.id == server_id), None)
