"""Every path Tokenwise touches, from platformdirs, in one place.

Setting TOKENWISE_HOME (or calling :func:`set_base`) moves all of them under one
folder, which is how tests and ``tokenwise screenshot`` keep away from the user's files.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import platformdirs

APP_NAME = "Tokenwise"
_base_override: Path | None = None


def set_base(base: str | Path | None) -> None:
    """Put config, data and cache under ``base`` (None: back to the platform's folders)."""
    global _base_override
    _base_override = Path(base) if base is not None else None


def _base() -> Path | None:
    if _base_override is not None:
        return _base_override
    env = os.environ.get("TOKENWISE_HOME")
    return Path(env) if env else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    base = _base()
    return _ensure(base / "config" if base else platformdirs.user_config_path(APP_NAME, False))


def data_dir() -> Path:
    base = _base()
    return _ensure(base / "data" if base else platformdirs.user_data_path(APP_NAME, False))


def cache_dir() -> Path:
    base = _base()
    return _ensure(base / "cache" if base else platformdirs.user_cache_path(APP_NAME, False))


def models_dir() -> Path:
    return _ensure(data_dir() / "models")


def database_path() -> Path:
    return data_dir() / "tokenwise.db"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def preflight_cache_path() -> Path:
    return cache_dir() / "preflight.json"


def resources_dir() -> Path:
    """The folder of the package ``tokenwise.resources``: resources/ in a checkout, inside
    the installed package in a wheel, inside the bundle when frozen."""
    spec = importlib.util.find_spec("tokenwise.resources")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("Tokenwise's resources are missing from this installation")
    return Path(next(iter(spec.submodule_search_locations)))
