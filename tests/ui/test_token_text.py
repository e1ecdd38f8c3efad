"""Mapping rendered Markdown back to the steps that wrote it; the no-display check."""

from __future__ import annotations

from tokenwise.core.trace.records import Step
from tokenwise.ui.app import has_display
from tokenwise.ui.chat.token_text import TokenText, align, utf16_len


def _steps(texts: list[str]) -> list[Step]:
    return [Step(i, i, t.encode(), t, 0.5, 1, 0.0, 0.0, 0.0, ()) for i, t in enumerate(texts)]


def test_align_skips_markdown_markers():
    raw = "**Bold** and `code`"
    rendered = "Bold and code"
    mapping = align(rendered, raw)
    assert [raw[i] for i in mapping] == list(rendered)


def test_markdown_reply_maps_every_visible_character_to_its_step(qtbot):
    text = TokenText()
    qtbot.addWidget(text)
    text.set_steps(_steps(["#", " Title", "\n\n", "-", " one", "\n", "-", " two"]))
    rendered = text.document().toRawText()
    assert "Title" in rendered and "one" in rendered
    start, end = text.step_range(1)
    assert rendered[start:end].strip() == "Title"
    position = rendered.index("two")
    assert text.step_at(position) == 7


def test_streamed_positions_count_utf16_units(qtbot):
    text = TokenText()
    qtbot.addWidget(text)
    text.begin_stream()
    text.append_steps(_steps(["a", "😀", "b"]))
    assert text.step_range(2) == (1 + utf16_len("😀"), 4)
    assert text.step_at(3) == 2


def test_no_display_on_linux_is_detected():
    assert not has_display({}, "linux")
    assert has_display({"DISPLAY": ":0"}, "linux")
    assert has_display({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert has_display({}, "darwin")


def test_finished_reply_positions_count_utf16_units(qtbot):
    text = TokenText()
    qtbot.addWidget(text)
    text.set_steps(_steps(["Earth ", "🌍", "🌍", " and ", "！"]))

    def shown(index: int) -> str:
        start, end = text.step_range(index)
        cursor = text.textCursor()
        cursor.setPosition(start)
        cursor.setPosition(end, cursor.MoveMode.KeepAnchor)
        return cursor.selectedText()

    assert shown(1) == "🌍" and shown(2) == "🌍"
    assert shown(4) == "！"
    assert text.step_at(utf16_len("Earth 🌍🌍") + 1) == 3
