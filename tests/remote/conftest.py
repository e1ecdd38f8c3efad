"""Real servers on loopback with the starter model, started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llamaservers import (
    TEST_API_KEY,
    RunningServer,
    llama_cpp_python_server_missing,
    llama_server_binary,
    start_llama_cpp_python,
    start_llama_server,
)


def _need_llama_server() -> None:
    if llama_server_binary() is None:
        pytest.skip("llama-server is not built here: run tests/servers/build_llama_server.sh "
                    "(.ci/run does)")


@pytest.fixture(scope="session")
def llama_server(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[RunningServer]:
    _need_llama_server()
    server = start_llama_server(starter_model_path, tmp_path_factory.mktemp("llama-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keyed_llama_server(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[RunningServer]:
    _need_llama_server()
    server = start_llama_server(starter_model_path, tmp_path_factory.mktemp("keyed"),
                                api_key=TEST_API_KEY)
    yield server
    server.stop()


@pytest.fixture
def doomed_llama_server(starter_model_path: Path, tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own, for a test that kills it."""
    _need_llama_server()
    server = start_llama_server(starter_model_path, tmp_path / "doomed")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local(engine: Any) -> Any:
    """The local engine on the same model: what each server's replies are held to."""
    return engine


@pytest.fixture(scope="session")
def lcp_server(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[RunningServer]:
    """llama-cpp-python's server (--logits_all true, flash attention on)."""
    missing = llama_cpp_python_server_missing()
    if missing:
        pytest.skip(missing)
    server = start_llama_cpp_python(starter_model_path,
                                    tmp_path_factory.mktemp("llama-cpp-python"))
    yield server
    server.stop()


@pytest.fixture
def store_reader(tokenwise_home: Path) -> Iterator[object]:
    """Opens the window's database from the test (after the window flushed its writes)."""
    from tokenwise.core.chat.store import ChatStore

    opened: list[ChatStore] = []

    def open_store() -> ChatStore:
        store = ChatStore()
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()
