"""The real window, offscreen, chatting through the remote engine with a real llama-server on
loopback: the servers' section of Settings, the picker's remote models, the inspector's
"unavailable: reason" lines, the approximate what-if, a server killed mid-reply, and the
API key nowhere but the secrets store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from llamaservers import TEST_API_KEY, RunningServer
from tokenwise.core import secrets
from tokenwise.core.remote import servers
from tokenwise.core.sampling.settings import PRESETS

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
TIMEOUT_MS = 120_000


def _remote_window(qtbot: Any, server: RunningServer, *, key: str | None = None,
                   max_tokens: int = 24) -> tuple[Any, servers.ServerRecord]:
    from tokenwise.core.settings import load_settings, save_settings
    from tokenwise.ui.app import create_window

    record = servers.new_record("loopback box", server.base_url)
    servers.upsert(record, api_key=key)
    settings = load_settings()
    settings.sampler = PRESETS["Greedy"].with_(max_tokens=max_tokens)
    settings.last_model = record.model_path(server.model_id)
    save_settings(settings)
    window = create_window()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=TIMEOUT_MS):
        window.show()
    return window, record


def _send(qtbot: Any, window: Any, text: str) -> int:
    window.composer.edit.setPlainText(text)
    with qtbot.waitSignal(window.controller.reply_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    return int(blocker.args[0])


def test_chat_through_a_keyed_server(qtbot: Any, keyed_llama_server: RunningServer,
                                     store_reader: Any, tokenwise_home: Path) -> None:
    window, record = _remote_window(qtbot, keyed_llama_server, key=TEST_API_KEY)
    picker = window.model_picker
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert any("remote, loopback box" in t for t in texts), texts
    assert picker.currentData() == record.model_path(keyed_llama_server.model_id)
    info = window.controller.flow.model_info
    assert info is not None and info.n_ctx == 2048
    assert info.path == record.model_path(keyed_llama_server.model_id)  # reopened next start
    assert info.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert window.status.context_label.text() == "context 0 / 2,048"
    assert window.status.backend_label.text() == "remote: llama.cpp llama-server at loopback box"

    reply_id = _send(qtbot, window, "Name three colours.")
    steps = window.chat_view.bubble(reply_id).text.steps
    assert steps and all(0 < s.prob <= 1 for s in steps)
    inspector = window.inspector
    inspector.select_step(0)
    inspector.refresh()
    sv = inspector.step_view
    assert "as the server reports it" in sv.stats.text()
    assert "entropy unavailable" in sv.stats.text()
    explanation = sv.explanation.text()
    assert "Per-stage view unavailable: A server reports one distribution" in explanation
    assert "Probabilities: llama-server's n_probs: before sampling" in explanation
    assert sv.step_mode_button.isEnabled()  # llama-server takes the prompt as token ids

    # a what-if over the server's top 20 says that it is approximate
    inspector.sampling.settings_changed.emit(PRESETS["Creative"])
    assert inspector.is_preview
    assert "Approximate: the server reported only its top 20" in sv.preview_label.text()

    assert window.db.flush(5.0)
    stored = store_reader().get_message(reply_id)
    assert stored.complete and stored.content == "".join(s.text for s in steps)
    engine_details = stored.settings["engine"]
    assert engine_details["server"] == "loopback box"
    assert engine_details["honoured"]["temperature"] == 0
    window.close()
    # the key: in the secrets store, and in no other file (database, settings, servers, log)
    store = secrets.secrets_path()
    assert TEST_API_KEY in store.read_text()
    for path in tokenwise_home.rglob("*"):
        if path.is_file() and path != store:
            assert TEST_API_KEY.encode() not in path.read_bytes(), path


def test_server_killed_mid_reply_keeps_the_partial_reply(
        qtbot: Any, doomed_llama_server: RunningServer, store_reader: Any) -> None:
    window, _record = _remote_window(qtbot, doomed_llama_server, max_tokens=1500)
    controller = window.controller
    window.composer.edit.setPlainText("Tell me a long story about a lighthouse keeper.")
    with qtbot.waitSignal(controller.reply_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: controller.flow.reply is not None
                        and len(controller.flow.reply.steps) >= 5, timeout=TIMEOUT_MS)
        doomed_llama_server.kill()
    reply_id = int(blocker.args[0])
    assert window.db.flush(5.0)
    stored = store_reader().get_message(reply_id)
    assert stored.stop_reason == "server_closed"
    assert stored.n_tokens >= 5 and stored.content
    assert "closed the connection" in stored.settings["engine"]["error"]


def test_settings_servers_section_saves_and_tests(qtbot: Any,
                                                  keyed_llama_server: RunningServer) -> None:
    from tokenwise.core.settings import AppSettings
    from tokenwise.ui.accessibility import accessible_name, interactive_controls
    from tokenwise.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    panel = dialog.servers
    for widget in interactive_controls(panel):
        assert widget.toolTip() and accessible_name(widget), widget
    panel.name.setText("keyed")
    panel.url.setText(keyed_llama_server.base_url)
    panel.key.setText("wrong-key")
    panel.test_connection()
    qtbot.waitUntil(lambda: panel.test_button.isEnabled(), timeout=30_000)
    assert "refused the API key" in panel.result.text()
    panel.key.setText(TEST_API_KEY)
    panel.save()
    assert panel.changed and panel.list.count() == 1
    assert TEST_API_KEY not in servers.servers_path().read_text()
    assert panel.key.text() == "" and "saved" in panel.key.placeholderText()
    panel.test_connection()  # the saved key is used
    qtbot.waitUntil(lambda: panel.test_button.isEnabled(), timeout=30_000)
    result = panel.result.text()
    assert "llama.cpp llama-server" in result and "2,048" in result
    assert "Branching and step mode: yes" in result
    panel.remove()
    assert panel.list.count() == 0 and servers.load_servers() == []
    dialog.reject()


def test_step_mode_and_branch_through_llama_server(qtbot: Any,
                                                   llama_server: RunningServer) -> None:
    window, _record = _remote_window(qtbot, llama_server)
    controller = window.controller
    window.inspector.step_mode_toggled.emit(True)
    window.composer.edit.setPlainText("Count to five.")
    with qtbot.waitSignal(controller.step_waiting, timeout=TIMEOUT_MS):
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    for n in (1, 2, 3):
        with qtbot.waitSignal(controller.step_waiting, timeout=TIMEOUT_MS):
            window.inspector.step_once_requested.emit()
        qtbot.waitUntil(lambda n=n: len(controller.flow.reply.steps) == n, timeout=10_000)
    with qtbot.waitSignal(controller.reply_finished, timeout=TIMEOUT_MS) as blocker:
        window.inspector.run_to_end_requested.emit()
    window.inspector.step_mode_toggled.emit(False)
    reply_id = int(blocker.args[0])
    old = controller.flow.traces[reply_id]
    assert len(old) > 3
    at = 2
    alternative = next(c.token_id for c in old[at].candidates if c.token_id != old[at].token_id)
    controller.inspect_step(reply_id, at)
    with qtbot.waitSignal(controller.reply_finished, timeout=TIMEOUT_MS) as blocker:
        window.inspector.branch_requested.emit(at, alternative)
    new = controller.flow.traces[blocker.args[0]]
    assert [s.token_id for s in new[:at]] == [s.token_id for s in old[:at]]
    assert new[at].token_id == alternative and new[at].forced
    assert [s.index for s in new] == list(range(len(new)))
