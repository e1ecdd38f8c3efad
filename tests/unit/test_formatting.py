"""One home for how numbers read: each form at its edges."""

from __future__ import annotations

import math

import pytest

from tokenwise.core.formatting import (
    duration,
    format_size,
    percent,
    percent_column,
    percent_compact,
    percentile,
)


@pytest.mark.parametrize(("p", "short", "column", "compact"), [
    (1.0, "100%", "100%", "100%"),
    (0.9990, "99.9%", "99.9%", "100%"),
    (0.41, "41%", "41.0%", "41%"),
    (0.041, "4.1%", "4.10%", "4.1%"),
    (0.0031, "0.31%", "0.31%", "0.3%"),
    (0.00004, "<0.01%", "<0.01%", "<0.1%"),
    (0.0, "0%", "0%", "0%"),
])
def test_the_three_percent_forms(p: float, short: str, column: str, compact: str) -> None:
    assert (percent(p), percent_column(p), percent_compact(p)) == (short, column, compact)


def test_no_value_reads_as_nothing() -> None:
    assert percent_column(None) == percent_compact(None) == ""


@pytest.mark.parametrize(("n", "text"), [
    (1, "1 byte"), (999, "999 bytes"), (98_362_432, "98 MB"), (1_900_000_000, "1.9 GB"),
    (5.2e15, "5200 TB"),
])
def test_sizes_read_as_file_managers_show_them(n: float, text: str) -> None:
    assert format_size(n) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (45.9, "45 s"), (185, "3 min 05 s"), (7620, "2 h 07 min"),
])
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 51.0 and percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0 and percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))
