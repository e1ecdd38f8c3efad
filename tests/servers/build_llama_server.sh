#!/usr/bin/env bash
# Builds llama.cpp's own llama-server from the llama.cpp that llama-cpp-python vendors, once
# per machine, into a cache folder outside the checkout. Prints the binary's path.
#   bash tests/servers/build_llama_server.sh [PYTHON]
# PYTHON (default: python3) is the interpreter whose pip fetches the source distribution.
set -euo pipefail
PY="${1:-python3}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${TOKENWISE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenwise-test}"
DEST="$CACHE/llama-server-$VERSION"
BIN="$DEST/bin/llama-server"
if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/build-$VERSION.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download -q --no-binary :all: --no-deps -d "$WORK" \
  "llama-cpp-python==$VERSION" >&2
tar -xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$SRC" -B "$WORK/build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$WORK/build" --target llama-server -j "${BUILD_JOBS:-2}" >&2
mkdir -p "$DEST/bin.tmp"
cp "$WORK/build/bin/llama-server" "$DEST/bin.tmp/"
rm -rf "$DEST/bin"
mv "$DEST/bin.tmp" "$DEST/bin"
echo "$BIN"
