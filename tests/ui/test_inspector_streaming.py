"""Streaming into the inspector: it follows the newest step, and does no work while hidden."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.records import Step
from tokenwise.ui.inspector import InspectorPanel

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SETTINGS = SamplerSettings(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05, seed=3,
                           max_tokens=30)


@pytest.fixture(scope="module")
def reply(starter_model_path: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Step]]:
    from tokenwise.core import paths
    from tokenwise.core.engine.local import Engine

    paths.set_base(tmp_path_factory.mktemp("streaming-home"))
    engine = Engine(starter_model_path, n_ctx=1024)
    paths.set_base(None)
    ids = engine.render_chat([ChatMessage("user", "Tell me about rivers.")]).token_ids
    yield list(engine.generate(GenerationRequest(ids, SETTINGS)))
    engine.close()


def batches(steps: list[Step], size: int = 3) -> Iterator[list[Step]]:
    for i in range(0, len(steps), size):
        yield steps[i:i + size]


def test_streaming_follows_the_newest_step(qtbot: Any, reply: list[Step]) -> None:
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_steps([], SETTINGS)
    for batch in batches(reply):
        panel.append_steps(batch)
    assert len(panel.steps()) == len(reply)
    assert panel.selected_step() == len(reply) - 1
    # the redraw is throttled: the last one lands when the timer fires
    qtbot.waitUntil(lambda: panel.stage_table().step_index == reply[-1].index)
    assert panel.step_view.timeline.count() == len(reply)


def test_looking_back_stops_following_until_the_newest_is_picked(
        qtbot: Any, reply: list[Step]) -> None:
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    half = len(reply) // 2
    panel.set_steps(reply[:half], SETTINGS)
    with qtbot.assertNotEmitted(panel.step_selected):
        panel.select_step(2)  # the main window's call: no echo back
    panel.append_steps(reply[half:half + 2])
    assert panel.selected_step() == 2
    panel.select_step(half + 1)  # the newest again: following resumes
    panel.append_steps(reply[half + 2:half + 4])
    assert panel.selected_step() == half + 3


def test_a_hidden_panel_does_no_work_until_shown(qtbot: Any, reply: list[Step]) -> None:
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.set_steps([], SETTINGS)
    for batch in batches(reply):
        panel.append_steps(batch)
    assert panel.stage_table().step_index == -1  # nothing computed while hidden
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.stage_table().step_index == reply[-1].index
