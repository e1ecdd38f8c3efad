"""`tokenwise models ...` end to end in real processes against the loopback hub server:
kill a download midway, resume it in a new process, then load and run the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubserver import STARTER_REPO, HubServer, serving_starter
from tokenwise.core.models.library import Library


@pytest.fixture
def hub_server(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serving_starter(starter_model_path) as server:
        yield server


def _cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenwise", "models", *args],
        capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def test_killed_download_resumes_in_a_new_process_and_the_model_runs(
    hub_server: HubServer, starter_model_path: Path
) -> None:
    name = starter_model_path.name
    size = starter_model_path.stat().st_size
    hub_server.faults.hold_after = 20_000_000
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenwise", "models", "download", STARTER_REPO, name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        assert hub_server.wait_for_bytes(name, 20_000_000, timeout=60)
    finally:
        proc.kill()
        proc.communicate()
        hub_server.faults.release.set()
    assert proc.returncode != 0
    first = hub_server.gets(name)[0]
    assert first.bytes_sent < size

    hub_server.faults.hold_after = None
    listed = _cli("list")
    assert "unfinished download" in listed.stdout
    done = _cli("download", STARTER_REPO, name)
    assert done.returncode == 0, done.stderr
    assert "ready:" in done.stdout
    second = hub_server.gets(name)[-1]
    assert second.status == 206
    assert second.range_start is not None and second.range_start > 0
    assert second.range_start + second.bytes_sent == size
    assert second.bytes_sent < size  # only the rest travelled

    model = next(m for m in Library().list_models() if m.source == "downloaded")
    assert model.path.read_bytes() == starter_model_path.read_bytes()

    from tokenwise.core.engine.local import Engine
    from tokenwise.core.interface import GenerationRequest
    from tokenwise.core.sampling.settings import SamplerSettings

    engine = Engine(model.path, n_ctx=256, n_gpu_layers=0)
    try:
        prompt = engine.token_ids("The capital of France is", add_special=True)
        steps = list(engine.generate(GenerationRequest(
            prompt, SamplerSettings(temperature=0.0, max_tokens=6)
        )))
    finally:
        engine.close()
    assert 1 <= len(steps) <= 6
    assert "".join(s.text for s in steps).strip()


def test_cli_search_files_list_info_remove(hub_server: HubServer, starter_model_path: Path) -> None:
    found = _cli("search", "smol")
    assert found.returncode == 0
    assert STARTER_REPO in found.stdout
    files = _cli("files", STARTER_REPO)
    assert starter_model_path.name in files.stdout
    assert "Q4_1" in files.stdout
    assert _cli("download", STARTER_REPO).returncode == 0  # the repository's only model
    records = json.loads(_cli("list", "--json").stdout)
    downloaded = [r for r in records if r["source"] == "downloaded"]
    assert [r["repo_id"] for r in downloaded] == [STARTER_REPO]
    name = downloaded[0]["name"]
    info = json.loads(_cli("info", name, "--json").stdout)
    assert info["vocab_size"] == 49152
    assert info["kv_cache_bytes"] > 0
    refused = _cli("remove", name)  # not a terminal: needs --yes
    assert refused.returncode == 2  # as every error of the command line
    assert "--yes" in refused.stderr
    removed = _cli("remove", name, "--yes")
    assert removed.returncode == 0
    assert "98 MB freed" in removed.stdout
    assert not Path(downloaded[0]["path"]).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("download", STARTER_REPO, "missing-Q4_K_M.gguf"), "not found"),
        (("download", STARTER_REPO, "../escape.gguf"), "outside the models folder"),
        (("info", "no-such-model"), "No installed model"),
        (("import", "/nonexistent/model.gguf"), "does not exist"),
        (("remove", "SmolLM2-135M-Instruct", "--yes"), "cannot be removed"),
    ],
)
def test_cli_errors_are_one_clear_line(
    hub_server: HubServer, args: tuple[str, ...], message: str
) -> None:
    result = _cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
