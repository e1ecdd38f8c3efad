"""Install Tokenwise into the desktop's application menu for the current user, and take it
out again: the desktop entry, the icon and the AppStream metainfo, where the freedesktop
specifications put them (under $XDG_DATA_HOME, ~/.local/share by default). Linux only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tokenwise.core import paths
from tokenwise.core.errors import TokenwiseError

DESKTOP_FILE = "tokenwise.desktop"
METAINFO_FILE = "io.github.tokenwise.Tokenwise.metainfo.xml"
ICON = "tokenwise"


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share where it is not set (the specification's default)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def _targets(share: Path) -> dict[str, Path]:
    return {
        DESKTOP_FILE: share / "applications" / DESKTOP_FILE,
        METAINFO_FILE: share / "metainfo" / METAINFO_FILE,
        f"icons/{ICON}.svg": share / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON}.svg",
        f"icons/{ICON}.png": share / "icons" / "hicolor" / "256x256" / "apps" / f"{ICON}.png",
    }


def launcher() -> str:
    """The command that starts this Tokenwise: the frozen program, or this environment's
    ``tokenwise`` script beside its Python."""
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).resolve())
    script = Path(sys.executable).parent / "tokenwise"
    if script.is_file():
        return str(script)
    found = shutil.which("tokenwise")
    if found is None:
        raise TokenwiseError("The tokenwise command was not found; install Tokenwise first.")
    return str(Path(found).resolve())


def _exec_line(command: str) -> str:
    """A desktop entry's Exec value: quoted as the specification asks where it must be."""
    if all(c.isalnum() or c in "/._-+" for c in command):
        return command
    for char in '\\"`$':
        command = command.replace(char, "\\" + char)
    return f'"{command}"'


def install(share: Path | None = None, command: str | None = None) -> list[Path]:
    """Write the entry, icons and metainfo; returns the files written."""
    if not sys.platform.startswith("linux"):
        raise TokenwiseError("Installing a desktop entry is for Linux desktops.")
    share = share or data_home()
    resources = paths.resources_dir()
    written = []
    for name, target in _targets(share).items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == DESKTOP_FILE:
            entry = (resources / name).read_text(encoding="utf-8")
            exec_value = _exec_line(command or launcher())
            entry = "\n".join(f"Exec={exec_value}" if line.startswith("Exec=") else line
                              for line in entry.splitlines()) + "\n"
            target.write_text(entry, encoding="utf-8")
        else:
            shutil.copyfile(resources / name, target)
        written.append(target)
    _refresh(share)
    return written


def uninstall(share: Path | None = None) -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed."""
    removed = []
    share = share or data_home()
    for target in _targets(share).values():
        if target.exists():
            target.unlink()
            removed.append(target)
    _refresh(share)
    return removed


def _refresh(share: Path) -> None:
    """Tell the menu and icon caches, where their tools are installed (they are optional)."""
    for tool, folder, flags in (("update-desktop-database", share / "applications", []),
                                ("gtk-update-icon-cache", share / "icons" / "hicolor",
                                 ["-q", "-t"])):
        path = shutil.which(tool)
        if path is not None and folder.is_dir():
            subprocess.run([path, *flags, str(folder)], capture_output=True, check=False,
                           timeout=30)
