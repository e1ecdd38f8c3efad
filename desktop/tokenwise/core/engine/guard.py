"""Failed assertions inside llama.cpp, while it loads a model, as load errors.

A GGML_ASSERT calls ggml's abort callback and then abort(). The compiled helper
(``_guard.cpp``) throws a C++ exception from that callback instead; llama.cpp's loading
functions catch exceptions and return NULL, so a file that trips an assertion (two identical
vocabulary entries, say) is refused with llama.cpp's message and the app goes on. This only
holds where the callback runs on the loading thread inside such a catch: model loading and
context creation, not decoding (its worker threads). Without the helper: None, and the
engine checks a new file in a child process before loading it (see :mod:`.preflight`).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()


#: set to 1: no guard (the file's check then runs before the load, as without the helper)
NO_GUARD_ENV = "TOKENWISE_NO_ASSERT_GUARD"


def _load() -> tuple[Any, int] | None:
    if os.environ.get(NO_GUARD_ENV) == "1":
        return None
    try:
        module = importlib.import_module("tokenwise.core.engine._guard")
        throwing = ctypes.CDLL(module.__file__).tw_throw_abort
    except (ImportError, OSError, AttributeError):
        return None
    # the copy of ggml that libllama uses: by its soname, already loaded with llama_cpp
    import llama_cpp  # noqa: F401  (loads libllama and its ggml libraries)

    names = {"linux": ("libggml-base.so.0", "libggml-base.so"),
             "darwin": ("libggml-base.dylib",), "win32": ("ggml-base.dll",)}
    for name in names.get(sys.platform, ("libggml-base.so.0",)):
        try:
            setter = ctypes.CDLL(name).ggml_set_abort_callback
        except (OSError, AttributeError):
            continue
        setter.restype = ctypes.c_void_p
        setter.argtypes = [ctypes.c_void_p]
        return setter, ctypes.cast(throwing, ctypes.c_void_p).value or 0
    return None


_GUARD = _load()


def available() -> bool:
    return _GUARD is not None


@contextlib.contextmanager
def asserts_as_errors() -> Iterator[None]:
    """While inside: a failed assertion in llama.cpp's loading code is a load error."""
    if _GUARD is None:
        yield
        return
    setter, throwing = _GUARD
    with _lock:
        previous = setter(throwing)
        try:
            yield
        finally:
            setter(previous)
