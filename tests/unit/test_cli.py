"""The `tokenwise` command end to end, as a user's shell runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOKENWISE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tokenwise", *args], capture_output=True,
                          text=True, timeout=300, env=env, input=stdin, check=False)


def test_trace_json(tokenwise_home: Path) -> None:
    proc = _run("trace", "--prompt", "Say hello in French.", "--max-tokens", "12", "--seed",
                "1", "--temperature", "0.8", "--top-k", "20", "--json", "--show", "4",
                home=tokenwise_home)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    steps, final = lines[:-1], lines[-1]
    assert len(steps) == final["n_tokens"] <= 12
    for i, step in enumerate(steps):
        assert step["step"] == i
        assert {"token_id", "piece", "text", "prob", "rank", "entropy", "candidates",
                "stages"} <= step.keys()
        assert len(step["candidates"]) == 4
        assert [s["name"] for s in step["stages"]] == [
            "penalties", "top_k", "top_p", "min_p", "temperature"]
        assert step["stages"][1]["survivors"] == 20
    assert final["text"] == "".join(s["text"] for s in steps)
    assert final["stop_reason"] in {"eog", "max_tokens"}
    assert final["tokens_per_second"] > 0


def test_trace_table_and_tokenize(tokenwise_home: Path) -> None:
    proc = _run("trace", "-p", "Hi", "--max-tokens", "3", "--preset", "Greedy",
                home=tokenwise_home)
    assert proc.returncode == 0, proc.stderr
    assert "prob" in proc.stdout and "stopped:" in proc.stdout
    proc = _run("tokenize", "-", "--json", home=tokenwise_home, stdin="工作 <|im_start|>")
    tokens = json.loads(proc.stdout)
    assert tokens[0]["kind"] == "byte" and tokens[0]["builds"] == "工"
    assert tokens[-1]["kind"] == "special"


def test_info_json(tokenwise_home: Path) -> None:
    proc = _run("info", "starter", "--json", "--load", home=tokenwise_home)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["quantization"] == "Q4_1" and info["vocab_size"] == 49152
    assert info["backend"] in {"CPU", "CUDA", "Metal", "Vulkan", "ROCm", "SYCL"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("info", "/no/such/model.gguf"), "does not exist"),
        (("trace", "-p", "x", "--top-p", "0"), "top-p"),
        (("trace", "-p", "x", "--model", "/etc/hostname"), "GGUF"),
    ],
)
def test_bad_input_is_one_clear_line(tokenwise_home: Path, args: tuple[str, ...],
                                     message: str) -> None:
    proc = _run(*args, home=tokenwise_home)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
