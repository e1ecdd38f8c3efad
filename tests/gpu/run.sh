#!/usr/bin/env bash
# The GPU check, one command on the GPU test machine (no network; prepare.py's folder carried):
#   bash tests/gpu/run.sh
# builds llama-cpp-python with CUDA for the H200 only, installs the carried wheels, builds the
# compiled pass, makes the synthetic models and runs the engine bench with all layers
# offloaded, overlap on and off, within 8 minutes. Each phase writes $OUT/<phase>.log as it
# ends, with its time in $OUT/phases.txt; the bench's rows go to $OUT/bench.jsonl, then the
# sampler matrix's (overlap on and off, the compiled pass on two threads and one) to
# $OUT/samplers.jsonl.
#   bash tests/gpu/run.sh --cpu-smoke
# skips the builds and runs the rest with tiny models on the Python given as $PYTHON.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/out/gpu}
CARRY=${CARRY:-$ROOT/tests/gpu/carry}
WORK=${WORK:-/tmp/tokenwise-gpu}
BUDGET_S=${BUDGET_S:-480}
SMOKE=0
[ "${1:-}" = "--cpu-smoke" ] && SMOKE=1
mkdir -p "$OUT" "$WORK"
: > "$OUT/phases.txt"
START=$(date +%s)

# phase NAME COMMAND...: runs COMMAND under what is left of the budget, logs it to
# $OUT/NAME.log and its status and seconds to $OUT/phases.txt
phase() {
  local name=$1 t0 left rc
  shift
  t0=$(date +%s%N)
  left=$((START + BUDGET_S - $(date +%s)))
  if [ "$left" -le 5 ]; then
    echo "$name skipped: out of time" >> "$OUT/phases.txt"
    return 1
  fi
  # through bash, so the exported functions below run under timeout too
  timeout "$left" bash -c '"$@"' _ "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name rc=$rc $(( ($(date +%s%N) - t0) / 1000000 ))ms" >> "$OUT/phases.txt"
  tail -n 3 "$OUT/$name.log"
  echo "== $name rc=$rc"
  return $rc
}

build_llama() {
  "$PY" -c "import scikit_build_core" || { echo "scikit-build-core is missing"; return 1; }
  rm -rf "$WORK/src" && mkdir -p "$WORK/src"
  tar xzf "$CARRY/llama-cpp-python-cuda-src.tar.gz" -C "$WORK/src"
  CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip install --no-build-isolation --no-index --no-deps -v "$WORK/src/llama-cpp-python"
  "$PY" -c "import llama_cpp; print('offload:', llama_cpp.llama_supports_gpu_offload())"
}

build_pass() {
  # setuptools reads the ext-modules from pyproject.toml; where it is missing, the compiler
  if "$PY" -c "import setuptools" 2>/dev/null; then
    "$PY" -c "from setuptools import setup; setup()" build_ext --inplace
  else
    local inc suffix
    inc=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    suffix=$("$PY" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
    cc -O3 -shared -fPIC -I"$inc" desktop/tokenwise/core/engine/_scan.c \
      -o "desktop/tokenwise/core/engine/_scan$suffix"
    c++ -O2 -shared -fPIC -I"$inc" desktop/tokenwise/core/engine/_guard.cpp \
      -o "desktop/tokenwise/core/engine/_guard$suffix"
  fi
  "$PY" -c \
    "from tokenwise.core.engine.stages import scan_kind; print('vocabulary pass:', scan_kind())"
}

make_models() {
  local tok
  for tok in "$CARRY"/tokenizers/*.gguf; do
    "$PY" tests/gpu/synth.py "$tok" "$WORK/synthetic-$(basename "$tok")" $TINY || return 1
  done
}

export -f build_llama build_pass make_models
export ROOT CARRY WORK
export PYTHONPATH="$ROOT/desktop${PYTHONPATH:+:$PYTHONPATH}"

if [ $SMOKE = 1 ]; then
  PY=${PYTHON:-python3}
  TINY=--tiny
  BENCH_ARGS=(--tokens 8 --rounds 1 --logprobs-tokens 4)
  SAMPLER_ARGS=(--tokens 6 --rounds 1)
  export PY TINY
else
  PY="$WORK/venv/bin/python"
  TINY=
  BENCH_ARGS=(--tokens 128 --rounds 3 --logprobs-tokens 32)
  SAMPLER_ARGS=(--tokens 64 --rounds 2)
  export PY TINY
  # the machine's own numpy, jinja2, CMake and scikit-build-core, seen from the venv
  phase venv python3 -m venv --system-site-packages "$WORK/venv" || exit 1
  phase wheels "$PY" -m pip install --no-index --no-deps "$CARRY"/wheels/*.whl || exit 1
  phase llama_cpp build_llama || exit 1
  phase compiled_pass build_pass  # optional: numpy computes the same, more slowly
fi

phase synth make_models || exit 1
rm -f "$OUT/bench.jsonl"
phase bench "$PY" tests/gpu/bench_gpu.py \
  "$WORK"/synthetic-*.gguf --out "$OUT/bench.jsonl" "${BENCH_ARGS[@]}"
rc=$?
# the sampler matrix after it (what is left of the budget): overlap on and off, the
# compiled pass on two threads and on one
rm -f "$OUT/samplers.jsonl"
phase samplers "$PY" tests/gpu/bench_gpu.py \
  "$WORK"/synthetic-*.gguf --out "$OUT/samplers.jsonl" --samplers "${SAMPLER_ARGS[@]}"
samplers_rc=$?
[ $rc = 0 ] && rc=$samplers_rc
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
echo "total $(( $(date +%s) - START ))s" >> "$OUT/phases.txt"
cat "$OUT/phases.txt"
exit $rc
