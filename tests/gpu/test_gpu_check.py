"""The GPU check's parts that run without a GPU: the carried folder, the synthetic models,
the bench path's imports and run.sh's non-CUDA phases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import gguf
import prepare
import pytest
import synth

from tokenwise.core.engine.local import Engine
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def test_prepared_folder_is_small_and_keeps_what_a_cuda_build_reads(tmp_path: Path) -> None:
    try:
        sdist = prepare.fetch_sdist(tmp_path / "sdist")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"llama-cpp-python's sdist could not be fetched: {exc}")
    out = tmp_path / "carry"
    size = prepare.prepare(out, sdist)
    assert size == prepare.total_size(out)
    assert size < prepare.LIMIT_BYTES
    names = {p.name.split("-")[0].lower() for p in (out / "wheels").glob("*.whl")}
    assert {"platformdirs", "diskcache", "gguf", "pyyaml"} <= names
    assert sorted(p.name for p in (out / "tokenizers").iterdir()) == [
        "gemma3.gguf", "smollm2.gguf"]

    src = tmp_path / "src"
    with tarfile.open(out / "llama-cpp-python-cuda-src.tar.gz") as tar:
        tar.extractall(src, filter="data")
    root = src / "llama-cpp-python"
    llama = root / "vendor/llama.cpp"
    assert not (llama / "models").exists()
    assert not (llama / "docs").exists()
    assert not (llama / "ggml/src/ggml-metal").exists()
    assert not (root / ".git").exists()
    dirs = prepare.cuda_build_dirs(root)
    # the parse finds the library's own folders, not only the two backends added by hand
    for needed in ("vendor/llama.cpp", "vendor/llama.cpp/ggml", "vendor/llama.cpp/src",
                   "vendor/llama.cpp/common", "vendor/llama.cpp/tools/mtmd"):
        assert (root / needed).resolve() in dirs
    assert prepare.missing_dirs(root) == []

    # CMake configures the trimmed tree (for the CPU: CUDA's compiler is not here)
    cmake = shutil.which("cmake")
    assert cmake, "CMake is needed (CI builds llama-server with it)"
    done = subprocess.run([cmake, "-S", str(root), "-B", str(tmp_path / "build"),
                           "-DGGML_NATIVE=OFF"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(params=["starter", "gemma"])
def tokenizer_source(request: pytest.FixtureRequest) -> Path:
    name = "starter_model_path" if request.param == "starter" else "gemma_model_path"
    path: Path = request.getfixturevalue(name)
    return path


def test_synthetic_model_loads_and_generates(tokenizer_source: Path, tmp_path: Path) -> None:
    tokenizer = synth.tokenizer_only(tokenizer_source, tmp_path / "tokenizer.gguf")
    assert tokenizer.stat().st_size < tokenizer_source.stat().st_size
    model = synth.build(tokenizer, tmp_path / "synthetic.gguf", tiny=True)

    source_tokens = gguf.GGUFReader(tokenizer_source).fields["tokenizer.ggml.tokens"].contents()
    made = gguf.GGUFReader(model)
    assert made.fields["tokenizer.ggml.tokens"].contents() == source_tokens
    arch = str(made.fields["general.architecture"].contents())
    assert made.fields[f"{arch}.block_count"].contents() == 2
    assert made.fields[f"{arch}.embedding_length"].contents() == 64

    engine = Engine(model, n_ctx=256)
    try:
        assert engine.info.vocab_size == len(source_tokens)
        assert engine.info.layers == 2
        rendered = engine.render_chat([ChatMessage("user", "Hello")])
        request = GenerationRequest(rendered.token_ids,
                                    PRESETS["Greedy"].with_(max_tokens=4, seed=3),
                                    top_k_display=5, extra={"ignore_eog": True})
        steps = list(engine.generate(request))
    finally:
        engine.close()
    assert len(steps) == 4
    assert all(0 <= step.token_id < len(source_tokens) for step in steps)


def test_bench_path_imports_neither_qt_nor_hub_client() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['bench_gpu.py', '--help']\n"
        "import tokenwise.core.engine.bench\n"
        f"try:\n    runpy.run_path({str(HERE / 'bench_gpu.py')!r}, run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('PySide6', 'shiboken6', 'huggingface_hub'))\n"
        "print('BAD', bad)\n"
        "print('LLAMA', 'llama_cpp' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "desktop")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)
    assert "BAD []" in done.stdout, done.stdout
    assert "LLAMA True" in done.stdout  # the bench module really was imported


def test_run_sh_cpu_smoke(starter_model_path: Path, tmp_path: Path) -> None:
    carry = tmp_path / "carry"
    (carry / "tokenizers").mkdir(parents=True)
    synth.tokenizer_only(starter_model_path, carry / "tokenizers" / "smollm2.gguf")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "CARRY": str(carry), "OUT": str(out),
           "WORK": str(tmp_path / "work")}
    done = subprocess.run(["bash", str(HERE / "run.sh"), "--cpu-smoke"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "bench.jsonl").read_text().splitlines()]
    assert [row["overlap"] for row in rows] == [True, False]
    assert all(row["vocab_size"] == 49152 and row["inspected_tok_s"] > 0 for row in rows)
    matrices = [json.loads(line)
                for line in (out / "samplers.jsonl").read_text().splitlines()]
    from tokenwise.core.engine import compiled
    from tokenwise.core.engine.threads import default_threads

    two = 2 if default_threads() >= 2 and compiled._GOMP_PARALLEL and compiled._LIB else 1
    assert [m["overlap"] for m in matrices] == [True, True, False, False]
    # two where the decode has two (a stalling decode may give one up), else one
    assert [m["pass_threads"] for m in matrices][1::2] == [1, 1]
    assert all(m["pass_threads"] in (1, two) for m in matrices[::2])
    assert all(len(m["rows"]) == 5 and all(r["tok_s"] > 0 for r in m["rows"])
               for m in matrices)
    phases = (out / "phases.txt").read_text()
    assert "synth rc=0" in phases
    assert "bench rc=0" in phases
    assert "samplers rc=0" in phases
    assert (out / "synth.log").is_file()
