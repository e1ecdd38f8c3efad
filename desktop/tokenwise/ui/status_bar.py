"""The main window's status bar: where the model runs, the last reply's speed and first
token, how full the context is, and the running download (whether Models is open or not)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from tokenwise.core.interface import ModelInfo
from tokenwise.core.models.queue import DONE, FAILED, RUNNING, DownloadJob

GPU_README = "README.md, section “GPU builds”"


def backend_text(info: ModelInfo | None) -> str:
    if info is None:
        return "No model"
    if info.architecture == "remote":
        return QCoreApplication.translate("StatusBar", "remote: {0}").format(info.backend)
    if info.backend == "CPU" or info.gpu_layers <= 0:
        return "CPU"
    return f"{info.backend} · {info.gpu_layers}/{info.layers} layers"


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend_label = QLabel("No model")
        self.backend_label.setToolTip("Where the model runs: CPU, or a GPU backend with the "
                                      "number of layers offloaded")
        self.speed_label = QLabel("– tok/s")
        self.speed_label.setToolTip("Tokens per second of the last reply")
        self.first_token_label = QLabel("first token –")
        self.first_token_label.setToolTip("Time from sending to the first token of the reply")
        self.context_label = QLabel("context 0 / –")
        self.context_label.setToolTip("Tokens in the context (prompt + reply) / context length")
        self.context_meter = QProgressBar()
        self.context_meter.setTextVisible(False)
        self.context_meter.setToolTip(self.context_label.toolTip())
        self.context_meter.setMaximumWidth(140)
        for label in (self.backend_label, self.speed_label, self.first_token_label):
            self.addWidget(label)
        self.download_label = QLabel()
        self.download_label.setToolTip("The running download; Models shows them all")
        self.download_meter = QProgressBar()
        self.download_meter.setRange(0, 1000)
        self.download_meter.setTextVisible(False)
        self.download_meter.setMaximumWidth(120)
        self.download_meter.setToolTip(self.download_label.toolTip())
        for widget in (self.download_label, self.download_meter):
            widget.hide()
            self.addPermanentWidget(widget)
        self.addPermanentWidget(self.context_label)
        self.addPermanentWidget(self.context_meter)

    def show_model(self, info: ModelInfo | None, *, gpu_wanted: bool = False) -> None:
        self.backend_label.setText(backend_text(info))
        if info is None:
            return
        tip = f"{info.name}: {info.layers} layers, {info.backend}"
        if not info.gpu_offload_supported and gpu_wanted:
            tip += ("\nThis build runs on the CPU only: GPU offload needs a GPU build of "
                    f"llama-cpp-python ({GPU_README}).")
        self.backend_label.setToolTip(tip)
        self.context_meter.setMaximum(info.n_ctx)
        self.context_label.setText(f"context 0 / {info.n_ctx:,}")

    def show_stats(self, stats: dict[str, Any], n_ctx: int) -> None:
        if "tokens_per_second" in stats:
            self.speed_label.setText(f"{stats['tokens_per_second']:.1f} tok/s")
        if "first_token_s" in stats:
            self.first_token_label.setText(f"first token {stats['first_token_s']:.2f} s")
        if "context_used" in stats:
            used = int(stats["context_used"])
            self.context_label.setText(f"context {used:,} / {n_ctx:,}" if n_ctx
                                       else f"context {used:,}")
            self.context_meter.setValue(min(used, self.context_meter.maximum()))

    def show_download(self, job: DownloadJob, active: list[DownloadJob]) -> None:
        """Follow the running download; say when one ends."""
        running = [j for j in active if j.state == RUNNING]
        shown = running[0] if running else None
        for widget in (self.download_label, self.download_meter):
            widget.setVisible(shown is not None)
        if shown is None:
            if job.state == DONE:
                self.showMessage(f"Downloaded {job.title}.", 8000)
            elif job.state == FAILED:
                self.showMessage(f"Download failed: {job.message}", 15000)
            return
        progress = shown.progress
        fraction = progress.done / progress.total if progress and progress.total else 0.0
        self.download_meter.setValue(round(fraction * 1000))
        more = f" (+{len(active) - 1} queued)" if len(active) > 1 else ""
        self.download_label.setText(f"Downloading {shown.title} {fraction:.0%}{more}")
