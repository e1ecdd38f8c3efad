"""Prepare, on an ordinary machine, what the GPU check carries to the GPU test machine.

That machine has no network and takes at most 64 MiB with the working tree. This writes to a
folder (default tests/gpu/carry/, ignored by git):

- llama-cpp-python's source, its pinned release, trimmed to what a CUDA build needs (models,
  docs, examples, tools and the other GPU backends dropped), as a .tar.gz;
- the wheels the engine imports that the GPU machine lacks (and the synthetic models' writer);
- the tokenizers (metadata only, no weights) of the starter model and of Gemma, which
  synth.py puts on random weights there.

Usage: python tests/gpu/prepare.py [--out DIR] [--sdist FILE]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
#: the engine's imports beyond numpy and jinja2 (which the GPU machine has); typing_extensions
#: and diskcache are llama_cpp's own
WHEELS = ["platformdirs>=4", "diskcache>=5.6.1", "typing_extensions>=4.5.0",
          # the synthetic models' writer (pure Python) and its one compiled import
          "gguf>=0.10", "PyYAML>=5.1"]
#: the GPU machine's Python, for the compiled wheels above
GPU_PYTHON = ["--python-version", "3.12", "--implementation", "cp", "--abi", "cp312",
              "--platform", "manylinux2014_x86_64"]
LIMIT_BYTES = 60 * 1024 * 1024
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "desktop")]

#: paths under the unpacked source that no library build reads (tests, examples and tools are
#: off when llama.cpp is built as a subproject; backends are added only when switched on)
DROP = [
    ".git", ".github", "docs", "examples", "tests", "docker", "scripts", "mkdocs.yml",
    "vendor/llama.cpp/.git", "vendor/llama.cpp/.github",
    "vendor/llama.cpp/models", "vendor/llama.cpp/docs", "vendor/llama.cpp/examples",
    "vendor/llama.cpp/pocs", "vendor/llama.cpp/tests", "vendor/llama.cpp/benches",
    "vendor/llama.cpp/app", "vendor/llama.cpp/conversion", "vendor/llama.cpp/gguf-py",
    "vendor/llama.cpp/media", "vendor/llama.cpp/scripts", "vendor/llama.cpp/ci",
    "vendor/llama.cpp/skills", "vendor/llama.cpp/requirements", "vendor/llama.cpp/grammars",
]
#: ggml backends kept: the CPU's (always built) and CUDA's
KEEP_BACKENDS = {"ggml-cpu", "ggml-cuda"}
#: the one tool the Python package builds (LLAVA_BUILD, on by default)
KEEP_TOOLS = {"mtmd", "CMakeLists.txt"}


def fetch_sdist(into: Path) -> Path:
    """llama-cpp-python's sdist, through pip (its cache makes a second fetch fast)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:",
                    "--no-deps", LLAMA_CPP_PYTHON, "-d", str(into)], check=True)
    found = sorted(into.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise FileNotFoundError(f"pip saved no sdist in {into}")
    return found[0]


def trim(root: Path) -> None:
    """Delete from an unpacked source tree what a CUDA build of the library does not read."""
    for rel in DROP:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    backends = root / "vendor/llama.cpp/ggml/src"
    for child in backends.iterdir():
        if child.is_dir() and child.name.startswith("ggml-") and child.name not in KEEP_BACKENDS:
            shutil.rmtree(child)
    tools = root / "vendor/llama.cpp/tools"
    for child in tools.iterdir():
        if child.name not in KEEP_TOOLS:
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()


_SUBDIR = re.compile(r"^\s*add_subdirectory\(\s*([^\s)]+)", re.MULTILINE)
#: added only under options a subproject build leaves off, or per enabled backend
_OPTIONAL = {"tests", "examples", "pocs", "tools", "app", "${backend_target}"}


def cuda_build_dirs(root: Path) -> list[Path]:
    """The folders a CUDA build of the library adds with add_subdirectory, read from the
    CMakeLists files themselves (the always-added ones, plus the CPU and CUDA backends)."""
    found: list[Path] = []
    queue = [root]
    while queue:
        folder = queue.pop(0)
        listing = folder / "CMakeLists.txt"
        if not listing.is_file():
            continue
        for name in _SUBDIR.findall(listing.read_text(encoding="utf-8", errors="replace")):
            if name in _OPTIONAL or "$" in name:
                continue
            sub = (folder / name).resolve()
            if sub not in found:
                found.append(sub)
                queue.append(sub)
    for backend in sorted(KEEP_BACKENDS):
        found.append((root / "vendor/llama.cpp/ggml/src" / backend).resolve())
    return found


def missing_dirs(root: Path) -> list[Path]:
    return [d for d in cuda_build_dirs(root) if not (d / "CMakeLists.txt").is_file()]


def trimmed_source(sdist: Path, out: Path) -> Path:
    """Unpack sdist, trim it and pack it again as out/<name>-cuda-src.tar.gz."""
    with tempfile.TemporaryDirectory(prefix="tw-gpu-src-") as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = Path(tmp).iterdir()
        trim(top)
        missing = missing_dirs(top)
        if missing:
            raise RuntimeError(f"trimmed too much; missing: {missing}")
        target = out / "llama-cpp-python-cuda-src.tar.gz"
        with tarfile.open(target, "w:gz", compresslevel=9) as tar:
            tar.add(top, arcname="llama-cpp-python")
    return target


def fetch_wheels(out: Path) -> list[Path]:
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary", ":all:", *GPU_PYTHON, "-d", str(wheels), *WHEELS], check=True)
    return sorted(wheels.glob("*.whl"))


def tokenizers(out: Path) -> list[Path]:
    """The starter model's and Gemma's metadata without their weights."""
    import synth

    from tokenwise.core.models.starter import gemma_bench_model_path, starter_model_path

    folder = out / "tokenizers"
    folder.mkdir(parents=True, exist_ok=True)
    return [synth.tokenizer_only(starter_model_path(), folder / "smollm2.gguf"),
            synth.tokenizer_only(gemma_bench_model_path(), folder / "gemma3.gguf")]


def total_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prepare(out: Path, sdist: Path | None = None) -> int:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="tw-gpu-sdist-") as tmp:
        source = sdist or fetch_sdist(Path(tmp))
        trimmed_source(source, out)
    fetch_wheels(out)
    tokenizers(out)
    size = total_size(out)
    if size > LIMIT_BYTES:
        raise RuntimeError(f"{size / 2**20:.1f} MiB is over the {LIMIT_BYTES // 2**20} MiB limit")
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "carry")
    parser.add_argument("--sdist", type=Path, default=None,
                        help="a downloaded llama-cpp-python sdist (else pip fetches it)")
    args = parser.parse_args(argv)
    size = prepare(args.out, args.sdist)
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size / 2**20:8.2f} MiB  {path.relative_to(args.out)}")
    print(f"total {size / 2**20:.2f} MiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
