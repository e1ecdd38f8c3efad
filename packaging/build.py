"""Build the one-folder bundle with PyInstaller, then smoke-test the frozen app.

Run: .venv/bin/python packaging/build.py [--skip-build] [--no-gui]
Needs the `package` extra (pip install -e .[package]). Writes dist/tokenwise/ (the bundle,
with share/ holding the Linux desktop integration) and prints the build time and size.

The smoke test starts the frozen program against a temporary base directory
(TOKENWISE_HOME), so it never touches the user's chats or models: `--version`, a short
`trace` with the bundled starter model (which runs the model preflight as a child process
of the frozen program), and an offscreen screenshot of the real window.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "tokenwise.spec"
RESOURCES = ROOT / "resources"
ICONS = RESOURCES / "icons"
APP_ID = "io.github.tokenwise.Tokenwise"
DESKTOP_FILE = "tokenwise.desktop"
ICON_NAME = "tokenwise"
SMOKE_TIMEOUT_S = 300


class SmokeTestError(RuntimeError):
    """The frozen app did not do what the smoke test asked of it."""


def build(dist: Path, work: Path) -> Path:
    """Run PyInstaller on the spec; returns the bundle folder."""
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--clean",
         "--distpath", str(dist), "--workpath", str(work), "--log-level", "WARN"],
        cwd=ROOT, check=True,
    )
    return dist / "tokenwise"


def linux_tree(prefix: Path) -> list[Path]:
    """Lay out the desktop integration under prefix/share as a package would install it."""
    share = prefix / "share"
    targets = {
        RESOURCES / DESKTOP_FILE: share / "applications" / DESKTOP_FILE,
        RESOURCES / f"{APP_ID}.metainfo.xml": share / "metainfo" / f"{APP_ID}.metainfo.xml",
        ICONS / f"{ICON_NAME}.svg": share / "icons/hicolor/scalable/apps" / f"{ICON_NAME}.svg",
        ICONS / f"{ICON_NAME}.png": share / "icons/hicolor/256x256/apps" / f"{ICON_NAME}.png",
    }
    for source, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return list(targets.values())


def write_notices(bundle: Path) -> Path:
    """The licences of Tokenwise and every part the bundle carries (PySide6: LGPL-3.0)."""
    from tokenwise.core.notices import BUNDLED_NOTICES, notices_text, parts

    target = bundle / BUNDLED_NOTICES
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(notices_text(parts()), encoding="utf-8")
    return target


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _run(program: Path, args: Sequence[str], home: Path, **env: str) -> str:
    """Run the frozen program; its stdout, or SmokeTestError with what went wrong."""
    environ = {**os.environ, "TOKENWISE_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
               **env}
    environ.pop("PYTHONPATH", None)  # the bundle must stand alone
    proc = subprocess.run([str(program), *args], capture_output=True, text=True, env=environ,
                          timeout=SMOKE_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise SmokeTestError(f"`tokenwise {' '.join(args)}` exited with {proc.returncode}:\n"
                             f"{proc.stderr[-3000:]}")
    for bad in ("Traceback", "Exception ignored"):
        if bad in proc.stderr:
            raise SmokeTestError(f"`tokenwise {' '.join(args)}` wrote:\n{proc.stderr[-3000:]}")
    return proc.stdout


def smoke_test(bundle: Path, *, gui: bool = True) -> dict[str, object]:
    """Start the frozen app against a temporary base directory; returns what it reported."""
    from tokenwise import __version__

    program = bundle / "tokenwise"
    with tempfile.TemporaryDirectory(prefix="tokenwise-smoke-") as folder:
        home = Path(folder) / "home"
        version = _run(program, ["--version"], home).strip()
        if version != f"tokenwise {__version__}":
            raise SmokeTestError(f"--version said {version!r}")

        out = _run(program, ["trace", "--prompt", "hi", "--max-tokens", "3", "--json"], home)
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        steps, summary = lines[:-1], lines[-1]
        if not 1 <= len(steps) <= 3 or any("token_id" not in s for s in steps):
            raise SmokeTestError(f"trace printed {out!r}")
        if summary.get("n_tokens") != len(steps) or "".join(
                s["text"] for s in steps) != summary.get("text"):
            raise SmokeTestError(f"trace summary {summary!r} does not match its steps")
        # a first load of a model runs `tokenwise -m tokenwise.core.engine.preflight` as a child
        preflight = json.loads((home / "cache" / "preflight.json").read_text("utf-8"))
        if not any("SmolLM2" in key and ok for key, ok in preflight.items()):
            raise SmokeTestError(f"the preflight child left {preflight!r}")
        # the compiled vocabulary pass travels with the bundle when this build has it
        from tokenwise.core.engine.stages import scan_kind

        if summary.get("vocabulary_pass") != scan_kind():
            raise SmokeTestError(f"the bundle ran the {summary.get('vocabulary_pass')} "
                                 f"vocabulary pass; this build has the {scan_kind()} one")
        report: dict[str, object] = {"version": version, "trace": summary}

        if gui:
            png = Path(folder) / "window.png"
            _run(program, ["screenshot", "--out", str(png), "--prompt", "Say hello."], home)
            if not png.is_file() or png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
                raise SmokeTestError("screenshot wrote no PNG")
            report["screenshot_bytes"] = png.stat().st_size
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build")
    parser.add_argument("--skip-build", action="store_true", help="smoke-test the last build")
    parser.add_argument("--no-gui", action="store_true", help="skip the window screenshot")
    args = parser.parse_args(argv)

    bundle = args.dist / "tokenwise"
    if not args.skip_build:
        start = time.perf_counter()
        bundle = build(args.dist, args.work)
        linux_tree(bundle)
        write_notices(bundle)
        print(f"built {bundle} in {time.perf_counter() - start:.0f} s, "  # noqa: T201
              f"{folder_size(bundle) / 1e6:.0f} MB")
    start = time.perf_counter()
    try:
        report = smoke_test(bundle, gui=not args.no_gui)
    except (SmokeTestError, subprocess.TimeoutExpired) as exc:
        print(f"smoke test failed: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"smoke test passed in {time.perf_counter() - start:.0f} s: "  # noqa: T201
          f"{json.dumps(report, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "desktop"))
    sys.exit(main())
