"""Knowing that the last run crashed, and a report of it to copy.

A running app keeps a marker file (its pid) in the data folder and a log file in the cache
folder, with Python's faulthandler writing there too, so a crash inside llama.cpp or Qt
leaves its stack. A clean exit removes the marker. A marker found at start whose process is
gone means the last run ended without closing: the next start offers the report (the end of
the log and the versions) for the user to copy into a bug report.
"""

from __future__ import annotations

import faulthandler
import importlib.metadata as metadata
import logging
import logging.handlers
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tokenwise import __version__
from tokenwise.core import paths

LOG_LINES = 60
_fault_file: TextIO | None = None


def marker_path() -> Path:
    return paths.data_dir() / "running.pid"


def log_path() -> Path:
    return paths.cache_dir() / "tokenwise.log"


@dataclass(frozen=True, slots=True)
class CrashReport:
    text: str  # versions and the end of the log, ready to paste


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _versions() -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"Tokenwise {__version__}; Python {platform.python_version()}; "
            f"{platform.platform()}; llama-cpp-python {version('llama-cpp-python')}; "
            f"PySide6 {version('PySide6-Essentials')}")


def report_text() -> str:
    try:
        lines = log_path().read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    tail = "\n".join(lines[-LOG_LINES:]) or "(the log is empty)"
    return f"{_versions()}\n\nThe last lines of the log ({log_path()}):\n{tail}\n"


def start_session() -> CrashReport | None:
    """Mark this run; returns the report of the last one if it crashed."""
    global _fault_file
    report = None
    marker = marker_path()
    try:
        pid = int(marker.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and pid != os.getpid() and not _alive(pid):
        report = CrashReport(report_text())
    marker.write_text(str(os.getpid()), encoding="ascii")
    handler = logging.handlers.RotatingFileHandler(log_path(), maxBytes=1 << 20,
                                                   backupCount=1, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        for existing in root.handlers:  # the terminal keeps showing what it showed before
            if existing.level == logging.NOTSET:
                existing.setLevel(root.level or logging.WARNING)
        root.setLevel(logging.INFO)
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    _fault_file = open(log_path(), "a", encoding="utf-8")  # noqa: SIM115 (open for the run)
    faulthandler.enable(_fault_file)
    logging.getLogger(__name__).info("started: %s", _versions())
    return report


def end_session() -> None:
    """A clean exit: the marker goes."""
    logging.getLogger(__name__).info("closed cleanly")
    marker_path().unlink(missing_ok=True)
    if _fault_file is not None:
        faulthandler.disable()
        _fault_file.close()
