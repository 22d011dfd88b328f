"""Published numbers carry their provenance. Accuracies and weights are the same on every
machine (tests/test_fingerprint.py checks this one against the reference); times and
memory peaks are not, so every section of the README or the docs that gives one names
the hardware it was measured on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A time, a rate or a memory peak: "14 s", "3 min", "1.09 GB", "170 GFLOP/s", "0.3-0.4 s".
FIGURE = re.compile(r"\b\d+(\.\d+)?(-\d+(\.\d+)?)? ?(s|ms|min|minutes|seconds|GB|[GT]FLOP/s)\b")
HARDWARE = re.compile(r"AMD EPYC|Intel|Apple M\d|\bH\d00\b|\bA100\b|\d+ cores")


def sections(text: str) -> list[str]:
    """The page cut at its second- and third-level headings."""
    return re.split(r"(?m)^(?=#{2,3} )", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_section_with_a_time_or_memory_figure_names_its_hardware(page):
    for section in sections(page.read_text()):
        figures = [line for line in section.splitlines() if FIGURE.search(line)]
        if figures and not HARDWARE.search(section):
            heading = section.splitlines()[0]
            pytest.fail(f"{page.name}, {heading!r}: {figures[0].strip()!r} names no hardware")


def test_the_check_finds_a_time_without_hardware():
    bad = "## Speed\n\nA comparison takes 7.3 s.\n"
    assert [s for s in sections(bad) if FIGURE.search(s) and not HARDWARE.search(s)]
    good = "## Speed\n\nA comparison takes 7.3 s (2 cores, AMD EPYC).\n"
    assert not [s for s in sections(good) if FIGURE.search(s) and not HARDWARE.search(s)]
