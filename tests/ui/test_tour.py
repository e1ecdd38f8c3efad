"""The guided tour runs one real generation with the starter model, in English and in
Chinese: every stop's callout sits by its panel, the panel holds the run's data, and the
stop's text carries the same numbers, in at most about 60 words (120 Chinese characters).
A skipped tour resumes where it stopped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect

from tokenwise.core.formatting import number, percent
from tokenwise.core.tour import STOPS, example_prompt
from tokenwise.core.trace.records import STOP_REASON_TEXT
from ui.test_chinese_ui import english_left

TIMEOUT_MS = 120_000
CJK = re.compile(r"[\u4e00-\u9fff]")


def wait_for_stop(qtbot: Any, guide: Any, index: int) -> None:
    qtbot.waitUntil(lambda: guide.index == index and guide.callout.isVisible(),
                    timeout=TIMEOUT_MS)


def anchor_rect(window: Any, widget: Any) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def check_length(text: str, language: str) -> None:
    if language == "zh_CN":
        assert len(CJK.findall(text)) <= 120, text
    else:
        words = re.sub(r"'[^']*'", "T", text).split()  # a quoted token is one word
        assert len(words) <= 66, (len(words), text)  # "about 60"


def check_stop(window: Any, guide: Any, index: int, language: str) -> None:
    """The stop's panel shows the run's data, and its text names the same numbers."""
    inspector = window.inspector
    steps = inspector.steps()
    text = guide.callout.text.text()
    assert guide.callout.title.text() and text
    check_length(text, language)
    if language == "zh_CN":
        assert CJK.search(text)
        assert english_left(guide.callout, set()) == []  # the walk of test_chinese_ui
    anchor = guide.anchor_widget()
    assert anchor.isVisible()
    assert guide.ring.geometry().intersects(anchor_rect(window, anchor))
    key = STOPS[index][0]
    if key == "tokens":
        tokens = inspector.prompt_tokens()
        assert inspector.tabs.currentWidget() is inspector.tokens
        assert len(inspector.tokens.prompt_chips.items()) == len(tokens) > 5
        assert number(len(tokens)) in text
    elif key == "distribution":
        first = steps[0]
        assert inspector.selected_step() == 0
        assert number(inspector.vocab_size()) in text
        assert f"'{first.candidates[0].label}' {percent(first.candidates[0].prob)}" in text
        assert len(inspector.stage_table().rows) > 3
    elif key == "stages":
        first = steps[0]
        assert f"'{first.label}'" in text and percent(first.final_prob) in text
        assert " → " in text
        assert len(inspector.stage_table().columns) >= 3
    elif key == "append":
        assert len(steps) >= 2 and inspector.selected_step() == 1
        assert number(len(inspector.prompt_tokens()) + 1) in text
        assert f"'{steps[1].candidates[0].label}'" in text
    elif key == "stop":
        assert not window.flow.busy
        last = steps[-1]
        assert number(len(steps)) in text
        assert STOP_REASON_TEXT[last.stop_reason] in text
        assert anchor is window.chat_view.bubble(guide._message_id)
    elif key == "temperature":
        unsure = max(steps, key=lambda s: s.entropy)
        assert f"{unsure.entropy:.2f}" in text
        assert inspector.selected_step() == unsure.index
        assert anchor is inspector.sampling
    elif key == "branch":
        other = next(c for c in steps[0].candidates if c.token_id != steps[0].token_id)
        assert f"'{other.label}'" in text
        assert anchor is inspector.step_view.stage_view


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_tour_runs_end_to_end(qtbot: Any, new_window: Any, language: str) -> None:
    window = new_window(language=language, max_tokens=16)
    window.act_tour.trigger()
    guide = window.tour
    assert guide is not None
    for index in range(len(STOPS)):
        wait_for_stop(qtbot, guide, index)
        check_stop(window, guide, index, language)
        guide.callout.next_button.click()
    qtbot.waitUntil(lambda: not guide.callout.isVisible())
    assert not guide.ring.isVisible() and window.settings.tour_stop == 0
    # the run was the language's example, in step mode, with the loaded model
    user = window.chat_view.bubbles()[0]
    assert user.message.content == example_prompt(language)
    assert len(window.inspector.steps()) == 16 or window.inspector.steps()[-1].stop_reason


def test_a_skipped_tour_resumes_where_it_stopped(qtbot: Any, new_window: Any) -> None:
    window = new_window(max_tokens=12)
    window.start_tour()
    guide = window.tour
    wait_for_stop(qtbot, guide, 0)
    guide.callout.next_button.click()
    wait_for_stop(qtbot, guide, 1)
    guide.callout.next_button.click()
    wait_for_stop(qtbot, guide, 2)
    guide.callout.skip_button.click()
    assert not guide.callout.isVisible() and window.settings.tour_stop == 2
    qtbot.waitUntil(lambda: not window.flow.busy, timeout=TIMEOUT_MS)
    window.start_tour()  # Help > Tour again: a new run, straight to the third stop
    wait_for_stop(qtbot, guide, 2)
    check_stop(window, guide, 2, "en")
    guide.callout.back_button.click()
    wait_for_stop(qtbot, guide, 1)
    check_stop(window, guide, 1, "en")


def test_the_first_start_offers_the_tour_once(qtbot: Any, new_window: Any) -> None:
    window = new_window(tour_offered=False)
    offer = window.tour_offer
    assert offer.isVisible() and window.settings.tour_offered
    offer.later_button.click()
    assert not offer.isVisible() and window.tour is None
