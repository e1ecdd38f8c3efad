"""The app's settings: one typed schema with defaults and a version, stored as JSON.

Reading never fails the app: a value of the wrong type or out of range falls back to its
default with a logged warning, unknown keys are ignored, a file from a newer Tokenwise is
read for what this one understands, and a file that is not JSON at all is kept aside as
``settings.json.bad`` (the user may want it back) while the app starts with defaults.
Writing goes to a temporary file that then replaces the old one, so a crash mid-write
leaves the previous settings intact.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_type_hints

from tokenwise.core import paths
from tokenwise.core.sampling.settings import DEFAULT_PRESET, PRESETS, SamplerSettings

log = logging.getLogger(__name__)

#: bump when a field changes meaning; older files are upgraded in :func:`_upgrade`
SCHEMA_VERSION = 1
THEMES = ("system", "light", "dark")
#: "system" follows the desktop's language; the others are the catalogues shipped
LANGUAGES = ("system", "en", "zh_CN")
CUSTOM_PRESET = "Custom"  # the sampler settings differ from every named preset


@dataclass(slots=True)
class AppSettings:
    """Everything the app remembers between runs. Defaults are the first-run experience.

    No secrets: the hub token lives in :mod:`tokenwise.core.secrets`. (The ``hf_token`` key
    of early settings files was never used; it is ignored like any unknown key.)
    """

    schema_version: int = SCHEMA_VERSION
    n_ctx: int = 4096
    n_gpu_layers: int = -1  # -1: offload every layer the build can
    n_threads: int | None = None  # None: llama.cpp chooses
    sampler_preset: str = DEFAULT_PRESET
    sampler: SamplerSettings = field(default_factory=lambda: PRESETS[DEFAULT_PRESET])
    theme: str = "system"
    language: str = "system"  # one of LANGUAGES; applied at the next start
    font_size: int = 11  # points
    last_model: str = ""  # path of the model loaded last, "" for none
    last_conversation: int | None = None  # the conversation open last: reopened at start
    show_inspector: bool = True
    heatmap: bool = True  # shade reply tokens by their probability
    top_k_display: int = 20  # candidates listed per step
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    tour_offered: bool = False  # the guided tour was offered (once, at the first start)
    tour_stop: int = 0  # where a skipped tour resumes (0: from the start)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["sampler"] = self.sampler.to_dict()
        return data


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# extra rules beyond the field's type; each returns True when the value is acceptable
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "n_ctx": (lambda v: 256 <= v <= 1 << 20, "256 .. 1048576"),
    "n_gpu_layers": (lambda v: v >= -1, "-1 (all) or more"),
    "n_threads": (lambda v: v is None or 1 <= v <= 1024, "empty (auto) or 1 .. 1024"),
    "sampler_preset": (lambda v: v in PRESETS or v == CUSTOM_PRESET,
                       f"one of {', '.join([*PRESETS, CUSTOM_PRESET])}"),
    "theme": (lambda v: v in THEMES, f"one of {', '.join(THEMES)}"),
    "language": (lambda v: v in LANGUAGES, f"one of {', '.join(LANGUAGES)}"),
    "font_size": (lambda v: 6 <= v <= 48, "6 .. 48"),
    "top_k_display": (lambda v: 5 <= v <= 50, "5 .. 50"),
    "window_geometry": (_is_base64, "base64 text"),
    "window_state": (_is_base64, "base64 text"),
}


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as the annotated type, or raise TypeError. JSON has no int/float split."""
    args = get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None:
        if optional:
            return None
        raise TypeError("must not be empty")
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif base is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif base is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"unsupported setting type {hint}")
    raise TypeError(f"must be {base.__name__}{' or empty' if optional else ''}")


def _read_sampler(data: Any, problems: list[str]) -> SamplerSettings:
    """Sampler settings key by key: one bad value does not reset the others."""
    result = PRESETS[DEFAULT_PRESET]
    if not isinstance(data, dict):
        problems.append("sampler: not an object; using the default sampler settings")
        return result
    hints = get_type_hints(SamplerSettings)
    for f in fields(SamplerSettings):
        if f.name not in data:
            continue
        try:
            candidate = result.with_(**{f.name: _coerce(data[f.name], hints[f.name])})
            candidate.validate()
        except (TypeError, ValueError) as exc:
            problems.append(f"sampler.{f.name} = {data[f.name]!r}: {exc}; using the default")
            continue
        result = candidate
    return result


def settings_from_dict(data: dict[str, Any], problems: list[str] | None = None) -> AppSettings:
    """Build settings from parsed JSON, field by field; each rejected value is described in
    ``problems`` and replaced by its default."""
    problems = [] if problems is None else problems
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        problems.append(
            f"settings were written by a newer Tokenwise (schema {version}); "
            f"reading what schema {SCHEMA_VERSION} knows"
        )
    data = _upgrade(data)
    hints = get_type_hints(AppSettings)
    values: dict[str, Any] = {}
    for f in fields(AppSettings):
        if f.name == "schema_version" or f.name not in data:
            continue
        raw = data[f.name]
        if f.name == "sampler":
            values["sampler"] = _read_sampler(raw, problems)
            continue
        try:
            value = _coerce(raw, hints[f.name])
        except TypeError as exc:
            problems.append(f"{f.name} = {raw!r}: {exc}; using the default")
            continue
        rule = _RULES.get(f.name)
        if rule is not None and not rule[0](value):
            problems.append(f"{f.name} = {raw!r}: must be {rule[1]}; using the default")
            continue
        values[f.name] = value
    return AppSettings(**values)


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older schema's keys to the current one (schema 1 is the first: nothing yet)."""
    return data


def read_settings(path: Path | None = None) -> tuple[AppSettings, list[str]]:
    """The settings and a list of readable problems met while reading them (for the UI)."""
    path = path if path is not None else paths.settings_path()
    problems: list[str] = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return AppSettings(), problems
    except OSError as exc:
        problems.append(f"cannot read {path}: {exc}; using default settings")
        return AppSettings(), problems
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the file does not hold a JSON object")
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
        bad = path.with_name(path.name + ".bad")
        try:
            os.replace(path, bad)
            kept = f"kept as {bad.name}"
        except OSError as move_error:
            kept = f"could not be moved aside ({move_error})"
        problems.append(
            f"{path} is not valid settings ({exc}); it was {kept} and defaults are used"
        )
        return AppSettings(), problems
    return settings_from_dict(data, problems), problems


def load_settings(path: Path | None = None) -> AppSettings:
    """The saved settings, defaults where missing or unusable (each problem logged)."""
    settings, problems = read_settings(path)
    for problem in problems:
        log.warning("settings: %s", problem)
    return settings


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    """Write atomically: a temporary file in the same folder replaces the old file."""
    path = path if path is not None else paths.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.to_dict()
    data["schema_version"] = SCHEMA_VERSION
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise

