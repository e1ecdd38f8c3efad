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
from tokenwise.core.interface import TOKEN_BYTE
from tokenwise.core.tour import STOPS, example_prompt
from tokenwise.core.trace.records import STOP_REASON_TEXT
from ui.test_chinese_ui import english_left

TIMEOUT_MS = 300_000
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
    assert guide.ring.geometry().intersects(anchor_rect(guide.frame, anchor))
    key = STOPS[index][0]
    if key == "tokens":
        tokens = inspector.prompt_tokens()
        assert inspector.tabs.currentWidget() is inspector.tokens
        # the chat template's turns (the starter), or raw text after BOS (Gemma, in Chinese)
        assert len(inspector.tokens.prompt_chips.items()) == len(tokens) > (
            1 if window.flow.raw_text else 5)
        assert number(len(tokens)) in text
        shown = [c for c in inspector.tokens.prompt_chips.items() if c.kind == TOKEN_BYTE]
        assert len(shown) == sum(1 for t in tokens if t.kind == TOKEN_BYTE)
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
    elif key == "lab":
        check_lab_stop(window, guide, text, language)


def check_lab_stop(window: Any, guide: Any, text: str, language: str) -> None:
    """The lab ran greedy and a beam search on the tour's prompt and scored the reply: the
    callout sits on the lab's Score tab and names the run's own totals and times."""
    lab = window.lab
    assert lab is not None and lab.isVisible() and guide.frame is lab
    assert guide.callout.parent() is lab and anchor_is(guide, lab.score)
    assert lab.tabs.currentWidget() is lab.score
    assert lab.prompt.toPlainText() == example_prompt(language)
    greedy, beam = lab.columns[0].result, lab.columns[1].result
    assert greedy is not None and greedy.kind == "greedy" and greedy.token_ids
    assert beam is not None and beam.beam is not None and beam.token_ids
    assert f"{greedy.total_logprob:.2f}" in text and f"{beam.total_logprob:.2f}" in text
    assert lab.tree.result is beam.beam and lab.tree.nodes  # the Beam tree tab is drawn
    scored = lab.score.scored
    assert scored is not None and scored.result.n_tokens > 0
    assert lab.score.table.rowCount() == len(scored.result.tokens) > 0
    assert f"{scored.result.seconds:.3f}" in text
    assert f"{scored.generation_estimate_s:.2f}" in text
    assert f"{scored.result.seconds:.3f}" in lab.score.summary.text()
    reply = b"".join(s.piece for s in window.inspector.steps()).decode("utf-8", "replace")
    assert lab.score.input.toPlainText() == reply.strip()
    if language == "zh_CN":
        assert english_left(lab, set()) == []


def anchor_is(guide: Any, widget: Any) -> bool:
    return guide.anchor_widget() is widget


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
    if language == "zh_CN":
        # the starter writes English only: the Chinese tour ran on Gemma-3-270M, as raw text
        assert "gemma" in window.flow.model_info.path.lower()
        reply = b"".join(s.piece for s in window.inspector.steps()).decode("utf-8", "replace")
        assert len(CJK.findall(reply)) >= 3, reply
        assert len(window.inspector.prompt_tokens()) <= 4  # BOS and the prompt: no template


def test_the_chinese_tour_without_a_chinese_model_runs_on_the_starter(
        qtbot: Any, new_window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import tokenwise.ui.tour_model as tour_model

    monkeypatch.setattr(tour_model, "gemma_installed", lambda: False)
    window = new_window(language="zh_CN", max_tokens=6)
    assert window.language_notice.isVisible()  # it offers the Qwen download
    window.start_tour()
    assert window.status.currentMessage() == tour_model.no_model_message()
    assert "Qwen2.5 0.5B Instruct" in tour_model.no_model_message()
    guide = window.tour
    wait_for_stop(qtbot, guide, 0)
    assert "SmolLM2" in window.flow.model_info.path and not window.flow.raw_text
    check_stop(window, guide, 0, "zh_CN")
    # the starter's small vocabulary splits Chinese into byte tokens, and stop 1 shows them
    assert any(c.kind == TOKEN_BYTE for c in window.inspector.tokens.prompt_chips.items())
    guide.skip()


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
