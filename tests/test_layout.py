"""The code's layout, as the README's "How the code is laid out" describes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.name for p in (ROOT / "initcmp").glob("*.py") if not p.name.startswith("__"))


def test_no_module_is_over_300_lines():
    sizes = {name: len((ROOT / "initcmp" / name).read_text().splitlines()) for name in MODULES}
    assert {name: n for name, n in sizes.items() if n > 300} == {}


def test_the_readme_lists_every_module_once_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(\w+\.py)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == MODULES
    assert len(listed) == len(set(listed))


def test_every_generated_readme_block_is_known_to_make_readme_and_filled():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_readme", ROOT / "docs" / "make_readme.py")
    make_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_readme)
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- make readme: ([\w-]+) -->\n(.*?)<!-- /make readme -->", readme,
                        flags=re.DOTALL)  # fmt: skip
    assert sorted(name for name, _ in blocks) == sorted(make_readme.BLOCKS)
    assert all(body.strip() for _, body in blocks), "run `make readme`"
