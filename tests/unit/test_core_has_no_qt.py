"""The two rooms stay apart: tokenwise.core never pulls in Qt, and only the engine modules
touch llama_cpp. Checked at run time (imports in a fresh interpreter) and in the source
(an import inside a function is invisible to the first check)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "desktop" / "tokenwise"
CORE = PACKAGE / "core"
QT_ROOTS = ("PySide6", "shiboken6")

# Imports every module of a package in this fresh interpreter and reports, as JSON, the Qt
# modules loaded and the first module after whose import they appeared.
_PROBE = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    sys.path.insert(0, sys.argv[1])
    names = sys.argv[3:] or [sys.argv[2]] + [
        m.name for m in pkgutil.walk_packages(
            importlib.import_module(sys.argv[2]).__path__, sys.argv[2] + ".")
    ]
    def qt():
        return sorted(n for n in sys.modules if n.split(".")[0] in ("PySide6", "shiboken6"))
    culprit = None
    for name in names:
        importlib.import_module(name)
        if culprit is None and qt():
            culprit = name
    print(json.dumps({"imported": names, "qt": qt(), "culprit": culprit}))
""")


def probe(*modules: str) -> dict[str, Any]:
    """Run the probe over ``modules`` (default: every module of tokenwise.core)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PACKAGE.parent), "tokenwise.core", *modules],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def imported_modules(source: str) -> Iterator[tuple[str, int]]:
    """Absolute module names a source imports anywhere (functions included), with lines."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
        elif (  # importlib.import_module("x") / __import__("x")
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) == "import_module"
                 or getattr(node.func, "id", None) == "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, node.lineno


def offenders(files: list[Path], roots: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in files
        for name, line in imported_modules(path.read_text(encoding="utf-8"))
        if any(name == root or name.startswith(root + ".") for root in roots)
    ]


def test_importing_every_core_module_loads_no_qt() -> None:
    report = probe()
    imported = report["imported"]
    expected = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in CORE.rglob("*.py")
    }
    assert expected <= set(imported)  # the walk really reached every module
    assert report["qt"] == [], f"{report['culprit']} pulled in {report['qt']}"


def test_the_probe_notices_qt() -> None:
    """The check above can fail: importing a Qt module shows up in the same probe."""
    report = probe("tokenwise.core.paths", "PySide6.QtCore")
    assert "PySide6.QtCore" in report["qt"]
    assert report["culprit"] == "PySide6.QtCore"


def test_core_source_never_imports_qt_or_the_ui() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert files
    assert offenders(files, QT_ROOTS) == []
    relative_ui = [
        f"{path.name}:{node.lineno}"
        for path in files
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 0
        and (node.module or "").split(".")[0] == "ui"
    ]
    assert offenders(files, ("tokenwise.ui",)) == []
    assert relative_ui == []


def test_only_the_engine_modules_import_llama_cpp() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    allowed = set((CORE / "engine").rglob("*.py"))
    assert allowed
    assert offenders([p for p in files if p not in allowed], ("llama_cpp",)) == []


@pytest.mark.parametrize("source", [
    "import llama_cpp",
    "from llama_cpp import Llama",
    "import llama_cpp.llama_cpp as native",
    "def load():\n    import llama_cpp\n",
    "import importlib\nimportlib.import_module('llama_cpp')\n",
    "__import__('llama_cpp')",
])
def test_the_source_scan_finds_every_form_of_import(source: str) -> None:
    names = [name.split(".")[0] for name, _ in imported_modules(source)]
    assert "llama_cpp" in names
