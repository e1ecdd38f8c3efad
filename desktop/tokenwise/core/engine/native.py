"""Process-wide llama.cpp set-up: backend init, quiet logging, compute backend detection."""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from pathlib import Path

import llama_cpp

log = logging.getLogger("tokenwise.llama")
_lock = threading.Lock()
_initialised = False
_recent: deque[str] = deque(maxlen=40)
_errors: deque[str] = deque(maxlen=20)  # lines logged at GGML_LOG_LEVEL_ERROR
_partial: list[str] = []
_partial_level = [0]
_LEVEL_ERROR, _LEVEL_CONT = 4, 5
# What llama.cpp adds after the line that says what is wrong
_GENERIC = ("failed to load model", "failed to read tensor data")


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _log_callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    # llama.cpp logs in fragments; keep whole lines for error messages, never print them
    if level != _LEVEL_CONT and not _partial:
        _partial_level[0] = level
    _partial.append(text.decode("utf-8", "replace"))
    if _partial[-1].endswith("\n"):
        line = "".join(_partial).rstrip()
        _partial.clear()
        _recent.append(line)
        if _partial_level[0] == _LEVEL_ERROR:
            _errors.append(line)
            log.warning("%s", line)  # kept in the app's log: a crash report shows it
        else:
            log.debug("%s", line)


def ensure_backend() -> None:
    """Initialise llama.cpp once per process and route its log into Python logging."""
    global _initialised
    with _lock:
        if _initialised:
            return
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        _initialised = True


def recent_log(n: int = 8) -> list[str]:
    return list(_recent)[-n:]


def clear_errors() -> None:
    """Forget earlier errors, so that the next failure reports its own."""
    _errors.clear()


def last_error_line() -> str:
    """The line of the latest failure that says what is wrong, without its function name."""
    for line in _errors:
        text = line.split("error loading model: ", 1)[-1]
        if not any(generic in text for generic in _GENERIC):
            return (text if text is not line else line.split(": ", 1)[-1]).strip()
    for line in reversed(_recent):
        lower = line.lower()
        if "error" in lower or "failed" in lower or "invalid" in lower:
            return line.strip()
    return ""


_BACKEND_LIBS = (
    ("cuda", "CUDA"), ("metal", "Metal"), ("vulkan", "Vulkan"), ("hip", "ROCm"),
    ("sycl", "SYCL"), ("opencl", "OpenCL"), ("musa", "MUSA"), ("cann", "CANN"),
)


def compute_backends() -> list[str]:
    """GPU backends this llama.cpp build carries (by the device names it registered)."""
    found: list[str] = []
    try:
        lib = ctypes.CDLL(str(_lib_dir() / _lib_name("ggml")))
        lib.ggml_backend_dev_count.restype = ctypes.c_size_t
        lib.ggml_backend_dev_get.restype = ctypes.c_void_p
        lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        lib.ggml_backend_dev_name.restype = ctypes.c_char_p
        lib.ggml_backend_dev_name.argtypes = [ctypes.c_void_p]
        for i in range(lib.ggml_backend_dev_count()):
            name = (lib.ggml_backend_dev_name(lib.ggml_backend_dev_get(i)) or b"").decode()
            for key, label in _BACKEND_LIBS:
                if name.lower().startswith(key) and label not in found:
                    found.append(label)
    except (OSError, AttributeError):
        for path in _lib_dir().glob("*ggml-*"):
            for key, label in _BACKEND_LIBS:
                if f"ggml-{key}" in path.name.lower() and label not in found:
                    found.append(label)
    return found


def _lib_dir() -> Path:
    return Path(llama_cpp.__file__).resolve().parent / "lib"


def _lib_name(base: str) -> str:
    import sys

    if sys.platform == "win32":
        return f"{base}.dll"
    if sys.platform == "darwin":
        return f"lib{base}.dylib"
    return f"lib{base}.so"


def supports_gpu_offload() -> bool:
    return bool(llama_cpp.llama_supports_gpu_offload())
