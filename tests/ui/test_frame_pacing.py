"""Streaming replies are drawn within a CPU budget: the pacer, then the real window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tokenwise.ui.chat import pacing
from tokenwise.ui.chat.pacing import FramePacer

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
REPLY_TIMEOUT_MS = 120_000


class _Clocks:
    """Wall time and the GUI thread's CPU time, advanced by the simulation."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0


def _run(pacer: FramePacer, clocks: _Clocks, cost_s: float, frames: int) -> list[float]:
    """Each frame costs ``cost_s`` of CPU; the next comes after the interval asked for."""
    intervals = []
    interval = pacer.interval_s
    for _ in range(frames):
        clocks.wall += interval
        clocks.cpu += cost_s
        interval = pacer.frame_drawn()
        intervals.append(interval)
    return intervals


def _pacer(clocks: _Clocks, budget: float = 0.025) -> FramePacer:
    pacer = FramePacer(budget=budget, cpu=lambda: clocks.cpu, clock=lambda: clocks.wall)
    pacer.start()
    return pacer


@pytest.mark.parametrize("cost_ms", [1.0, 1.5, 2.0])
def test_the_interval_settles_where_drawing_takes_the_budget(cost_ms: float) -> None:
    clocks = _Clocks()
    pacer = _pacer(clocks)
    intervals = _run(pacer, clocks, cost_ms / 1000, 400)
    expected = cost_ms / 1000 / 0.025  # the CPU share cost / interval equals the budget
    assert intervals[-1] == pytest.approx(expected, rel=0.05)
    assert pacer.share == pytest.approx(0.025, rel=0.05)


def test_cheap_frames_keep_the_shortest_interval_and_costly_ones_the_longest() -> None:
    clocks = _Clocks()
    cheap = _pacer(clocks)
    assert set(_run(cheap, clocks, 0.0002, 200)) == {pacing.MIN_INTERVAL_S}
    costly = _pacer(clocks)
    assert _run(costly, clocks, 0.02, 200)[-1] == pacing.MAX_INTERVAL_S


def test_the_interval_changes_only_once_a_window_has_been_measured() -> None:
    clocks = _Clocks()
    pacer = _pacer(clocks)
    clocks.wall += pacing.WINDOW_S / 2
    clocks.cpu += 0.05  # very busy, but for too short a time to judge
    assert pacer.frame_drawn() == pacing.MIN_INTERVAL_S
    clocks.wall += pacing.WINDOW_S
    assert pacer.frame_drawn() > pacing.MIN_INTERVAL_S


def test_a_faster_machine_later_gets_the_short_interval_back() -> None:
    clocks = _Clocks()
    pacer = _pacer(clocks)
    _run(pacer, clocks, 0.01, 100)
    assert pacer.interval_s == pacing.MAX_INTERVAL_S
    assert _run(pacer, clocks, 0.0001, 100)[-1] == pacing.MIN_INTERVAL_S


# ---------------------------------------------------------------------- the real window


def test_a_streaming_reply_is_drawn_in_paced_frames_and_ends_exact(qtbot, new_window,
                                                                    store_reader):
    from tokenwise.ui.chat import controller as controller_module
    from tokenwise.ui.chat.token_text import STREAM_ROOM_LINES

    window = new_window(max_tokens=160)
    controller = window.controller
    draws: list[int] = []
    heights: list[int] = []
    stats: list[dict] = []
    original = controller._draw_pending

    def draw() -> None:
        count = len(controller._pending)
        original()
        if count:
            draws.append(count)
            bubble = window.chat_view.streaming_bubble
            if bubble is not None:
                heights.append(bubble.text.height())

    controller._draw_pending = draw
    streaming_rates: list[float] = []  # the speed shown while the reply streams

    def on_stats(values: dict) -> None:
        stats.append(values)
        if window.chat_view.streaming_bubble is not None and "tokens_per_second" in values:
            streaming_rates.append(values["tokens_per_second"])

    controller.stats_changed.connect(on_stats)
    window.composer.edit.setPlainText("Write a long story about a lighthouse keeper.")
    with qtbot.waitSignal(controller.reply_finished, timeout=REPLY_TIMEOUT_MS) as blocker:
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    reply = window.chat_view.bubble(int(blocker.args[0]))
    steps = controller.flow.traces[reply.message.id]
    seconds = reply.message.n_tokens / reply.message.tokens_per_second

    # the inspector shows the last step as soon as the reply ends, not at its next tick
    count = len(steps)
    assert window.inspector.step_view.title.text().startswith(f"Step {count} of {count}")
    # every token drawn once, in batches no more often than the shortest frame allows
    assert sum(draws) == len(steps) == reply.message.n_tokens
    assert len(draws) <= seconds / pacing.MIN_INTERVAL_S + 3
    # the streamed text grew a few lines at a time, and fits its text exactly at the end
    room = STREAM_ROOM_LINES * reply.text.fontMetrics().lineSpacing()
    assert heights and all(h % room == 0 for h in heights)
    doc = reply.text.document()
    assert reply.text.height() == int(doc.size().height()) + 2 * reply.text.frameWidth() + 2
    # the context meter followed a few times a second, and shows the final count
    used = [s["context_used"] for s in stats if "context_used" in s]
    assert len(used) <= seconds * 1000 / controller_module.STATS_MS + 3
    saved: list[int] = []  # the final save may still be on its way to the database

    def prompt_saved() -> bool:
        saved.append(store_reader().get_message(reply.message.id).prompt_tokens)
        return saved[-1] > 0

    qtbot.waitUntil(prompt_saved, timeout=10_000)
    prompt_tokens = saved[-1]
    assert used[-1] == prompt_tokens + len(steps)
    # the speed is shown while the reply streams, and the engine's own figure at the end
    assert len(streaming_rates) >= 2 and all(rate > 0 for rate in streaming_rates)
    rates = [s["tokens_per_second"] for s in stats if "tokens_per_second" in s]
    assert rates[-1] == pytest.approx(reply.message.tokens_per_second)
    assert window.status.speed_label.text().startswith(f"{reply.message.tokens_per_second:.1f}")
    # the engine sends a batch per frame: the gate carries the pacer's interval
    assert controller.flow.writer.gate.emit_interval_s == pytest.approx(
        controller.frame_interval_s)
    assert window.status.context_meter.value() == used[-1]
