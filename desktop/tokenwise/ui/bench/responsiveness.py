"""``tokenwise bench --ui``: the real window, offscreen, with the starter model.

Figures (one JSON object; the inspector adds its own keys elsewhere):
- window_shown_s: a fresh process from launch to the window shown (imports included);
- event_loop_p99_ms: the GUI loop's lateness p99 while a reply streams at full speed,
  from a 5 ms timer probe;
- append_cost_ratio: cost of appending token 2000 of a reply / token 100 (median of 21
  tokens around each; each append includes the layout and a synchronous repaint);
- chat_switch_ms: switching to a 2,000-message conversation until it is drawn (median);
- gui_cpu_share_early / _late: the GUI thread's CPU time per second of streaming over the
  first and the last 400 tokens of the long reply (work per batch must not grow);
- stream_tok_s / engine_tok_s / stream_vs_engine_ratio: the same greedy STREAM_TOKENS-token
  reply decoded in the window (inspector shown) and by ``tokenwise trace`` (a subprocess, no
  GUI), alternated for STREAM_ROUNDS rounds; medians of the engine's own decode rate;
  engine_window_threads_tok_s / stream_vs_window_engine_ratio: the same against the window's
  own engine thread with nothing drawn (the window uses one thread fewer than the CLI);
- stream_frame_interval_ms: the interval between frames the chat's pacer settled on (it keeps
  the GUI thread's share of a core while streaming near pacing.BUDGET);
- panels_overhead_ratio: streaming time with every panel shown / with the inspector hidden
  (same alternation, medians);
- whatif_redraw_median_ms, whatif_redraw_p99_ms, select_step_median_ms: see bench_panels.
"""

from __future__ import annotations

import json as json_module
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tokenwise.core.formatting import percentile

if TYPE_CHECKING:  # the window is imported inside the functions: start-up is measured here
    from tokenwise.core.chat.store import Message
    from tokenwise.core.trace.records import Step
    from tokenwise.ui.main_window import MainWindow

PROBE_MS = 5
LONG_REPLY = 2100
STREAM_TOKENS = 300
STREAM_ROUNDS = 5
PROMPT = "Write a very long essay about the history of computing, with many sections."


def run(json: bool = False) -> dict[str, Any]:
    """Measure; print one JSON object when ``json`` (else a readable table); return it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result: dict[str, Any] = {"window_shown_s": round(measure_window_shown(), 3)}
    with tempfile.TemporaryDirectory(prefix="tokenwise-bench-") as home:
        os.environ["TOKENWISE_HOME"] = home
        from tokenwise.core import paths

        paths.set_base(home)
        try:
            result.update(_in_process())
        finally:
            paths.set_base(None)
    from tokenwise.ui.bench import panels as bench_panels

    result.update(bench_panels.run())
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if json:
        print(json_module.dumps(result))  # noqa: T201
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")  # noqa: T201
    return result


def measure_window_shown() -> float:
    """Launch a fresh interpreter that opens the window; time until it says it is shown."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory(prefix="tokenwise-start-") as home:
        env["TOKENWISE_HOME"] = home
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tokenwise.ui.bench.responsiveness", "--startup-probe"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        assert proc.stdout is not None
        shown = float("nan")
        for line in proc.stdout:
            if line.startswith("shown"):
                shown = time.perf_counter() - started
                break
        proc.wait(timeout=30)
    return shown


def _startup_probe() -> int:
    from PySide6.QtCore import QTimer

    from tokenwise.ui.app import application, create_window

    app = application()
    window = create_window(autoload=False)

    def shown() -> None:
        print("shown", flush=True)  # noqa: T201
        QTimer.singleShot(0, window.close)

    window.window_shown.connect(shown)
    window.show()
    return int(app.exec())


def _wait(signal: Any, timeout_s: float = 300.0) -> list[Any]:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[Any] = []

    def on(*args: Any) -> None:
        got.extend(args)
        loop.quit()

    signal.connect(on)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(on)
    if not got and signal is not None:
        raise TimeoutError("the window did not answer in time")
    return got


