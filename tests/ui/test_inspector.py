"""The inspector panel with steps from the real starter model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage

from tokenwise.core.interface import TOKEN_SPECIAL, ChatMessage, GenerationRequest
from tokenwise.core.sampling.pipeline import run_stages
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.json import trace_from_json
from tokenwise.core.trace.records import Step
from tokenwise.ui.inspector import InspectorPanel
from tokenwise.ui.inspector.candidates_model import ProbRole
from tokenwise.ui.inspector.stage_table import RAW, history_before, preview_stages

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SETTINGS = SamplerSettings(temperature=0.8, top_k=20, top_p=0.9, min_p=0.05,
                           repeat_penalty=1.1, seed=11, max_tokens=24)
QUESTION = "Why does a language model write one token at a time? Say 工作 too."


@pytest.fixture(scope="module")
def prompt_ids(engine: Any) -> list[int]:
    return list(engine.render_chat([ChatMessage("user", QUESTION)]).token_ids)


@pytest.fixture(scope="module")
def reply(engine: Any, prompt_ids: list[int]) -> list[Step]:
    return list(engine.generate(GenerationRequest(prompt_ids, SETTINGS)))


@pytest.fixture
def panel(qtbot: Any, engine: Any, prompt_ids: list[int], reply: list[Step]) -> InspectorPanel:
    p = InspectorPanel()
    qtbot.addWidget(p)
    p.resize(560, 900)
    p.set_vocab_size(engine.info.vocab_size)
    p.set_prompt_tokens(engine.describe(prompt_ids))
    p.set_sampler_settings(SETTINGS)
    p.set_steps(reply, SETTINGS)
    p.show()
    qtbot.waitExposed(p)
    return p


def check_table_matches_step(panel: InspectorPanel, step: Step) -> None:
    table = panel.stage_table()
    assert table.step_index == step.index
    assert [c.name for c in table.columns] == [RAW, *(s.name for s in step.stages)]
    assert [c.survivors for c in table.columns[1:]] == [s.survivors for s in step.stages]
    raw = {c.token_id: c.prob for c in step.candidates}
    for row in table.rows:
        if row.token_id in raw:
            assert row.probs[0] == raw[row.token_id]
        elif row.chosen:
            assert row.probs[0] == step.prob
        else:  # moved up by the penalties from beyond the stored raw top-K
            assert row.probs[0] != row.probs[0]
        for stage, cell in zip(step.stages, row.probs[1:], strict=True):
            if row.token_id in stage.ids:
                assert cell == stage.prob_of(row.token_id)
            else:
                assert cell is None or cell != cell  # cut, or not stored
    chosen = [r for r in table.rows if r.chosen]
    assert [r.token_id for r in chosen] == [step.token_id]
    assert pytest.approx(step.other_mass) == table.other_mass


def test_selecting_a_step_shows_exactly_the_trace_numbers(
        panel: InspectorPanel, reply: list[Step]) -> None:
    assert panel.selected_step() == len(reply) - 1  # a whole reply shows its newest step
    for index in (0, len(reply) // 2, len(reply) - 1):
        panel.select_step(index)
        step = reply[index]
        check_table_matches_step(panel, step)
        sv = panel.step_view
        assert f"Step {index + 1} of {len(reply)}" in sv.title.text()
        assert f"'{step.label}'" in sv.explanation.text()
        assert sv.timeline.selected() == index
        assert panel.tokens.reply_chips.selected() == index
        assert not sv.preview_banner.isVisible()


def test_the_candidates_model_serves_the_same_numbers(
        qtmodeltester: Any, panel: InspectorPanel, reply: list[Step]) -> None:
    panel.select_step(3)
    model = panel.candidates_model
    qtmodeltester.check(model)
    step = reply[3]
    assert model.rowCount() == len(panel.stage_table().rows)
    for r in range(model.rowCount()):
        token_id = panel.stage_table().rows[r].token_id
        cand = next((c for c in step.candidates if c.token_id == token_id), None)
        if cand is not None:
            assert model.data(model.index(r, 1), ProbRole) == cand.prob
    panel.copy_table()
    copied = QGuiApplication.clipboard().text().splitlines()
    assert copied[0].split("\t")[1:] == [c.label for c in panel.stage_table().columns]
    assert len(copied) == model.rowCount() + 1


def test_top_k_spin_limits_the_rows(panel: InspectorPanel, reply: list[Step]) -> None:
    panel.select_step(0)
    seen_first = reply[0].stages[0].ids  # the order the truncation stages saw
    for limit in (5, 50):
        panel.step_view.k_spin.setValue(limit)
        rows = panel.stage_table().rows
        expected = list(seen_first[:limit])
        expected += [c.token_id for c in reply[0].candidates
                     if c.token_id not in expected][:limit - len(expected)]
        if reply[0].token_id not in expected:
            expected.append(reply[0].token_id)
        assert [r.token_id for r in rows] == expected


def test_a_slider_change_redraws_the_stage_view_from_stored_logits(
        qtbot: Any, panel: InspectorPanel, reply: list[Step], prompt_ids: list[int]) -> None:
    index = 5
    panel.select_step(index)
    view = panel.step_view.stage_view
    before = view.grab().toImage()
    stored_final = panel.stage_table().rows[0].probs[-1]
    with qtbot.waitSignal(panel.sampler_settings_changed) as blocker:
        panel.sampling.fields["temperature"].slider.setValue(150)  # 0.8 -> 1.5
    new = blocker.args[0]
    assert new.temperature == pytest.approx(1.5)
    assert panel.is_preview()
    assert panel.step_view.preview_banner.isVisible()
    assert "What-if preview" in panel.step_view.preview_label.text()
    table = panel.stage_table()
    assert table.preview
    # the preview is the numpy pipeline on the stored logits, with the new settings
    step = reply[index]
    ids = np.array([c.token_id for c in step.candidates])
    logits = np.array([c.logit for c in step.candidates], dtype=np.float32)
    expected = run_stages(ids, logits, new, history_before(reply, index, prompt_ids))[-1]
    final = {int(i): float(p) for i, p in zip(expected.ids, expected.probs, strict=True)}
    for row in table.rows:
        if row.token_id in final:
            assert row.probs[-1] == pytest.approx(final[row.token_id], abs=1e-6)
    assert table.rows[0].probs[-1] != stored_final
    after = view.grab().toImage()
    assert after != before  # the bars were redrawn
    panel.step_view.show_stored_button.click()
    assert not panel.is_preview()
    check_table_matches_step(panel, step)


def test_a_what_if_matches_a_real_run_with_those_settings(
        engine: Any, reply: list[Step], prompt_ids: list[int]) -> None:
    """Changing only the temperature: the preview equals what the engine does."""
    new = SETTINGS.with_(temperature=1.4)
    for index in (2, 9):
        preview, note = preview_stages(reply[index], new, vocab_size=engine.info.vocab_size,
                                       stored_settings=SETTINGS)
        prefix = prompt_ids + [s.token_id for s in reply[:index]]
        real = next(iter(engine.generate(GenerationRequest(prefix, new.with_(max_tokens=1)))))
        assert note is None
        for got, want in zip(preview, real.stages, strict=True):
            assert got.name == want.name
            assert got.survivors == want.survivors
            n = min(len(got.ids), len(want.ids))
            assert got.ids[:n] == want.ids[:n]
            assert got.probs[:n] == pytest.approx(want.probs[:n], abs=1e-5)


def test_clicking_an_alternative_requests_a_branch_and_the_branch_keeps_the_prefix(
        qtbot: Any, engine: Any, panel: InspectorPanel, reply: list[Step],
        prompt_ids: list[int]) -> None:
    index = 4
    panel.select_step(index)
    table = panel.stage_table()
    row = next(i for i, r in enumerate(table.rows) if not r.chosen)
    alternative = table.rows[row].token_id
    view = panel.step_view.stage_view
    panel.step_view.stage_scroll.ensureVisible(0, int(view.row_rect(row).center().y()))
    with qtbot.waitSignal(panel.branch_requested) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                         pos=view.row_rect(row).center().toPoint())
    assert blocker.args == [index, alternative]
    # what the main window does with it: the prefix as prompt, the alternative forced
    prefix = [s.token_id for s in reply[:index]]
    branch = list(engine.generate(GenerationRequest(
        prompt_ids + prefix, SETTINGS.with_(max_tokens=4), forced_first_token=alternative)))
    version = [*reply[:index], *(_reindex(s, index) for s in branch)]
    assert [s.token_id for s in version[:index]] == prefix
    assert version[index].token_id == alternative and version[index].forced
    panel.set_steps(version, SETTINGS)
    panel.select_step(index)
    assert "(forced)" in panel.step_view.title.text()
    assert "forced by a branch" in panel.step_view.explanation.text()


def same_cells(a: tuple[float | None, ...], b: tuple[float | None, ...]) -> bool:
    def close(x: float | None, y: float | None) -> bool:
        if x is None or y is None:
            return x is y
        if x != x or y != y:  # not stored
            return x != x and y != y
        return abs(x - y) <= 1e-6 * max(1.0, abs(y))

    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))


def _reindex(step: Step, offset: int) -> Step:
    step.index += offset
    return step


def test_step_mode_adds_exactly_one_token_per_click(
        qtbot: Any, engine: Any, prompt_ids: list[int]) -> None:
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    sv = panel.step_view
    assert not sv.next_button.isEnabled()
    with qtbot.waitSignal(panel.step_mode_toggled) as toggled:
        sv.step_mode_button.click()
    assert toggled.args == [True]
    assert sv.next_button.isEnabled()
    # the worker's part, done here: one Step pulled from the generator per request
    stream = iter(engine.generate(GenerationRequest(prompt_ids, SETTINGS.with_(max_tokens=10))))
    panel.set_steps([], SETTINGS)
    panel.step_once_requested.connect(lambda: panel.append_steps([next(stream)]))
    for clicks in range(1, 4):
        with qtbot.waitSignal(panel.step_once_requested):
            sv.next_button.click()
        assert len(panel.steps()) == clicks
        assert panel.selected_step() == clicks - 1  # shows the newest distribution
    sv.stage_view.setFocus()
    with qtbot.waitSignal(panel.step_once_requested):
        qtbot.keyClick(sv.stage_view, Qt.Key.Key_Space)
    assert len(panel.steps()) == 4
    with qtbot.waitSignal(panel.step_once_requested):
        qtbot.keyClick(sv.stage_view, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert len(panel.steps()) == 5
    with qtbot.waitSignal(panel.run_to_end_requested):
        sv.run_button.click()
    assert not sv.step_mode_button.isChecked()
    with qtbot.assertNotEmitted(panel.step_once_requested):
        qtbot.keyClick(sv.stage_view, Qt.Key.Key_N)
    assert len(panel.steps()) == 5
    stream.close()


def test_heatmap_colours_the_reply_and_hover_lists_alternatives(
        qtbot: Any, panel: InspectorPanel, reply: list[Step]) -> None:
    panel.tabs.setCurrentWidget(panel.tokens)
    chips = panel.tokens.reply_chips
    qtbot.waitUntil(lambda: len(chips.items()) == len(reply))
    off = chips.grab().toImage()
    panel.tokens.heat_toggle.setChecked(True)
    assert chips.heat() and panel.tokens.legend.isVisible()
    assert chips.grab().toImage() != off
    colours = {it.heat.name() for it in chips.items() if it.heat is not None}
    assert len(colours) > 1  # different probabilities, different colours
    tip = chips.tooltip_for(2) if chips.tooltip_for else ""
    assert f"'{reply[2].label}'" in tip
    for cand in reply[2].candidates[:5]:
        assert f"'{cand.label}'" in tip
    with qtbot.waitSignal(panel.step_selected) as picked:
        qtbot.mouseClick(chips, Qt.MouseButton.LeftButton,
                         pos=chips.chip_rect(2).center().toPoint())
    assert picked.args == [2]
    assert panel.selected_step() == 2


def test_prompt_chips_mark_special_and_byte_tokens(
        engine: Any, panel: InspectorPanel, prompt_ids: list[int]) -> None:
    tokens = engine.describe(prompt_ids)
    items = panel.tokens.prompt_chips.items()
    assert [i.token_id for i in items] == prompt_ids
    special = [i for i in items if i.kind == TOKEN_SPECIAL]
    assert special and all("<|im_" in i.text for i in special)
    assert any("工" in i.builds for i in items)  # byte fragments carry the character they build
    assert panel.tokens.prompt_count.text().startswith(f"{len(tokens):,} tokens")


def test_playground_tokenizes_live_and_drops_stale_answers(
        qtbot: Any, engine: Any, panel: InspectorPanel) -> None:
    asked: list[str] = []

    def tokenize(text: str, callback: Any) -> None:
        asked.append(text)
        tokens = engine.tokenize(text)
        QTimer.singleShot(0, lambda: callback(tokens))  # answers later, like the engine thread

    panel.set_tokenize_function(None)
    assert "load a model" in panel.tokens.play_count.text()
    panel.set_tokenize_function(tokenize)
    assert panel.tokens.play_count.text() == ""  # loaded: the hint is gone
    panel.tabs.setCurrentWidget(panel.tokens)
    edit = panel.tokens.play_edit
    text = "Tokenization splits 工作 into pieces."
    edit.setPlainText(text)
    qtbot.waitUntil(lambda: len(panel.tokens.play_chips.items()) == len(engine.tokenize(text)))
    assert asked == [text]  # debounced: one request
    assert panel.tokens.play_count.text().startswith(f"{len(engine.tokenize(text))} tokens")


def test_export_json_csv_png(qtbot: Any, panel: InspectorPanel, reply: list[Step],
                             tmp_path: Path) -> None:
    from tokenwise.core.trace.export import write_trace_csv, write_trace_json
    from tokenwise.ui.inspector.export import save_png

    panel.set_model_name("SmolLM2-135M-Instruct")
    trace = panel.trace()
    back = trace_from_json(write_trace_json(trace, tmp_path / "r.json").read_text("utf-8"))
    assert [s.token_id for s in back.steps] == [s.token_id for s in reply]
    assert back.settings == SETTINGS.to_dict()
    assert back.model == "SmolLM2-135M-Instruct"
    lines = write_trace_csv(trace, tmp_path / "r.csv").read_text("utf-8-sig").splitlines()
    assert len(lines) == len(reply) + 1
    png = save_png(panel.step_view.stage_view, tmp_path / "c.png")
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() >= panel.step_view.stage_view.width()


def test_panels_survive_a_restart(qtbot: Any, reply: list[Step], panel: InspectorPanel,
                                  tokenwise_home: Path) -> None:
    from tokenwise.core.chat.store import ChatStore

    store = ChatStore()
    conv = store.create_conversation(settings=SETTINGS.to_dict())
    user = store.add_message(conv.id, None, "user", QUESTION)
    answer = store.add_message(conv.id, user.id, "assistant", "".join(s.text for s in reply),
                               settings=SETTINGS.to_dict())
    store.save_trace(answer.id, reply)
    store.close()
    panel.select_step(7)
    shown = panel.stage_table()

    reopened = ChatStore()
    steps = reopened.load_trace(answer.id)
    settings = SamplerSettings.from_dict(reopened.get_message(answer.id).settings)
    reopened.close()
    fresh = InspectorPanel()
    qtbot.addWidget(fresh)
    fresh.set_steps(steps, settings)
    fresh.select_step(7)
    again = fresh.stage_table()
    assert [r.token_id for r in again.rows] == [r.token_id for r in shown.rows]
    for a, b in zip(again.rows, shown.rows, strict=True):  # float32 in the database
        assert same_cells(a.probs, b.probs)
    assert fresh.step_view.title.text() == panel.step_view.title.text()


def test_context_menu_offers_to_continue_with_the_token(
        qtbot: Any, panel: InspectorPanel) -> None:
    from PySide6.QtGui import QContextMenuEvent

    from tokenwise.ui.inspector.stage_view import StageView

    panel.select_step(1)
    table = panel.stage_table()
    view = StageView()  # alone: the panel would open a real popup menu
    qtbot.addWidget(view)
    view.resize(520, view.sizeHint().height())
    view.set_table(table)
    row = next(i for i, r in enumerate(table.rows) if not r.chosen)
    pos = view.row_rect(row).center().toPoint()
    with qtbot.waitSignal(view.candidate_context_requested) as blocker:
        view.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                                                view.mapToGlobal(pos)))
    assert blocker.args[0] == table.rows[row].token_id
    assert isinstance(blocker.args[1], QPoint)


def test_bench_measurements_drive_the_real_panel(panel: InspectorPanel,
                                                 reply: list[Step]) -> None:
    from tokenwise.ui.bench.panels import BENCH_K, measure_select_step, measure_whatif

    whatif = measure_whatif(panel, reply, n=5, settings=SETTINGS)
    assert whatif["n"] == 5 and 0 < whatif["median_ms"] <= whatif["p99_ms"]
    assert not panel.is_preview()  # left as it was found
    assert panel.step_view.k_spin.value() == BENCH_K
    select = measure_select_step(panel, reply, n=5, settings=SETTINGS)
    assert select["n"] == 5 and select["median_ms"] > 0


def test_the_panel_offers_what_the_engine_can_do_and_says_why_not(
        qtbot: Any, engine: Any, panel: InspectorPanel) -> None:
    from tokenwise.core.interface import Capabilities

    local = engine.info.capabilities
    assert (local.stage_view, local.tokenizer, local.step_mode, local.branching,
            local.full_vocabulary) == (True, True, True, True, True)
    panel.set_tokenize_function(lambda text, done: done(engine.tokenize(text)))
    panel.set_capabilities(local)
    assert panel.step_view.step_mode_button.isEnabled()
    assert panel.tokens.play_edit.isEnabled()

    limited = Capabilities(stage_view=True, reasons=(
        ("step_mode", "the server streams whole replies."),
        ("tokenizer", "the server has no /tokenize endpoint.")))
    panel.set_capabilities(limited)
    button = panel.step_view.step_mode_button
    assert not button.isEnabled()
    assert button.toolTip() == "Step mode is unavailable: the server streams whole replies."
    assert not panel.tokens.play_edit.isEnabled()
    assert "no /tokenize endpoint" in panel.tokens.play_count.text()
    branches: list[Any] = []
    panel.branch_requested.connect(lambda *args: branches.append(args))
    panel.select_step(4)
    alternative = next(r.token_id for r in panel.stage_table().rows if not r.chosen)
    panel._branch(alternative)
    assert branches == []  # branching is not offered: nothing was asked of the engine
    assert limited.reason("branching") == "This engine cannot do that."
    assert limited.reason("stage_view") == ""
