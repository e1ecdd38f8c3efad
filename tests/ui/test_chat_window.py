"""The chat window: closing mid-reply, long and Chinese chats, tokens, heatmap, shortcuts."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
REPLY_TIMEOUT_MS = 120_000


def test_close_mid_generation_is_quick_and_loses_nothing(qtbot, new_window, store_reader):
    window = new_window(max_tokens=400)
    controller = window.controller
    window.composer.edit.setPlainText("Write a long poem about the sea.")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: controller.flow.reply is not None
                    and len(controller.flow.reply.steps) >= 10, timeout=REPLY_TIMEOUT_MS)
    reply_id = controller.flow.reply.message.id
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert not window.engine.thread_alive and not window.db.thread_alive
    names = {t.name for t in threading.enumerate()}
    assert not names & {"tokenwise-engine", "tokenwise-db"}
    shown = "".join(s.text for s in window.chat_view.bubble(reply_id).text.steps)
    store = store_reader()
    stored = store.get_message(reply_id)
    trace = store.load_trace(reply_id)
    assert stored.stop_reason == "cancelled"
    assert len(trace) >= 10
    assert stored.content == "".join(s.text for s in trace)
    assert stored.content.startswith(shown)  # every token shown was saved


def test_a_conversation_beyond_a_512_context_keeps_working(qtbot, new_window, send):
    window = new_window(n_ctx=512, max_tokens=60)
    filler = "Here is some background about the history of ships and harbours. " * 6
    finished = []
    for turn in range(5):
        reply_id = send(window, f"Question {turn + 1}: {filler} What is a harbour?")
        finished.append(window.chat_view.bubble(reply_id).message)
    assert all(m.stop_reason in ("eog", "max_tokens", "context_full") for m in finished)
    assert all(m.n_tokens > 0 for m in finished)
    notice = window.chat_view._notice
    assert notice.isVisible() and "left out" in notice.text()
    assert len(window.controller.flow.path) == 10


def test_a_chinese_conversation_renders_without_replacement_characters(qtbot, window, send):
    reply_id = send(window, "请用中文介绍一下长城。")
    user = window.controller.flow.path[-2]
    assert window.chat_view.bubble(user.id).text.toPlainText() == "请用中文介绍一下长城。"
    reply = window.chat_view.bubble(reply_id)
    text = reply.text.toPlainText()
    content = reply.text_content()
    assert content.strip()
    assert "\ufffd" not in text and "\ufffd" not in content
    assert any(ord(ch) > 0x2E80 for ch in content), "expected some CJK text in the reply"


def _click_token(qtbot, text_widget, index: int) -> None:
    start, end = text_widget.step_range(index)
    cursor = QTextCursor(text_widget.document())
    cursor.setPosition(start + (end - start) // 2)
    rect = text_widget.cursorRect(cursor)
    qtbot.mouseClick(text_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(rect.center().x() + 1, rect.center().y()))


def test_clicking_a_token_selects_its_step_in_the_inspector(qtbot, window, send):
    reply_id = send(window, "List three rivers.")
    text = window.chat_view.bubble(reply_id).text
    target = next(i for i in range(1, len(text.steps))
                  if text.step_range(i)[1] - text.step_range(i)[0] >= 2)
    with qtbot.waitSignal(window.chat_view.step_clicked) as blocker:
        _click_token(qtbot, text, target)
    assert blocker.args == [reply_id, target]
    assert text.selected_step == target
    selections = text.extraSelections()
    selected = QTextCursor(selections[0].cursor)
    assert (selected.selectionStart(), selected.selectionEnd()) == text.step_range(target)
    inspector = window.inspector
    if hasattr(inspector, "current_step"):
        assert inspector.current_step() == target


def test_heatmap_colours_tokens_and_hover_lists_alternatives(qtbot, window, send):
    from tokenwise.ui.chat.token_text import tooltip_html

    window.act_heatmap.setChecked(False)
    reply_id = send(window, "Name two planets.")
    text = window.chat_view.bubble(reply_id).text
    start, _end = text.step_range(0)
    cursor = QTextCursor(text.document())
    cursor.setPosition(start + 1)
    assert cursor.charFormat().background().style() == Qt.BrushStyle.NoBrush
    window.act_heatmap.trigger()  # on: Ctrl+H
    assert window.act_heatmap.shortcut().toString() == "Ctrl+H"
    cursor = QTextCursor(text.document())
    cursor.setPosition(start + 1)
    assert cursor.charFormat().background().style() != Qt.BrushStyle.NoBrush
    assert window.chat_view._legend_row.isVisibleTo(window)
    step = text.steps[0]
    html = tooltip_html(step)
    assert html.count("<tr>") == min(5, len(step.candidates))


def test_every_menu_action_has_a_tooltip_and_the_common_ones_shortcuts(window):
    expected = {"act_new": "Ctrl+N", "act_stop": "Esc", "act_regenerate": "Ctrl+R",
                "act_focus": "Ctrl+L", "act_search": "Ctrl+F", "act_inspector": "Ctrl+I",
                "act_heatmap": "Ctrl+H", "act_settings": "Ctrl+,", "act_models": "Ctrl+M",
                "act_quit": "Ctrl+Q"}
    for name, keys in expected.items():
        action = getattr(window, name)
        assert action.shortcut().toString() == keys, name
        assert keys in action.toolTip(), name
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            assert action.isSeparator() or action.toolTip(), action.text()


def test_conversations_can_be_renamed_searched_and_deleted(qtbot, window, send, store_reader):
    send(window, "Tell me about owls.")
    conv_id = window.controller.flow.conversation.id
    with qtbot.waitSignal(window.controller.conversations_listed, timeout=10_000):
        window.sidebar.rename_requested.emit(conv_id, "Owls")
    assert window.sidebar.model.data(window.sidebar.model.index(0)) == "Owls"
    with qtbot.waitSignal(window.controller.conversations_listed, timeout=10_000):
        window.sidebar.search.setText("nothing like this")
    assert window.sidebar.model.rowCount() == 0
    with qtbot.waitSignal(window.controller.conversations_listed, timeout=10_000):
        window.sidebar.search.setText("")
    assert window.sidebar.model.rowCount() == 1
    with qtbot.waitSignal(window.controller.conversations_listed, timeout=10_000):
        window.sidebar.delete_requested.emit(conv_id)
    assert window.sidebar.model.rowCount() == 0
    assert window.db.flush(5.0)
    assert store_reader().list_conversations() == []


def test_a_model_chosen_in_the_models_window_is_loaded(qtbot, window, tmp_path,
                                                       starter_model_path):
    import shutil

    from tokenwise.core.models.library import Library

    copy = tmp_path / "my-model.gguf"
    shutil.copyfile(starter_model_path, copy)
    Library().import_model(copy, copy=False)
    window.open_models()
    models = window._models_window
    assert models.isVisible()
    with qtbot.waitSignal(window.controller.model_loaded, timeout=120_000):
        models.model_chosen.emit(str(copy))
    assert window.model_picker.currentData() == str(copy)
    assert window.model_picker.findData(str(copy)) >= 0
    models.close()


def test_the_models_are_listed_off_the_gui_thread_at_start(new_window, starter_model_path,
                                                           monkeypatch):
    from tokenwise.core.models.library import Library

    listed_on: list[str] = []
    original = Library.list_models

    def noting_the_thread(self):
        listed_on.append(threading.current_thread().name)
        return original(self)

    monkeypatch.setattr(Library, "list_models", noting_the_thread)
    window = new_window()  # shown, and the model chosen from the list is loaded
    assert listed_on and set(listed_on) == {"tokenwise-library"}
    assert window.model_picker.currentData() == str(starter_model_path)


def test_messages_fit_a_narrow_chat_column(qtbot, window, send):
    """With the inspector open beside it, no card reaches under the splitter."""
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    reply_id = send(window, "Give me three tips for learning Chinese.")
    view = window.chat_view
    user = view.bubble(window.controller.flow.path[-2].id)
    reply = view.bubble(reply_id)
    viewport = view._scroll.viewport()
    # the layout settles on the event loop: wait for it, not for a fixed time
    qtbot.waitUntil(lambda: view._canvas.width() <= viewport.width(), timeout=2000)
    for bubble in (user, reply):
        right = bubble.mapTo(viewport, QPoint(bubble.width(), 0)).x()
        assert right <= viewport.width()
        for button in bubble.findChildren(type(bubble.copy_button)):
            if button.isVisible():
                assert button.mapTo(viewport, QPoint(button.width(), 0)).x() <= viewport.width()


def test_messages_say_when_they_were_written(qtbot, window, send) -> None:
    from PySide6.QtCore import QDate, QDateTime, QLocale, QTime

    from tokenwise.ui.chat.bubble import message_time

    before = time.time()
    reply_id = send(window, "Hello!")
    user = window.chat_view.bubble(window.controller.flow.path[-2].id)
    reply = window.chat_view.bubble(reply_id)
    for bubble in (user, reply):
        stamp = bubble.message.created_at
        assert before - 1 <= stamp <= time.time()
        shown = QLocale().toString(QDateTime.fromMSecsSinceEpoch(round(stamp * 1000)).time(),
                                   QLocale.FormatType.ShortFormat)
        assert bubble._time.text() == shown  # today: the time alone
        assert bubble._time.toolTip()

    noon = QDateTime(QDate(2025, 3, 9), QTime(12, 30))
    stamp = noon.toMSecsSinceEpoch() / 1000
    saved = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    try:
        assert message_time(stamp, today=QDate(2025, 3, 9))[0] == "12:30"
        assert message_time(stamp, today=QDate(2025, 7, 1))[0] == "9 Mar, 12:30"
        assert message_time(stamp, today=QDate(2026, 1, 2))[0] == "9 Mar 2025, 12:30"
    finally:
        QLocale.setDefault(saved)
    assert message_time(0.0) == ("", "")


def test_a_damaged_history_at_start_is_kept_aside_with_a_message(
        qtbot, new_window, send, tokenwise_home):
    from tokenwise.core import paths

    database = paths.database_path()
    database.write_bytes(b"\x00garbage, not SQLite" * 500)
    errors = []
    window = new_window()
    window.controller.error_reported.connect(errors.append)
    qtbot.waitUntil(lambda: any("damaged" in e for e in errors) or "damaged" in
                    window.statusBar().currentMessage(), timeout=30_000)
    kept = list(database.parent.glob("tokenwise.db.damaged-*"))
    assert kept and kept[0].read_bytes().startswith(b"\x00garbage")
    reply = send(window, "Hello again")  # the new history works
    assert reply > 0


def test_focus_starts_in_the_message_box_and_enter_while_loading_sends_once_loaded(
        qtbot, starter_model_path):
    from tokenwise.core.sampling.settings import PRESETS
    from tokenwise.core.settings import load_settings, save_settings
    from tokenwise.ui.app import create_window

    settings = load_settings()
    settings.sampler = PRESETS["Greedy"].with_(max_tokens=8)
    save_settings(settings)
    window = create_window()
    qtbot.addWidget(window)
    window.show()
    assert window.focusWidget() is window.composer.edit  # typing goes straight in
    assert window.flow.model_info is None  # still loading
    window.composer.edit.setPlainText("Hello there")
    with qtbot.waitSignal(window.controller.reply_finished, timeout=120_000):
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
        assert window.composer.waiting_for_model  # kept, not dropped
        assert window.composer.edit.toPlainText() == "Hello there"
    assert window.flow.path[0].content == "Hello there"
    assert not window.composer.waiting_for_model
