"""Fixtures for the engine tests: one loaded starter model per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def engine(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from tokenwise.core import paths
    from tokenwise.core.engine.local import Engine

    paths.set_base(tmp_path_factory.mktemp("engine-home"))
    eng = Engine(starter_model_path, n_ctx=2048)
    paths.set_base(None)
    yield eng
    eng.close()
