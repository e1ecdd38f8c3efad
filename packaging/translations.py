"""Refresh the translation catalogues from the source, then compile them.

    python packaging/translations.py            # extract, merge, compile
    python packaging/translations.py --compile  # compile only (after editing a .ts / .po)

The window's strings (``self.tr`` / ``QCoreApplication.translate`` in tokenwise/ui) go to
``resources/translations/tokenwise_<code>.ts`` through ``pyside6-lupdate`` and are compiled
to ``.qm`` by ``pyside6-lrelease``; the core's sentences (``_`` / ``N_`` in tokenwise/core)
go to ``resources/locale/<code>/LC_MESSAGES/tokenwise.po`` through Babel and are compiled to
``tokenwise.mo``. Both compiled files are committed; a test checks they match their sources.
Translate new entries with Qt Linguist (``pyside6-linguist``) or any PO editor, keeping to
``resources/translations/GLOSSARY.md``.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "desktop" / "tokenwise" / "ui"
CORE = ROOT / "desktop" / "tokenwise" / "core"
QT_DIR = ROOT / "resources" / "translations"
LOCALE_DIR = ROOT / "resources" / "locale"
LANGUAGES = ("zh_CN",)
KEYWORDS = {"_": None, "N_": None}


def qt_tool(name: str) -> str:
    """pyside6-lupdate / pyside6-lrelease beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install PySide6")
    return found


def ui_sources() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in UI.rglob("*.py"))


def ts_path(code: str) -> Path:
    return QT_DIR / f"tokenwise_{code}.ts"


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / "tokenwise.po"


def run_lupdate(ts_file: Path, extra: Iterable[str] = ()) -> None:
    subprocess.run([qt_tool("pyside6-lupdate"), *ui_sources(), "-locations", "none",
                    "-tr-function-alias", "QT_TR_NOOP+=N,QT_TR_NOOP+=T",
                    *extra, "-ts", str(ts_file)], cwd=ROOT, check=True,
                   capture_output=True)


def run_lrelease(ts_file: Path, qm_file: Path) -> None:
    subprocess.run([qt_tool("pyside6-lrelease"), "-silent", str(ts_file), "-qm",
                    str(qm_file)], check=True, capture_output=True)


def core_template() -> object:
    """The core's marked sentences as a Babel catalogue (no translations)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    template = Catalog(project="Tokenwise", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(CORE), method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=["TRANSLATORS:"], strip_comment_tags=True):
        template.add(message, None, [(f"core/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def compile_po(po_file: Path) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_file.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def update_po(code: str) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = po_path(code)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f)
    else:
        catalog = Catalog(locale=code, project="Tokenwise", charset="utf-8")
    template = core_template()
    template.creation_date = catalog.creation_date  # type: ignore[attr-defined]
    catalog.update(template, no_fuzzy_matching=True)  # type: ignore[arg-type]
    catalog.fuzzy = False  # the header: a finished catalogue
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True,
                 include_lineno=False, sort_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compile", action="store_true", help="only compile the catalogues")
    args = parser.parse_args(argv)
    for code in LANGUAGES:
        if not args.compile:
            QT_DIR.mkdir(parents=True, exist_ok=True)
            run_lupdate(ts_path(code), ["-no-obsolete", "-target-language", code])
            update_po(code)
        run_lrelease(ts_path(code), QT_DIR / f"tokenwise_{code}.qm")
        po_path(code).with_suffix(".mo").write_bytes(compile_po(po_path(code)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
