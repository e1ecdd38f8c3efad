"""The preflight's child process: ``python -m tokenwise.core.engine.preflight_child PATH``.

It loads the model with a tiny context and decodes one token; an abort inside llama.cpp
ends this process, not the app. It prints one JSON line for the parent to read.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import sys

from tokenwise.core.engine.local import Engine
from tokenwise.core.errors import TokenwiseError
from tokenwise.core.interface import GenerationRequest
from tokenwise.core.sampling.settings import SamplerSettings


def _die_with_the_parent() -> None:
    """Linux: end this check if the app ends first (killed, crashed), never an orphan."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def check(path: str) -> int:
    """Load the model with a tiny context and decode one token."""

    try:
        engine = Engine(path, n_ctx=256, n_gpu_layers=0, preflight=False)
        try:
            ids = engine.token_ids("Hello", add_special=True) or [max(engine.bos_id, 0)]
            request = GenerationRequest(ids, SamplerSettings(temperature=0.0, max_tokens=1))
            steps = list(engine.generate(request))
            if not steps:
                raise TokenwiseError("no token could be generated")
        finally:
            engine.close()
    except TokenwiseError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))  # noqa: T201
        return 1
    print(json.dumps({"ok": True}))  # noqa: T201
    return 0


PR_SET_PDEATHSIG = 1  # prctl(2)

if __name__ == "__main__":
    _die_with_the_parent()
    sys.exit(check(sys.argv[1]))
