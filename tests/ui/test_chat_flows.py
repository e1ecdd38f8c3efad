"""The chat window with the real starter model: send, stop, regenerate, edit, versions."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

# the offscreen platform says this whenever a window's minimum size changes
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

REPLY_TIMEOUT_MS = 120_000


def test_send_streams_a_reply_and_stores_it_with_its_trace(qtbot, window, send, store_reader):
    reply_id = send(window, "Name three colours.")
    bubble = window.chat_view.bubble(reply_id)
    steps = bubble.text.steps
    assert steps, "the reply has no tokens"
    assert window.db.flush(5.0)
    store = store_reader()
    stored = store.get_message(reply_id)
    assert stored.complete
    assert stored.content == "".join(s.text for s in steps)
    assert [s.token_id for s in store.load_trace(reply_id)] == [s.token_id for s in steps]
    assert stored.n_tokens == len(steps)
    speed = window.status.speed_label.text()
    assert "tok/s" in speed and "–" not in speed
    assert window.status.context_label.text().startswith("context ")
    conversations = store.list_conversations()
    assert [c.title for c in conversations] == ["Name three colours."]


def test_stop_mid_reply_keeps_what_was_written(qtbot, new_window, store_reader):
    window = new_window(max_tokens=400)
    controller = window.controller
    window.composer.edit.setPlainText("Tell me a long story about a lighthouse keeper.")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: controller.flow.reply is not None
                    and len(controller.flow.reply.steps) >= 5, timeout=REPLY_TIMEOUT_MS)
    assert window.act_stop.isEnabled()
    assert window.act_stop.shortcut().toString() == "Esc"
    with qtbot.waitSignal(controller.reply_finished, timeout=10_000) as blocker:
        window.act_stop.trigger()
    reply_id = blocker.args[0]
    assert window.db.flush(5.0)
    stored = store_reader().get_message(reply_id)
    assert stored.stop_reason == "cancelled"
    assert 5 <= stored.n_tokens < 400
    assert not window.act_stop.isEnabled()


def _version_label(bubble: Any) -> str:
    return bubble._version.text() if bubble._version.isVisible() else ""


def test_regenerate_keeps_version_one_and_adds_version_two(qtbot, window, send, store_reader):
    first_id = send(window, "Say a greeting.")
    first_text = window.chat_view.bubble(first_id).text_content()
    with qtbot.waitSignal(window.controller.reply_finished, timeout=REPLY_TIMEOUT_MS) as b:
        window.act_regenerate.trigger()
    second_id = b.args[0]
    assert second_id != first_id
    assert window.db.flush(5.0)
    versions = store_reader().versions(second_id)
    assert [v.id for v in versions] == [first_id, second_id]
    bubble = window.chat_view.bubble(second_id)
    assert _version_label(bubble) == "2/2"
    # back to version 1: the old reply, with its trace
    with qtbot.waitSignal(window.controller.traces_loaded, timeout=10_000):
        bubble._prev.click()
    old = window.chat_view.bubble(first_id)
    assert old is not None and _version_label(old) == "1/2"
    assert old.text_content() == first_text
    assert old.text.has_steps


def test_edit_and_resend_adds_a_user_version(qtbot, window, send, store_reader):
    send(window, "What is two plus two?")
    user = window.controller.flow.path[0]
    bubble = window.chat_view.bubble(user.id)
    bubble.start_edit()
    bubble._editor.setPlainText("What is three plus three?")
    send_button = next(b for b in bubble.findChildren(type(window.composer.send_button))
                       if b.text().startswith("Save"))
    with qtbot.waitSignal(window.controller.reply_finished, timeout=REPLY_TIMEOUT_MS):
        send_button.click()
    path = window.controller.flow.path
    assert path[0].content == "What is three plus three?"
    assert window.db.flush(5.0)
    versions = store_reader().versions(path[0].id)
    assert [v.content for v in versions] == ["What is two plus two?", "What is three plus three?"]
    assert _version_label(window.chat_view.bubble(path[0].id)) == "2/2"


def test_restart_finds_the_conversation_and_its_trace(qtbot, window, send, new_window):
    reply_id = send(window, "Name a fruit.")
    steps = [s.token_id for s in window.chat_view.bubble(reply_id).text.steps]
    window.close()
    assert not window.engine.thread_alive and not window.db.thread_alive

    again = new_window()
    qtbot.waitUntil(lambda: again.sidebar.model.rowCount() == 1, timeout=10_000)
    with qtbot.waitSignal(again.controller.traces_loaded, timeout=10_000):
        again.sidebar.view.setCurrentIndex(again.sidebar.model.index(0))
    bubble = again.chat_view.bubble(reply_id)
    assert [s.token_id for s in bubble.text.steps] == steps
    assert again.controller.flow.inspected == reply_id


def test_step_mode_generates_one_token_per_request(qtbot, window):
    controller = window.controller
    window.inspector.step_mode_toggled.emit(True)
    window.composer.edit.setPlainText("Count to five.")
    with qtbot.waitSignal(controller.step_waiting, timeout=REPLY_TIMEOUT_MS):
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    for n in (1, 2, 3):
        with qtbot.waitSignal(controller.step_waiting, timeout=REPLY_TIMEOUT_MS):
            window.inspector.step_once_requested.emit()
        qtbot.waitUntil(lambda n=n: len(controller.flow.reply.steps) == n, timeout=5_000)
    with qtbot.waitSignal(controller.reply_finished, timeout=REPLY_TIMEOUT_MS) as blocker:
        window.inspector.run_to_end_requested.emit()
    assert len(controller.flow.traces[blocker.args[0]]) > 3


def test_branch_keeps_the_prefix_and_forces_the_token(qtbot, window, send, store_reader):
    controller = window.controller
    reply_id = send(window, "Name three animals.")
    old = controller.flow.traces[reply_id]
    assert len(old) > 3
    at = 2
    alternative = next(c.token_id for c in old[at].candidates if c.token_id != old[at].token_id)
    controller.inspect_step(reply_id, at)
    with qtbot.waitSignal(controller.reply_finished, timeout=REPLY_TIMEOUT_MS) as blocker:
        window.inspector.branch_requested.emit(at, alternative)
    new = controller.flow.traces[blocker.args[0]]
    assert [s.token_id for s in new[:at]] == [s.token_id for s in old[:at]]
    assert new[at].token_id == alternative
    assert [s.index for s in new] == list(range(len(new)))
    assert window.db.flush(5.0)
    store = store_reader()
    assert [s.token_id for s in store.load_trace(blocker.args[0])] == [s.token_id for s in new]
    assert len(store.versions(blocker.args[0])) == 2


def test_a_cut_off_reply_offers_continue_which_keeps_every_token(qtbot, new_window):
    window = new_window(max_tokens=60)
    controller = window.controller
    window.composer.edit.setPlainText("Tell me a long story about a lighthouse keeper.")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: controller.flow.reply is not None
                    and len(controller.flow.reply.steps) >= 8, timeout=REPLY_TIMEOUT_MS)
    with qtbot.waitSignal(controller.reply_finished, timeout=10_000) as blocker:
        window.act_stop.trigger()
    cut = blocker.args[0]
    bubble = window.chat_view.bubble(cut)
    assert bubble.continue_button.isVisibleTo(window)  # cut off: Continue is offered
    before = [s.token_id for s in controller.flow.traces[cut]]
    with qtbot.waitSignal(controller.reply_finished, timeout=REPLY_TIMEOUT_MS) as done:
        bubble.continue_button.click()
    longer = done.args[0]
    assert longer != cut  # a new version; the cut-off one stays among the versions
    after = [s.token_id for s in controller.flow.traces[longer]]
    assert after[:len(before)] == before and len(after) > len(before)
    finished = window.chat_view.bubble(longer)
    assert not finished.continue_button.isVisibleTo(window)  # the model finished it
    assert _version_label(finished) == "2/2"


def test_the_next_start_reopens_the_conversation_the_user_was_in(
        qtbot, window, send, new_window):
    send(window, "Name a colour.")
    first = window.controller.flow.conversation.id
    window.controller.flow.new_conversation()
    send(window, "Name a fruit.")
    second = window.controller.flow.conversation.id
    window.controller.flow.open_conversation(first)
    qtbot.waitUntil(lambda: window.controller.flow.conversation.id == first, timeout=10_000)
    window.close()
    again = new_window()
    qtbot.waitUntil(lambda: again.controller.flow.conversation is not None, timeout=10_000)
    assert again.controller.flow.conversation.id == first != second
    assert again.controller.flow.path[0].content == "Name a colour."
