"""How numbers and lists read in initcmp's messages and tables, in one place: a count with
its noun, an accuracy in percent, a list of run names cut short."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """`1 run`, `3 runs`."""
    return f"{n} {word}{'s' * (n != 1)}"


def percent(value: float | None, missing: str = "") -> str:
    """A fraction as percent with two decimals, without the sign: 0.9611 -> `96.11`."""
    return missing if value is None else f"{100 * value:.2f}"


def listing(names: list[str], shown: int = 6) -> str:
    """Run names for a message: the first `shown`, then how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def duration(seconds: float) -> str:
    """A rough time in words: `45 s`, `3 min`, `2.5 h`, `12 days`."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return plural(round(seconds / 86400), "day")
