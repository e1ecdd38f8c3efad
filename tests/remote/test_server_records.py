"""Server records: the list in servers.json, the API key only in the secrets store (the
private file here: CI has no keyring), and never in a file or a log line."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import recorded

from replayserver import ReplayServer
from tokenwise.core import secrets
from tokenwise.core.remote import probe, servers

KEY = "sk-remote-4c1d9e77"


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    recorded.ollama(server)
    yield server
    server.stop()


def test_key_lives_only_in_the_secrets_store(replay: ReplayServer, tokenwise_home: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    record = servers.new_record("GPU box", replay.base_url + "/v1/")
    assert record.base_url == replay.base_url
    servers.upsert(record, api_key=KEY)
    assert servers.load_servers() == [record]
    assert KEY not in servers.servers_path().read_text()
    store = secrets.secrets_path()
    assert KEY in store.read_text()
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    loaded = servers.find(record.id)
    assert loaded is not None and loaded.api_key() == KEY
    with loaded.client() as client:
        assert probe(client).kind == "ollama"
    assert replay.log[-1].headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in caplog.text
    for path in tokenwise_home.rglob("*"):
        if path.is_file() and path != store:
            assert KEY.encode() not in path.read_bytes(), path
    servers.upsert(record, api_key="")  # an empty key forgets it
    assert loaded.api_key() is None
    servers.upsert(record, api_key=KEY)
    assert servers.remove(record.id) == []
    assert loaded.api_key() is None and not store.exists()


def test_remote_model_paths() -> None:
    record = servers.ServerRecord(id="ab12", name="box", base_url="http://h:1")
    path = record.model_path("org/model:7b")
    assert path == "remote:ab12/org/model:7b"
    assert servers.split_model_path(path) == ("ab12", "org/model:7b")
    assert servers.split_model_path("/models/x.gguf") is None


def test_a_damaged_list_reads_as_empty(tokenwise_home: Path) -> None:
    path = servers.servers_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert servers.load_servers() == []


def test_saved_servers_models_listed_and_a_dead_server_left_out(replay: ReplayServer) -> None:
    from llamaservers import free_port
    from tokenwise.core.remote import list_saved_models

    good = servers.new_record("box", replay.base_url)
    dead = servers.new_record("gone", f"http://127.0.0.1:{free_port()}")
    servers.upsert(good)
    servers.upsert(dead)
    assert list_saved_models(timeout=2.0) == [
        ("gemma3:latest", "box", good.model_path("gemma3:latest"))]
