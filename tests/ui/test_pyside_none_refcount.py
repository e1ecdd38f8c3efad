"""PySide6 6.12.0 on Python 3.11 drops a reference to None per void call and then aborts.

Stream thousands of tokens of a real reply through the real chat view and check that
None's reference count did not fall (it only moves by a handful on a sound build).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_streaming_thousands_of_tokens_keeps_none_alive(qtbot, window, send):
    reply_id = send(window, "Name a colour.")
    steps = window.controller.flow.traces[reply_id]
    message = window.chat_view.bubble(reply_id).message
    stream = [replace(steps[i % len(steps)], index=i) for i in range(3000)]
    view = window.chat_view
    before = sys.getrefcount(None)
    view.begin_reply(replace(message, id=-1))
    for start in range(0, len(stream), 3):
        view.append_steps(stream[start:start + 3])
    view.finish_reply(replace(message, id=-1))
    after = sys.getrefcount(None)
    assert len(view.bubble(-1).text.steps) == 3000
    assert after >= before - 50, f"None lost {before - after} references"
