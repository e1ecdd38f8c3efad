"""The chat template helper process: ``python -m tokenwise.core.chat.template_worker``.

It reads one JSON request a line on stdin (template, messages, special tokens,
add_generation_prompt) and answers one JSON line on stdout: ``{"text": ...}`` or
``{"note": ...}`` when the template failed. Its address space is capped, so a template
that renders gigabytes fails here with a MemoryError; the parent kills it on a timeout.
It ends when stdin closes.
"""

from __future__ import annotations

import json
import sys
from typing import IO

from tokenwise.core.chat.template import failure_note, render_source

MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024


def limit_memory(limit: int = MEMORY_LIMIT_BYTES) -> None:
    try:
        import resource
    except ImportError:  # Windows: the time limit still holds
        return
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # a lower hard limit is already in force
        return


def answer(line: bytes) -> dict[str, str]:
    try:
        request = json.loads(line)
        text = render_source(request["template"], request["messages"],
                             special_tokens=request["special_tokens"],
                             add_generation_prompt=bool(request["add_generation_prompt"]))
    except Exception as exc:  # every failure of a template is a note, whatever its type
        return {"note": failure_note(exc)}
    return {"text": text}


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    stdout.write(b'{"ready": true}\n')
    stdout.flush()
    for line in stdin:
        reply = answer(line)
        try:
            data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        except MemoryError as exc:
            data = json.dumps({"note": failure_note(exc)}).encode("utf-8")
        del reply
        stdout.write(data + b"\n")
        stdout.flush()


if __name__ == "__main__":
    limit_memory()
    serve(sys.stdin.buffer, sys.stdout.buffer)
