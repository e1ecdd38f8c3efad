"""The main window's status bar: where the model runs, the last reply's speed and first
token, how full the context is, and the running download (whether Models is open or not)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from tokenwise.core.formatting import number
from tokenwise.core.interface import ModelInfo
from tokenwise.core.models.queue import DONE, FAILED, RUNNING, DownloadJob


def backend_text(info: ModelInfo | None) -> str:
    if info is None:
        return QCoreApplication.translate("StatusBar", "No model")
    if info.architecture == "remote":
        return QCoreApplication.translate("StatusBar", "remote: {0}").format(info.backend)
    if info.backend == "CPU" or info.gpu_layers <= 0:
        return "CPU"
    return QCoreApplication.translate(
        "StatusBar", "{backend} · {offloaded}/{layers} layers").format(
        backend=info.backend, offloaded=info.gpu_layers, layers=info.layers)


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend_label = QLabel(self.tr("No model"))
        self.backend_label.setToolTip(self.tr("Where the model runs: CPU, or a GPU backend with "
                                              "the number of layers offloaded"))
        self.speed_label = QLabel(self.tr("– tok/s"))
        self.speed_label.setToolTip(self.tr("Tokens per second of the reply being written, or of "
                                            "the last one"))
        self.first_token_label = QLabel(self.tr("first token –"))
        self.first_token_label.setToolTip(self.tr("Time from sending to the first token of the "
                                                  "reply"))
        self.context_label = QLabel(self.tr("context 0 / –"))
        self.context_label.setToolTip(self.tr("Tokens in the context (prompt + reply) / context "
                                              "length"))
        self.context_meter = QProgressBar()
        self.context_meter.setTextVisible(False)
        self.context_meter.setToolTip(self.context_label.toolTip())
        self.context_meter.setMaximumWidth(140)
        for label in (self.backend_label, self.speed_label, self.first_token_label):
            self.addWidget(label)
        self.download_label = QLabel()
        self.download_label.setToolTip(self.tr("The running download; Models shows them all"))
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
        tip = self.tr("{name}: {layers} layers, {backend}").format(
            name=info.name, layers=info.layers, backend=info.backend)
        if not info.gpu_offload_supported and gpu_wanted:
            tip += "\n" + self.tr("This build runs on the CPU only: GPU offload needs a GPU "
                                  "build of llama-cpp-python (README.md, section “GPU "
                                  "builds”).")
        self.backend_label.setToolTip(tip)
        self.context_meter.setMaximum(info.n_ctx)
        self.context_label.setText(self.tr("context {used} / {size}").format(
            used=0, size=number(info.n_ctx)))

    def show_stats(self, stats: dict[str, Any], n_ctx: int) -> None:
        if "tokens_per_second" in stats:
            self.speed_label.setText(self.tr("{rate} tok/s").format(
                rate=f"{stats['tokens_per_second']:.1f}"))
        if "first_token_s" in stats:
            self.first_token_label.setText(self.tr("first token {seconds} s").format(
                seconds=f"{stats['first_token_s']:.2f}"))
        if "context_used" in stats:
            used = int(stats["context_used"])
            self.context_label.setText(
                self.tr("context {used} / {size}").format(used=number(used), size=number(n_ctx))
                if n_ctx else self.tr("context {used}").format(used=number(used)))
            self.context_meter.setValue(min(used, self.context_meter.maximum()))

    def show_download(self, job: DownloadJob, active: list[DownloadJob]) -> None:
        """Follow the running download; say when one ends."""
        running = [j for j in active if j.state == RUNNING]
        shown = running[0] if running else None
        for widget in (self.download_label, self.download_meter):
            widget.setVisible(shown is not None)
        if shown is None:
            if job.state == DONE:
                self.showMessage(self.tr("Downloaded {title}.").format(title=job.title), 8000)
            elif job.state == FAILED:
                self.showMessage(self.tr("Download failed: {reason}").format(
                    reason=job.message), 15000)
            return
        progress = shown.progress
        fraction = progress.done / progress.total if progress and progress.total else 0.0
        self.download_meter.setValue(round(fraction * 1000))
        more = (self.tr(" (+{count} queued)").format(count=len(active) - 1)
                if len(active) > 1 else "")
        self.download_label.setText(self.tr("Downloading {title} {percent}").format(
            title=shown.title, percent=f"{fraction:.0%}") + more)
