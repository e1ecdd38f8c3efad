"""Run untrusted chat templates in a long-lived helper process with a time limit.

A Jinja render cannot be interrupted inside the process, and the sandbox does not stop a
template that loops for ever or renders gigabytes. So templates render in
:mod:`.template_worker`, a child process with a capped address space; a render that runs
past the limit gets the child killed and a fresh one started. Any failure comes back as a
note, with the conversation rendered in ChatML instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from tokenwise.core.chat import template as chat_template
from tokenwise.core.i18n import _, gap
from tokenwise.core.interface import ChatMessage

TIMEOUT_S = 1.0
STARTUP_TIMEOUT_S = 60.0  # a frozen app on a cold disk starts slowly
WORKER_MODULE = "tokenwise.core.chat.template_worker"

_Reply = dict[str, object] | None  # None: the child's stdout closed


class _Worker:
    """One child process and the thread that reads its answers."""

    def __init__(self) -> None:
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self.replies: queue.Queue[_Reply] = queue.Queue()
        self.ready = False
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,),
                                        name="template-worker-reader", daemon=True)
        self._reader.start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict):
                self.replies.put(reply)
        self.replies.put(None)

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready:
            try:
                reply = self.replies.get(timeout=timeout)
            except queue.Empty:
                return False
            self.ready = bool(reply and reply.get("ready"))
        return self.ready

    def ask(self, request: bytes, timeout: float) -> _Reply:
        """The child's answer; raises queue.Empty on a timeout."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
        except OSError:
            return None
        return self.replies.get(timeout=timeout)

    def stop(self, *, kill: bool = False) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if kill:
            self.proc.kill()
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=2.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class TemplateRenderer:
    """Renders a model's chat template in a helper process; never raises for a template.

    Start it early (:meth:`start` does not wait) so the child is ready by the first turn;
    :meth:`close` ends the child. Not for use from two threads at once.
    """

    def __init__(self, *, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The helper process's id, while one runs."""
        return self._worker.proc.pid if self._worker is not None else None

    def start(self) -> None:
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> _Worker:
        if self._closed:
            raise RuntimeError("the template renderer is closed")
        if self._worker is not None and not self._worker.alive:
            self._worker.stop()
            self._worker = None
        if self._worker is None:
            self._worker = _Worker()
        return self._worker

    def _restart(self) -> None:
        if self._worker is not None:
            self._worker.stop(kill=True)
            self._worker = None
        self._worker = _Worker()  # starting while the user reads the note

    def render(
        self,
        template: str | None,
        messages: Sequence[ChatMessage],
        *,
        special_tokens: Mapping[str, str] | None = None,
        add_generation_prompt: bool = True,
    ) -> tuple[str, str]:
        """Return (prompt text, note). A missing or failed template gives ChatML and a note."""
        if not template:
            return (chat_template.chatml(messages, add_generation_prompt=add_generation_prompt),
                    chat_template.CHATML_NOTE)
        request = json.dumps({
            "template": template,
            "messages": chat_template.message_payload(messages),
            "special_tokens": dict(special_tokens or {}),
            "add_generation_prompt": add_generation_prompt,
        }, ensure_ascii=False).encode("utf-8") + b"\n"
        with self._lock:
            text, note = self._ask(request)
        if text is None:
            text = chat_template.chatml(messages, add_generation_prompt=add_generation_prompt)
        return text, note

    def _ask(self, request: bytes) -> tuple[str | None, str]:
        """(the template's text, "") or (None, why it failed)."""
        worker = self._ensure_started()
        if not worker.wait_ready(STARTUP_TIMEOUT_S):
            self._restart()
            return None, (_("Tokenwise could not start its chat template renderer.") + gap()
                          + _(chat_template.FALLBACK))
        try:
            reply = worker.ask(request, self.timeout_s)
        except queue.Empty:
            self._restart()
            return None, chat_template.timeout_note(self.timeout_s)
        if reply is None:  # the child died: a crash inside the render
            self._restart()
            return None, (_("The model's chat template crashed its renderer.") + gap()
                          + _(chat_template.FALLBACK))
        text, note = reply.get("text"), reply.get("note")
        if isinstance(text, str):
            return text, ""
        return None, str(note or _("The model's chat template failed.") + gap()
                         + _(chat_template.FALLBACK))

    def close(self) -> None:
        """End the helper process and wait for it."""
        with self._lock:
            self._closed = True
            if self._worker is not None:
                self._worker.stop()
                self._worker = None

    def __enter__(self) -> TemplateRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
