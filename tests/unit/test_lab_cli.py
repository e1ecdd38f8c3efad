"""`tokenwise compare` and `tokenwise score` end to end, as a user's shell runs them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOKENWISE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tokenwise", *args], capture_output=True,
                          text=True, timeout=600, env=env, check=False)


def test_compare_json(tokenwise_home: Path) -> None:
    proc = _run("compare", "--prompt", "Why is the sky blue?", "--strategies",
                "greedy,beam:4,top-p:0.9,temp:0.8,top-k:40,min-p:0.05", "--max-tokens", "16",
                "--seed", "3", "--json", home=tokenwise_home)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["strategy"] for r in rows] == ["greedy", "beam:4", "top-p:0.9", "temp:0.8",
                                             "top-k:40", "min-p:0.05"]
    for r in rows:
        assert {"text", "token_ids", "logprobs", "total_logprob", "perplexity",
                "seconds"} <= r.keys()
        assert 0 < len(r["token_ids"]) == len(r["logprobs"]) <= 16
        assert r["total_logprob"] == pytest.approx(math.fsum(r["logprobs"]))
        assert r["perplexity"] == pytest.approx(
            math.exp(-r["total_logprob"] / len(r["logprobs"])))
        assert all(lp <= 0 for lp in r["logprobs"])
    sampled = {r["strategy"]: r for r in rows[2:]}
    assert all(r["seed"] == 3 for r in sampled.values())
    # the same seed draws the same tokens again
    again = _run("compare", "--prompt", "Why is the sky blue?", "--strategies", "top-p:0.9",
                 "--max-tokens", "16", "--seed", "3", "--json", home=tokenwise_home)
    assert json.loads(again.stdout)["token_ids"] == sampled["top-p:0.9"]["token_ids"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("compare", "-p", "hi", "--strategies", "beam:9"), "width of 9"),
        (("compare", "-p", "hi", "--strategies", "greedy,nucleus"), "Unknown strategy"),
        (("compare", "-p", "  "), "prompt is empty"),
        (("compare", "-p", "hi", "--strategies", "beam:8", "--max-tokens", "600", "--ctx",
          "2048"), "needs"),
    ],
)
def test_compare_refusals_are_one_clear_line(tokenwise_home: Path, args: tuple[str, ...],
                                             message: str) -> None:
    proc = _run(*args, home=tokenwise_home)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_score_json(tokenwise_home: Path) -> None:
    proc = _run("score", "--text", "The cat sat on the mat.", "--json", home=tokenwise_home)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    tokens, summary = rows[:-1], rows[-1]
    assert summary["n_tokens"] == len(tokens) > 3
    for t in tokens:
        assert {"token_id", "piece", "prob", "logprob", "rank", "entropy",
                "candidates"} <= t.keys()
        assert t["prob"] == pytest.approx(math.exp(t["logprob"]))
    assert summary["perplexity"] == pytest.approx(
        math.exp(-sum(t["logprob"] for t in tokens) / len(tokens)))
    assert summary["seconds"] > 0


def test_score_refusals(tokenwise_home: Path, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café".encode("latin-1"))
    for args, message in ((("--file", str(latin1)), "not UTF-8"),
                          (("--text", ""), "empty"),
                          (("--file", str(tmp_path / "missing.txt")), "No such file")):
        proc = _run("score", *args, home=tokenwise_home)
        assert proc.returncode == 2, proc.stdout
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], proc.stderr
