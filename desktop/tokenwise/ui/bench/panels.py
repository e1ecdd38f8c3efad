"""Inspector timings for ``tokenwise bench --ui``: what-if redraw and step selection.

Each measured action ends with the stage view repainted synchronously and the event queue
drained (label and chart repaints included), so the figure is what a user waits for.
Steps come from a real model with K=50 candidates stored per step; the worst model counts.

Keys: whatif_redraw_median_ms, whatif_redraw_p99_ms, select_step_median_ms
(plus per-model figures under ``inspector_models``).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from tokenwise.core.formatting import percentile
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.records import Step

BENCH_K = 50
BENCH_SETTINGS = SamplerSettings(temperature=0.8, top_k=40, top_p=0.95, min_p=0.02,
                                 repeat_penalty=1.1, seed=5, max_tokens=48)
PROMPT = "Explain, step by step, why a language model writes one token at a time."


def _summary(times_ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times_ms), 3),
        "p99_ms": round(percentile(times_ms, 99), 3),
        "n": len(times_ms),
    }


def _prepare(panel: Any, steps: list[Step], settings: SamplerSettings) -> Any:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    assert app is not None, "a QApplication must exist"
    panel.step_view.k_spin.setValue(BENCH_K)
    panel.set_sampler_settings(settings)
    panel.set_steps(steps, settings)
    panel.tabs.setCurrentIndex(0)
    if not panel.isVisible():
        panel.resize(560, 960)
        panel.show()
    app.processEvents()
    return app


def _timed(app: Any, action: Callable[[], None], repaint: Any) -> float:
    t0 = time.perf_counter()
    action()
    repaint.repaint()
    app.processEvents()
    return (time.perf_counter() - t0) * 1000.0


def measure_whatif(panel: Any, steps: list[Step], n: int = 200,
                   settings: SamplerSettings = BENCH_SETTINGS) -> dict[str, float]:
    """Median and p99 of: temperature slider moved -> stage view recomputed and repainted."""
    app = _prepare(panel, steps, settings)
    panel.select_step(len(steps) // 2)
    slider = panel.sampling.fields["temperature"].slider
    view = panel.step_view.stage_view
    values = [slider.minimum() + 10 + (i * 7) % max(1, slider.maximum() - 20) for i in range(n)]
    for v in values[:10]:  # warm up caches (fonts, glyphs)
        _timed(app, partial(slider.setValue, v), view)
    times = [_timed(app, partial(slider.setValue, v), view) for v in values]
    panel.show_stored()
    return _summary(times)


def measure_select_step(panel: Any, steps: list[Step], n: int = 200,
                        settings: SamplerSettings = BENCH_SETTINGS) -> dict[str, float]:
    """Median and p99 of: a step selected -> stage view, header and timeline redrawn."""
    app = _prepare(panel, steps, settings)
    view = panel.step_view.stage_view
    order = [(i * 17) % len(steps) for i in range(n)]
    for i in order[:10]:
        _timed(app, partial(panel.select_step, i), view)
    times = [_timed(app, partial(panel.select_step, i), view) for i in order]
    return _summary(times)


# ---------------------------------------------------------------- steps from real models

def steps_from_model(path: str | Path, *, k: int = BENCH_K,
                     settings: SamplerSettings = BENCH_SETTINGS) -> tuple[list[Step], int, str]:
    """A real reply with ``k`` candidates stored per step: (steps, vocab size, model name)."""
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.interface import ChatMessage, GenerationRequest

    engine = Engine(path, n_ctx=1024)
    try:
        if engine.info.has_chat_template:
            ids = engine.render_chat([ChatMessage("user", PROMPT)]).token_ids
        else:
            ids = engine.token_ids(PROMPT, add_special=True)
        request = GenerationRequest(list(ids), settings, top_k_display=k,
                                    extra={"ignore_eog": True})
        steps = list(engine.generate(request))
        return steps, engine.info.vocab_size, engine.info.name
    finally:
        engine.close()


def bench_models() -> list[tuple[str, Path]]:
    from tokenwise.core.errors import ModelNotFoundError
    from tokenwise.core.models.starter import gemma_bench_model_path, starter_model_path

    models = [("starter", starter_model_path())]
    # without the bench extra: the starter alone
    with contextlib.suppress(ImportError, ModelNotFoundError):
        models.append(("gemma-3-270m", gemma_bench_model_path()))
    return models


def run(n: int = 200) -> dict[str, Any]:
    """Measure on every bench model; the top-level keys are the worst figures."""
    from PySide6.QtWidgets import QApplication

    from tokenwise.ui.inspector import InspectorPanel

    app = QApplication.instance() or QApplication([])
    per_model: dict[str, Any] = {}
    for name, path in bench_models():
        steps, vocab, _ = steps_from_model(path)
        panel = InspectorPanel()
        panel.set_vocab_size(vocab)
        whatif = measure_whatif(panel, steps, n)
        select = measure_select_step(panel, steps, n)
        per_model[name] = {"vocab_size": vocab, "steps": len(steps), "k": BENCH_K,
                           "whatif": whatif, "select_step": select}
        panel.close()
        panel.deleteLater()
        app.processEvents()
    models = per_model.values()
    return {
        "whatif_redraw_median_ms": max(m["whatif"]["median_ms"] for m in models),
        "whatif_redraw_p99_ms": max(m["whatif"]["p99_ms"] for m in models),
        "select_step_median_ms": max(m["select_step"]["median_ms"] for m in models),
        "inspector_models": per_model,
    }


if __name__ == "__main__":
    import json
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(json.dumps(run(), indent=1))  # noqa: T201