def _wait_until(condition: Any, timeout_s: float) -> None:
    """Run the event loop until ``condition()`` holds (checked every 10 ms) or the timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = QTimer()

    def poll() -> None:
        if condition():
            loop.quit()

    check.timeout.connect(poll)
    check.start(10)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    check.stop()


class _Flag:
    """Connected before the action that makes the signal fire, so no emission is missed."""

    def __init__(self, signal: Any) -> None:
        from PySide6.QtCore import QEventLoop

        self.fired = False
        self._signal = signal
        self._loop = QEventLoop()
        signal.connect(self._on)

    def _on(self, *_args: Any) -> None:
        self.fired = True
        self._loop.quit()

    def wait(self, timeout_s: float) -> None:
        """Block in an event loop (a processEvents polling loop would spin, and its GIL
        traffic slowed the database thread's read that the switch waits for)."""
        from PySide6.QtCore import QTimer

        if not self.fired:
            QTimer.singleShot(int(timeout_s * 1000), self._loop.quit)
            self._loop.exec()
        self._signal.disconnect(self._on)
        if not self.fired:
            raise TimeoutError("the window did not answer in time")


def _in_process() -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    from tokenwise.core.sampling.settings import PRESETS
    from tokenwise.core.settings import load_settings, save_settings
    from tokenwise.ui.app import application, create_window

    settings = load_settings()
    settings.sampler = PRESETS["Greedy"].with_(max_tokens=LONG_REPLY)
    settings.n_ctx = 4096
    save_settings(settings)
    app = application()
    window = create_window()
    window.resize(1440, 900)
    window.show()
    controller = window.controller
    _wait(controller.model_loaded)

    # event loop lateness while a long reply streams
    lateness: list[float] = []
    last = [time.perf_counter()]
    streaming = [False]
    cpu_track: list[tuple[int, float, float]] = []  # (tokens so far, wall, GUI thread CPU)

    def tick() -> None:
        now = time.perf_counter()
        if streaming[0]:
            lateness.append(max(0.0, (now - last[0]) * 1000 - PROBE_MS))
            gen = controller.flow.reply
            if gen is not None:
                cpu_track.append((len(gen.steps), now, time.thread_time()))
        last[0] = now

    probe = QTimer()
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(tick)
    probe.start()
    streaming[0] = True
    controller.send(PROMPT)
    (reply_id,) = _wait(controller.reply_finished, 600)
    streaming[0] = False
    probe.stop()
    steps = controller.flow.traces[reply_id]
    bubble = window.chat_view.bubble(reply_id)
    assert bubble is not None, "the reply was not shown"
    message = bubble.message
    out: dict[str, Any] = {
        "event_loop_p99_ms": round(percentile(lateness, 99), 2),
        "streamed_tokens": len(steps),
        "tokens_per_second": round(float(message.tokens_per_second), 1),
        "gui_cpu_share_early": round(_cpu_share(cpu_track, 0, 400), 3),
        "gui_cpu_share_late": round(_cpu_share(cpu_track, len(steps) - 400, len(steps)), 3),
    }
    out.update(_stream_rates(window))
    out["stream_frame_interval_ms"] = round(window.controller.frame_interval_s * 1000, 1)
    out["append_cost_ratio"] = round(_append_cost_ratio(window, message, steps), 3)
    out["chat_switch_ms"] = round(_chat_switch_ms(window), 1)
    window.close()
    app.processEvents()
    return out


def _cpu_share(track: list[tuple[int, float, float]], first: int, last: int) -> float:
    """GUI thread CPU seconds per wall second while tokens ``first`` .. ``last`` streamed."""
    inside = [t for t in track if first <= t[0] <= last]
    if len(inside) < 2:
        return float("nan")
    (_, w0, c0), (_, w1, c1) = inside[0], inside[-1]
    return (c1 - c0) / (w1 - w0) if w1 > w0 else float("nan")


def _stream_once(window: MainWindow, inspector: bool) -> float:
    """One greedy reply in a fresh chat; the engine's decode rate (tokens/s)."""
    from PySide6.QtWidgets import QApplication

    controller = window.controller
    window.set_inspector_visible(inspector)
    controller.new_conversation()
    QApplication.processEvents()
    controller.send(PROMPT)
    (reply_id,) = _wait(controller.reply_finished, 600)
    bubble = window.chat_view.bubble(reply_id)
    assert bubble is not None, "the reply was not shown"
    return float(bubble.message.tokens_per_second)


def _bare_once(window: MainWindow) -> float:
    """The window's own engine thread with nobody drawing: what the GUI's work costs."""
    from tokenwise.core.chat.engine_tasks import ReplyJob, StepGate, chat_messages, stream_reply

    settings = window.controller.settings
    job = ReplyJob(messages=chat_messages("", [("user", PROMPT)]), settings=settings.sampler,
                   top_k_display=settings.top_k_display)
    gate = StepGate()
    results: list[Any] = []
    window.engine.stream(lambda slot, state: stream_reply(slot, state, job, gate),
                         returned=results.append)
    _wait_until(lambda: bool(results), 600)
    return float(results[0].tokens_per_second)


def _trace_once(top_k: int) -> float:
    """The engine alone: ``tokenwise trace`` in a subprocess, same prompt and settings."""
    proc = subprocess.run(
        [sys.executable, "-m", "tokenwise", "trace", "--preset", "Greedy", "--max-tokens",
         str(STREAM_TOKENS), "--show", str(top_k), "--ctx", "4096", "--json", "-p", PROMPT],
        capture_output=True, text=True, timeout=600, check=True,
    )
    return float(json_module.loads(proc.stdout.strip().splitlines()[-1])["tokens_per_second"])


def _stream_rates(window: MainWindow) -> dict[str, Any]:
    """Window (inspector shown), window (inspector hidden), engine alone: alternated."""
    controller = window.controller
    settings = controller.settings
    long_sampler = settings.sampler
    settings.sampler = long_sampler.with_(max_tokens=STREAM_TOKENS)
    window.inspector.set_sampler_settings(settings.sampler)
    shown_before = window.inspector.isVisible()
    shown: list[float] = []
    hidden: list[float] = []
    engine: list[float] = []
    bare: list[float] = []
    try:
        for _ in range(STREAM_ROUNDS):
            shown.append(_stream_once(window, True))
            hidden.append(_stream_once(window, False))
            bare.append(_bare_once(window))
            engine.append(_trace_once(settings.top_k_display))
    finally:
        settings.sampler = long_sampler
        window.inspector.set_sampler_settings(long_sampler)
        window.set_inspector_visible(shown_before)
    stream_tps, hidden_tps = statistics.median(shown), statistics.median(hidden)
    engine_tps, bare_tps = statistics.median(engine), statistics.median(bare)
    return {
        "stream_tok_s": round(stream_tps, 1),
        "stream_hidden_tok_s": round(hidden_tps, 1),
        "engine_tok_s": round(engine_tps, 1),
        "stream_vs_engine_ratio": round(stream_tps / engine_tps, 3),
        # the window leaves a core to the GUI (interactive_threads); `tokenwise trace` does
        # not: this pair compares the window with its own engine, same threads, no drawing
        "engine_window_threads_tok_s": round(bare_tps, 1),
        "stream_vs_window_engine_ratio": round(stream_tps / bare_tps, 3),
        "panels_overhead_ratio": round(hidden_tps / stream_tps, 3),
        "stream_runs_tok_s": {"shown": [round(x, 1) for x in shown],
                              "hidden": [round(x, 1) for x in hidden],
                              "window_engine": [round(x, 1) for x in bare],
                              "trace": [round(x, 1) for x in engine]},
    }


def _append_cost_ratio(window: MainWindow, message: Message, steps: list[Step]) -> float:
    """Replay a reply token by token into a streamed bubble, timing each append + repaint."""
    view = window.chat_view
    tokens = [replace(steps[i % len(steps)], index=i) for i in range(2011)]
    view.begin_reply(replace(message, id=-1))
    viewport = view._scroll.viewport()
    costs: list[float] = []
    for step in tokens:
        started = time.perf_counter()
        view.append_steps([step])
        viewport.repaint()
        costs.append(time.perf_counter() - started)
    view.finish_reply(replace(message, id=-1))
    early = statistics.median(costs[90:111])
    late = statistics.median(costs[1990:2011])
    return late / early


def _chat_switch_ms(window: MainWindow) -> float:
    """Two conversations of 2,000 messages, written straight to the store; switch between."""
    from tokenwise.core.chat.store import ChatStore

    store = ChatStore()
    ids = []
    for title in ("Long chat A", "Long chat B"):
        conv = store.create_conversation(title=title)
        parent = None
        for i in range(1000):
            user = store.add_message(conv.id, parent, "user", f"Question {i}: why is the sky "
                                     "blue, and what does scattering mean here?")
            reply = store.add_message(conv.id, user.id, "assistant",
                                      f"Answer {i}: **Rayleigh scattering**.\n\n- short "
                                      "wavelengths scatter more\n- so blue light fills the sky")
            parent = reply.id
        ids.append(conv.id)
    store.close()
    controller = window.controller
    times: list[float] = []
    started = [0.0]

    def drawn(_conv_id: int) -> None:
        window.chat_view.repaint()
        times.append((time.perf_counter() - started[0]) * 1000)

    controller.conversation_loaded.connect(drawn)
    for conv_id in ids * 3:
        done = _Flag(controller.traces_loaded)
        started[0] = time.perf_counter()
        controller.open_conversation(conv_id)
        done.wait(30)
    controller.conversation_loaded.disconnect(drawn)
    return statistics.median(times)


if __name__ == "__main__":
    if "--startup-probe" in sys.argv:
        sys.exit(_startup_probe())
    sys.exit(0 if run("--json" in sys.argv) else 1)
