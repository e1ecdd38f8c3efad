"""One home for how numbers read: probabilities as percentages, sizes, durations.

Three percentage forms, because each place has its own room: ``percent`` for sentences and
tooltips (as few figures as say it), ``percent_column`` for a column of bars (fixed decimals
so the column reads at a glance), ``percent_compact`` for narrow columns (at most four
characters of figures).
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenwise.core import i18n

#: units as each language writes them
_UNITS = {
    i18n.ENGLISH: {"byte": "byte", "bytes": "bytes", "s": "s", "min": "min", "h": "h"},
    i18n.CHINESE: {"byte": "字节", "bytes": "字节", "s": "秒", "min": "分", "h": "小时"},
}


def _units(locale: str | None) -> dict[str, str]:
    return _UNITS.get(locale or i18n.language(), _UNITS[i18n.ENGLISH])


def number(value: int | float, decimals: int = 0, locale: str | None = None) -> str:
    """A number with grouped thousands: 12,345 (Simplified Chinese groups the same way)."""
    del locale  # both languages write 12,345.6
    return f"{value:,.{decimals}f}" if decimals or isinstance(value, float) else f"{value:,}"


def percent(p: float) -> str:
    """A probability as a short percentage: 41%, 4.1%, 0.31%, <0.01%."""
    if p >= 0.995:
        return "100%" if p >= 0.99995 else f"{p:.1%}"
    if p >= 0.1:
        return f"{p:.0%}"
    if p >= 0.01:
        return f"{p:.1%}"
    if p >= 0.0001:
        return f"{p:.2%}"
    return "<0.01%" if p > 0 else "0%"


def percent_column(p: float | None) -> str:
    """A percentage for a bar's label, with fixed decimals; "" for no value."""
    if p is None:
        return ""
    if p >= 0.9995:
        return "100%"
    if p >= 0.1:
        return f"{p * 100:.1f}%"
    if p >= 0.0001:
        return f"{p * 100:.2f}%"
    return "<0.01%" if p > 0 else "0%"


def percent_compact(p: float | None) -> str:
    """A percentage for narrow columns: at most four characters of figures."""
    if p is None:
        return ""
    if p >= 0.995:
        return "100%"
    if p >= 0.1:
        return f"{p * 100:.0f}%"
    if p >= 0.001:
        return f"{p * 100:.1f}%"
    return "<0.1%" if p > 0 else "0%"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``, nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def format_size(n_bytes: int | float, locale: str | None = None) -> str:
    """Sizes the way file managers show them: 98 MB, 1.9 GB (powers of 1000)."""
    units = _units(locale)
    value = float(n_bytes)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            if unit == "bytes":
                return f"1 {units['byte']}" if value == 1 else f"{int(value)} {units['bytes']}"
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def duration(seconds: float, locale: str | None = None) -> str:
    """A time left or taken, as a person says it: 45 s, 3 min 05 s, 2 h 07 min
    (45 秒, 3 分 05 秒, 2 小时 07 分)."""
    u = _units(locale)
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} {u['s']}"
    if seconds < 3600:
        return f"{seconds // 60} {u['min']} {seconds % 60:02d} {u['s']}"
    return f"{seconds // 3600} {u['h']} {seconds % 3600 // 60:02d} {u['min']}"
