"""The decoding strategies lab in the real window, on the starter model: Compare columns fill
in on the engine's thread, reproduce with their seed, cancel, export; Score shows every token."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tokenwise.ui.lab.column import KIND_BEAM, KIND_GREEDY, KIND_OFF, KIND_SAMPLE

TIMEOUT_MS = 300_000


def _open_lab(window: Any) -> Any:
    window.act_compare.trigger()
    lab = window.lab
    assert lab is not None and lab.isVisible()
    assert lab.tabs.currentIndex() == 0
    return lab


def _run(qtbot: Any, lab: Any) -> None:
    lab.run_button.click()
    qtbot.waitUntil(lambda: not lab.busy, timeout=TIMEOUT_MS)


def test_compare_columns(qtbot: Any, window: Any, tmp_path: Path) -> None:
    lab = _open_lab(window)
    lab.prompt.setPlainText("Name three primary colours.")
    lab.max_tokens.setValue(16)
    kinds = (KIND_GREEDY, KIND_BEAM, KIND_SAMPLE, KIND_SAMPLE)
    for column, kind in zip(lab.columns, kinds, strict=True):
        column.kind.setCurrentIndex(kind)
    lab.columns[1].width_spin.setValue(2)
    lab.columns[2].top_p.setValue(0.9)
    lab.columns[2].seed.setValue(11)
    lab.columns[3].temperature.setValue(0.8)
    assert not lab.columns[0].width_spin.isVisible() or not lab.isVisible()
    _run(qtbot, lab)
    results = [c.result for c in lab.columns]
    assert [r.strategy for r in results] == ["greedy", "beam:2", "top-p:0.9", "temp:0.8"]
    for column, result in zip(lab.columns, results, strict=True):
        assert 0 < len(result.token_ids) <= 16
        assert "perplexity" in column.summary.text()
        assert "background-color" in column.text.toHtml()
    assert results[1].beam is not None and results[1].beam.best is not None
    _check_beam_tree(qtbot, lab, results[1].beam)
    first = results[2].token_ids
    _run(qtbot, lab)
    assert lab.columns[2].result.token_ids == first  # the seed draws the same reply again

    lab.export_json(tmp_path / "c.json")
    data = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert [c["strategy"] for c in data["columns"]] == [r.strategy for r in results]
    assert lab.export_png(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_cancel_stops_a_column_between_steps(qtbot: Any, window: Any) -> None:
    lab = _open_lab(window)
    lab.prompt.setPlainText("Write a very long story about a lighthouse keeper.")
    lab.max_tokens.setValue(400)
    for column, kind in zip(lab.columns, (KIND_GREEDY, KIND_OFF, KIND_OFF, KIND_OFF),
                            strict=True):
        column.kind.setCurrentIndex(kind)
    column = lab.columns[0]
    lab.run_button.click()
    qtbot.waitUntil(lambda: column.progress.value() >= 3, timeout=TIMEOUT_MS)
    column.cancel.click()
    qtbot.waitUntil(lambda: not lab.busy, timeout=TIMEOUT_MS)
    assert column.result is not None
    assert column.result.stop_reason == "cancelled"
    assert len(column.result.token_ids) < 400
    # nothing lost: the chat still answers afterwards
    window.composer.edit.setPlainText("Hello")
    with qtbot.waitSignal(window.controller.reply_finished, timeout=TIMEOUT_MS):
        window.composer._submit()


def test_score_tab(qtbot: Any, window: Any) -> None:
    window.act_score.trigger()
    lab = window.lab
    assert lab.tabs.currentIndex() == 1
    score = lab.score
    score.input.setPlainText("The cat sat on the mat. The cat sat on the banana.")
    with qtbot.waitSignal(lab.score_finished, timeout=TIMEOUT_MS):
        score.score_button.click()
    result = score.scored.result
    assert result.n_tokens > 5
    assert score.table.rowCount() == result.n_tokens
    assert "perplexity" in score.summary.text()
    assert "one at a time" in score.summary.text()
    banana = next(r for r in range(score.table.rowCount())
                  if score.table.item(r, 1).text() == "' banana'")
    assert score.table.item(banana, 2).text().startswith(("0.0", "<"))
    # an empty text: a clear message, the old result kept on screen
    score.input.setPlainText("   ")
    with qtbot.waitSignal(lab.score_finished, timeout=TIMEOUT_MS):
        score.score_button.click()
    assert "empty" in score.summary.text()


def _check_beam_tree(qtbot: Any, lab: Any, search: Any) -> None:
    tree = lab.tree
    assert tree.result is search
    assert "no sampler stages" in tree.note.text()
    n_ext = sum(len(step.extensions) for step in search.steps)
    assert len(tree.nodes) == 1 + n_ext
    best = search.best
    node = tree.nodes[best.beam]
    assert best.text.strip()[:8] in node.toolTip()
    assert not tree.open_button.isEnabled()
    tree.select(best.beam)
    assert tree.open_button.isEnabled()
    assert "no sampler stages" in tree.step_text.text()
    with qtbot.waitSignal(tree.hypothesis_chosen) as blocker:
        tree.open_button.click()
    assert blocker.args[0] is best
    pruned = [b for b in tree.nodes if b < 0]
    if pruned:
        tree.select(pruned[0])
        assert not tree.open_button.isEnabled()
        assert "pruned" in tree.step_text.text()
    lab.tabs.setCurrentIndex(2)
    assert tree.isVisible()


def test_a_finished_beam_opens_as_a_new_version_of_the_reply(qtbot: Any, window: Any,
                                                             send: Any) -> None:
    first_reply = send(window, "Name three primary colours.")
    lab = _open_lab(window)
    assert lab.prompt.toPlainText() == "Name three primary colours."
    lab.max_tokens.setValue(16)
    for column, kind in zip(lab.columns, (KIND_OFF, KIND_BEAM, KIND_OFF, KIND_OFF),
                            strict=True):
        column.kind.setCurrentIndex(kind)
    lab.columns[1].width_spin.setValue(2)
    _run(qtbot, lab)
    search = lab.tree.result
    best = search.best
    lab.tree.select(best.beam)
    lab.tree.open_button.click()
    flow = window.flow
    qtbot.waitUntil(lambda: flow.path[-1].id != first_reply, timeout=TIMEOUT_MS)
    reply = flow.path[-1]
    assert reply.role == "assistant" and reply.content == best.text
    assert reply.version_count == 2
    steps = flow.traces[reply.id]
    assert [s.token_id for s in steps] == list(best.token_ids)
    for step, lp in zip(steps, best.logprobs, strict=True):
        assert step.stages == ()  # a beam search has no sampler stages
        assert abs(step.prob - math.exp(lp)) < 1e-12
        assert step.candidates and step.rank >= 1
    assert "".join(s.text for s in steps) == best.text
