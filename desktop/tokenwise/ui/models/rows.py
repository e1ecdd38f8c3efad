"""One row of the download queue: name, progress bar, bytes / speed / time left, buttons.

Signals:
    cancel_requested(): the user pressed Cancel.
    resume_requested(): the user pressed Resume (or Retry).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QProgressBar, QPushButton

from tokenwise.core.formatting import duration, format_size
from tokenwise.core.models.queue import CANCELLED, DONE, FAILED, QUEUED, DownloadJob

SCALE = 1000  # progress bar steps: 0.1 %


class DownloadRow(QFrame):
    cancel_requested = Signal()
    resume_requested = Signal()

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("downloadRow")
        self.cancel_wired = False
        self.title = QLabel(title)
        self.title.setToolTip(title)
        self.bar = QProgressBar()
        self.bar.setRange(0, SCALE)
        self.bar.setTextVisible(False)
        self.bar.setToolTip(self.tr("How much of the file has arrived"))
        self.detail = QLabel(self.tr("Waiting…"))
        self.detail.setWordWrap(True)
        self.detail.setToolTip(self.tr("Bytes received, speed and time left"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop this download; what arrived is kept for a "
                                              "resume"))
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.resume_button = QPushButton(self.tr("Resume"))
        self.resume_button.setToolTip(self.tr("Continue the download where it stopped"))
        self.resume_button.clicked.connect(self.resume_requested.emit)
        self.resume_button.hide()
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.bar, 0, 1)
        grid.addWidget(self.cancel_button, 0, 2)
        grid.addWidget(self.resume_button, 0, 3)
        grid.addWidget(self.detail, 1, 0, 1, 4)
        grid.setColumnStretch(1, 1)

    def show_paused(self, have: int, total: int | None) -> None:
        self._set_fraction(have, total)
        self.detail.setText(
            self.tr("Interrupted at {have} of {total}. Resume continues there.").format(
                have=format_size(have), total=format_size(total)) if total else
            self.tr("Interrupted at {have}. Resume continues there.").format(
                have=format_size(have)))
        self.cancel_button.hide()
        self.resume_button.show()

    def show_job(self, job: DownloadJob) -> None:
        p = job.progress
        parts = self.tr(" (part {index} of {total})").format(
            index=job.part_index + 1, total=len(job.filenames)) if len(job.filenames) > 1 else ""
        finished = job.state in (DONE, FAILED, CANCELLED)
        self.cancel_button.setVisible(not finished)
        self.resume_button.setVisible(job.state in (FAILED, CANCELLED))
        self.resume_button.setText(self.tr("Retry") if job.state == FAILED else self.tr("Resume"))
        if job.state == QUEUED:
            self.detail.setText(self.tr("Queued: starts when the download before it has "
                                        "finished."))
        elif finished:
            if job.state == DONE:
                self.bar.setValue(SCALE)
            self.detail.setText(job.message)
            self.setProperty("state", job.state)
        elif p is not None:
            self._set_fraction(p.done, p.total)
            if p.phase == "connecting":
                self.detail.setText(self.tr("Connecting") + parts + "…")
            elif p.phase == "verifying":
                self.detail.setText(self.tr("Checking the sha256 and the GGUF header") + parts
                                    + "…")
            else:
                total = format_size(p.total) if p.total else "?"
                eta = (self.tr(", {time} left").format(time=duration(p.eta_s))
                       if p.eta_s is not None else "")
                resumed = (self.tr(", resumed at {size}").format(
                    size=format_size(p.resumed_from)) if p.resumed_from else "")
                self.detail.setText(self.tr("{done} of {total} at {speed}/s").format(
                    done=format_size(p.done), total=total, speed=format_size(p.speed))
                    + eta + resumed + parts)
        self.style().unpolish(self)
        self.style().polish(self)

    def _set_fraction(self, done: int, total: int | None) -> None:
        if total:
            self.bar.setRange(0, SCALE)
            self.bar.setValue(int(SCALE * min(done / total, 1.0)))
        else:
            self.bar.setRange(0, 0)  # busy indicator: size not known
