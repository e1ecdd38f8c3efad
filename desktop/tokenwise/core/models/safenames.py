"""Names that come from outside (a hub listing, the catalogue, an imported file) and the
folders they are written into: nothing may land outside the models folder.

A name is checked part by part for what would climb out of a folder on any platform
(``..``, an absolute path, a drive letter, a backslash) and for what Windows cannot create
or treats as a device (CON, NUL.gguf, com1, a trailing dot or space, ``:``). A folder is
checked at write time: no part between the models folder and the target may be a symbolic
link, so a link placed inside the folder cannot send a write elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from tokenwise.core.errors import TokenwiseError

_DEVICE = re.compile(r"(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])", re.I)
_FORBIDDEN_CHARS = set('<>:"|?*\\')


class UnsafePathError(TokenwiseError):
    """A write would leave the models folder (through a symbolic link)."""


def is_device_name(part: str) -> bool:
    """CON, nul.gguf, "COM1 .txt": names Windows maps to a device, whatever follows a dot."""
    return bool(_DEVICE.fullmatch(part.split(".", 1)[0].rstrip(" ")))


def part_problem(part: str) -> str | None:
    """Why one path component is unsafe, or None."""
    if part in ("", ".", ".."):
        return "an empty or relative folder name"
    if any(ord(c) < 32 for c in part) or _FORBIDDEN_CHARS & set(part):
        return "a character that is not allowed in a file name"
    if part[-1] in ". ":
        return "a name that ends in a dot or a space"
    if is_device_name(part):
        return "a name Windows reserves for a device"
    return None


def name_problem(name: str) -> str | None:
    """Why a relative, slash-separated name is unsafe to place under a folder, or None."""
    if not name:
        return "an empty name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    for part in name.split("/"):
        problem = part_problem(part)
        if problem:
            return problem
    return None


def safe_import_name(name: str) -> str:
    """A file name to copy an imported file under: the unsafe parts replaced, not refused
    (the user chose the file; a Linux file may be called CON.gguf)."""
    cleaned = "".join("_" if ord(c) < 32 or c in _FORBIDDEN_CHARS or c == "/" else c
                      for c in name).rstrip(". ") or "model.gguf"
    if cleaned in (".", "..") or is_device_name(cleaned):
        cleaned = f"_{cleaned}"
    return cleaned


def check_inside(base: Path, target: Path) -> Path:
    """Raise UnsafePathError unless ``target`` lies under ``base`` through no symbolic link.

    ``base`` itself may be a link (a models folder moved to another disk on purpose)."""
    try:
        relative = target.relative_to(base)
    except ValueError:
        raise UnsafePathError(f"{target} is outside the models folder {base}.") from None
    current = base
    for part in relative.parts:
        if part in ("", ".", ".."):
            raise UnsafePathError(f"{target} climbs out of the models folder {base}.")
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(
                f"{current} is a symbolic link; Tokenwise does not write through links in "
                f"its models folder, so that nothing lands outside {base}. Remove the link."
            )
    return target
