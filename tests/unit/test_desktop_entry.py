"""`tokenwise desktop install|uninstall`: the entry, icons and metainfo for this user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest

from tokenwise.core import desktop_entry


def _cli(*args: str, share: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenwise", "desktop", *args], capture_output=True, text=True,
        env={**os.environ, "XDG_DATA_HOME": str(share)}, timeout=60, check=False,
    )


def test_install_then_uninstall_for_the_current_user(tmp_path: Path) -> None:
    share = tmp_path / "share"
    done = _cli("install", share=share)
    assert done.returncode == 0, done.stderr
    entry = share / "applications" / "tokenwise.desktop"
    icons = [share / "icons/hicolor/scalable/apps/tokenwise.svg",
             share / "icons/hicolor/256x256/apps/tokenwise.png"]
    metainfo = share / "metainfo" / "io.github.tokenwise.Tokenwise.metainfo.xml"
    for path in (entry, metainfo, *icons):
        assert path.is_file() and str(path) in done.stdout
    parser = ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(entry, encoding="utf-8")
    command = parser["Desktop Entry"]["Exec"]
    assert Path(command).is_file() and os.access(command, os.X_OK)  # a real launcher
    assert parser["Desktop Entry"]["Icon"] == "tokenwise"
    validator = shutil.which("desktop-file-validate")
    assert validator is not None, "install desktop-file-utils"
    checked = subprocess.run([validator, str(entry)], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    gone = _cli("uninstall", share=share)
    assert gone.returncode == 0, gone.stderr
    for path in (entry, metainfo, *icons):
        assert not path.exists()
    again = _cli("uninstall", share=share)
    assert "nothing to remove" in again.stdout


@pytest.mark.parametrize(("command", "expected"), [
    ("/opt/tokenwise/tokenwise", "/opt/tokenwise/tokenwise"),
    ("/home/a b/.venv/bin/tokenwise", '"/home/a b/.venv/bin/tokenwise"'),
    ('/x/"$q`\\/tokenwise', '"/x/\\"\\$q\\`\\\\/tokenwise"'),
])
def test_exec_lines_are_quoted_as_the_specification_asks(command: str, expected: str) -> None:
    assert desktop_entry._exec_line(command) == expected


def test_a_relative_xdg_data_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert desktop_entry.data_home() == Path.home() / ".local" / "share"
