"""Settings: defaults, round trip, and files that are damaged, foreign or from the future."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tokenwise.core import paths
from tokenwise.core.sampling.settings import DEFAULT_PRESET, PRESETS, SamplerSettings
from tokenwise.core.settings import (
    SCHEMA_VERSION,
    AppSettings,
    load_settings,
    read_settings,
    save_settings,
)


def test_defaults_when_there_is_no_file() -> None:
    settings, problems = read_settings()
    assert problems == []
    assert not paths.settings_path().exists()
    assert (settings.schema_version, settings.n_ctx, settings.n_gpu_layers, settings.n_threads,
            settings.font_size, settings.top_k_display, settings.theme, settings.last_model) == (
        SCHEMA_VERSION, 4096, -1, None, 11, 20, "system", "")
    assert not hasattr(settings, "hf_token")  # secrets live in tokenwise.core.secrets
    assert settings.sampler_preset == DEFAULT_PRESET
    assert settings.sampler == PRESETS[DEFAULT_PRESET]


def test_round_trip_of_every_field() -> None:
    changed = AppSettings(
        n_ctx=8192, n_gpu_layers=12, n_threads=6, sampler_preset="Custom",
        sampler=SamplerSettings(temperature=1.25, top_k=0, top_p=0.5, min_p=0.0,
                                repeat_penalty=1.1, seed=1234, max_tokens=64),
        theme="dark", font_size=14, last_model="/models/工作/qwen.gguf", show_inspector=False,
        heatmap=False, top_k_display=50, window_geometry="AdnQywADAAA=",
        window_state="AAAA/wAAAAD9",
    )
    assert changed != AppSettings()
    save_settings(changed)
    assert paths.settings_path().is_file()
    assert load_settings() == changed
    assert json.loads(paths.settings_path().read_text(encoding="utf-8"))["schema_version"] == 1


def test_save_replaces_atomically_and_leaves_no_temporary_files() -> None:
    save_settings(AppSettings(font_size=12))
    save_settings(AppSettings(font_size=13))
    folder = paths.settings_path().parent
    assert sorted(p.name for p in folder.iterdir()) == ["settings.json"]
    assert load_settings().font_size == 13


def test_a_corrupt_file_is_kept_aside_and_defaults_are_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = paths.settings_path()
    path.write_text('{"n_ctx": 8192, "theme": "dark"', encoding="utf-8")  # cut short
    with caplog.at_level(logging.WARNING, logger="tokenwise.core.settings"):
        settings = load_settings()
    assert settings == AppSettings()
    bad = path.with_name("settings.json.bad")
    assert bad.read_text(encoding="utf-8") == '{"n_ctx": 8192, "theme": "dark"'
    assert not path.exists()
    assert "settings.json.bad" in caplog.text
    assert "defaults are used" in caplog.text
    save_settings(settings)  # the next save writes a good file beside the kept one
    assert load_settings() == AppSettings()


@pytest.mark.parametrize("content", [b"[1, 2, 3]", b"\xff\xfe not utf-8", b""])
def test_other_unreadable_files_are_also_kept_aside(content: bytes) -> None:
    path = paths.settings_path()
    path.write_bytes(content)
    settings, problems = read_settings()
    assert settings == AppSettings()
    assert len(problems) == 1
    assert path.with_name("settings.json.bad").read_bytes() == content


def test_unknown_keys_are_ignored_and_known_ones_kept() -> None:
    paths.settings_path().write_text(json.dumps({
        "schema_version": 1, "font_size": 15, "plugin_colour": "teal",
        "sampler": {"temperature": 0.2, "mirostat": 2},
    }), encoding="utf-8")
    settings, problems = read_settings()
    assert problems == []
    assert settings.font_size == 15
    assert settings.sampler == PRESETS[DEFAULT_PRESET].with_(temperature=0.2)


def test_an_old_token_key_is_ignored_and_never_written_back() -> None:
    paths.settings_path().write_text(json.dumps({
        "schema_version": 1, "font_size": 15, "hf_token": "hf_from_an_old_version",
    }), encoding="utf-8")
    settings, problems = read_settings()
    assert problems == []
    assert settings.font_size == 15
    save_settings(settings)
    text = paths.settings_path().read_text(encoding="utf-8")
    assert "hf_token" not in text
    assert "hf_from_an_old_version" not in text


def test_bad_values_fall_back_to_defaults_one_by_one(caplog: pytest.LogCaptureFixture) -> None:
    paths.settings_path().write_text(json.dumps({
        "n_ctx": "lots", "n_gpu_layers": -5, "n_threads": 8.0, "theme": "neon",
        "font_size": True, "top_k_display": 80, "show_inspector": "yes", "heatmap": False,
        "window_geometry": "not base64!", "sampler_preset": "Greedy",
        "sampler": {"temperature": -1, "top_p": 0.0, "top_k": 7, "seed": None},
        "last_model": "/m.gguf",
    }), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="tokenwise.core.settings"):
        settings = load_settings()
    defaults = AppSettings()
    assert (settings.n_ctx, settings.n_gpu_layers, settings.theme, settings.font_size,
            settings.top_k_display, settings.show_inspector, settings.window_geometry) == (
        defaults.n_ctx, defaults.n_gpu_layers, defaults.theme, defaults.font_size,
        defaults.top_k_display, defaults.show_inspector, defaults.window_geometry,
    )
    assert (settings.n_threads, settings.heatmap, settings.sampler_preset,
            settings.last_model) == (8, False, "Greedy", "/m.gguf")
    assert settings.sampler == PRESETS[DEFAULT_PRESET].with_(top_k=7, seed=None)
    for name in ("n_ctx", "n_gpu_layers", "theme", "font_size", "top_k_display",
                 "show_inspector", "window_geometry", "sampler.temperature", "sampler.top_p"):
        assert f"{name} = " in caplog.text
    assert "n_threads" not in caplog.text
    assert "heatmap" not in caplog.text


def test_a_newer_schema_is_read_best_effort(caplog: pytest.LogCaptureFixture) -> None:
    paths.settings_path().write_text(json.dumps({
        "schema_version": SCHEMA_VERSION + 3, "font_size": 9, "theme": "light",
        "n_ctx": {"tokens": 4096, "unit": "tokens"},  # a shape this version does not know
        "sampler": "a named sampler chain",
    }), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="tokenwise.core.settings"):
        settings = load_settings()
    assert (settings.font_size, settings.theme, settings.n_ctx) == (9, "light", 4096)
    assert settings.sampler == PRESETS[DEFAULT_PRESET]
    assert "newer Tokenwise" in caplog.text
    save_settings(settings)
    assert json.loads(paths.settings_path().read_text(encoding="utf-8"))["schema_version"] == (
        SCHEMA_VERSION
    )


def test_an_explicit_path_is_honoured(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my-settings.json"
    save_settings(AppSettings(theme="light"), target)
    assert load_settings(target).theme == "light"
    assert not paths.settings_path().exists()
