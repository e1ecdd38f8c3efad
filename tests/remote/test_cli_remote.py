"""`tokenwise trace --server URL` end to end, as a user's shell runs it, against llama-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llamaservers import TEST_API_KEY, RunningServer


def _run(*args: str, home: Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "TOKENWISE_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "tokenwise", *args], capture_output=True,
                          text=True, timeout=300, env=full, check=False)


def _lines(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_remote_trace_prints_the_local_json_lines(llama_server: RunningServer,
                                                  tokenwise_home: Path) -> None:
    common = ("trace", "--prompt", "Say hello in French.", "--preset", "Greedy",
              "--max-tokens", "10", "--json", "--show", "3")
    local = _lines(_run(*common, home=tokenwise_home))
    remote = _lines(_run(*common, "--server", llama_server.base_url, home=tokenwise_home))
    assert [s["token_id"] for s in remote[:-1]] == [s["token_id"] for s in local[:-1]]
    for mine, theirs in zip(local[:-1], remote[:-1], strict=True):
        assert set(theirs) == set(mine)  # the same fields ...
        assert abs(theirs["prob"] - mine["prob"]) <= 2e-3
        assert theirs["entropy"] is None and theirs["logit"] is None  # ... unknown ones null
        assert theirs["stages"] == []
        assert len(theirs["candidates"]) == 3
    final = remote[-1]
    assert final["text"] == local[-1]["text"]
    assert final["vocabulary_pass"] is None
    assert "before sampling" in final["probabilities"]
    assert final["sampler_honoured"]["temperature"] == 0


def test_key_from_the_environment_or_the_secrets_store(keyed_llama_server: RunningServer,
                                                       tokenwise_home: Path) -> None:
    args = ("trace", "--prompt", "Hi", "--preset", "Greedy", "--max-tokens", "2", "--json",
            "--server", keyed_llama_server.base_url)
    refused = _run(*args, home=tokenwise_home)
    assert refused.returncode == 2 and "refused the API key" in refused.stderr
    unset = _run(*args, "--api-key-env", "TW_TEST_NO_SUCH_VAR", home=tokenwise_home)
    assert unset.returncode == 2 and "TW_TEST_NO_SUCH_VAR is not set" in unset.stderr
    assert len(_lines(_run(*args, "--api-key-env", "TW_KEY", home=tokenwise_home,
                           env={"TW_KEY": TEST_API_KEY}))) == 3
    # a server saved in the app: its key comes from the secrets store
    saved = subprocess.run(
        [sys.executable, "-c", "import sys; from tokenwise.core.remote import servers; "
         "servers.upsert(servers.new_record('box', sys.argv[1]), api_key=sys.argv[2])",
         keyed_llama_server.base_url, TEST_API_KEY],
        env={**os.environ, "TOKENWISE_HOME": str(tokenwise_home)}, check=True)
    assert saved.returncode == 0
    assert len(_lines(_run(*args, home=tokenwise_home))) == 3
    given = _run(*args, "--api-key", TEST_API_KEY, home=tokenwise_home)
    assert given.returncode == 2 and "--api-key is not accepted" in given.stderr
    assert TEST_API_KEY not in given.stderr + given.stdout
