"""The probability colours are never the only carrier of their meaning: wherever a token is
shaded by its probability, the same number is written out (the token's tooltip in the chat
and in the tokens panel, the step table's cells, the timeline's words for a screen reader)."""

from __future__ import annotations

from typing import Any

from tokenwise.core.formatting import percent, percent_column
from tokenwise.ui.chat.token_text import tooltip_html
from tokenwise.ui.inspector.candidates_model import ChosenRole
from tokenwise.ui.inspector.heatmap import alternatives_text


def test_every_shaded_token_has_its_probability_in_words(window: Any, send: Any) -> None:
    message_id = send(window, "Name three colours.")
    steps = window.chat_view.bubble(message_id).text.steps
    assert len(steps) > 3
    panel = window.inspector
    for i, step in enumerate(steps):
        assert f"{step.prob:.1%}" in tooltip_html(step)  # the chat's heatmap
        assert percent(step.prob) in alternatives_text(step)  # the tokens panel's chips
        assert percent_column(step.prob) in panel.step_view.timeline.step_text(i)
        panel.select_step(i)
        model = panel.candidates_model
        chosen = next(r for r in range(model.rowCount())
                      if model.index(r, 0).data(ChosenRole))
        raw = model.index(chosen, 1).data()
        assert raw == percent_column(step.prob)
