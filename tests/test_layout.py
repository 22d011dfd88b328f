"""The code's layout, as docs/development.md's "How the code is laid out" describes it: one
package per role, each introduced by its `__init__.py`, every module listed once; and the
generated result blocks of the README and the site's pages, each known to `make readme`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "initcmp"
MODULES = sorted(
    str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if not p.name.startswith("__")
)
PACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def test_the_development_page_lists_every_module_once_and_nothing_else():
    page = (ROOT / "docs" / "development.md").read_text()
    section = page.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    listed, package = [], ""
    for cells in re.findall(r"^\|\s*([^|]*?)\s*\|\s*`(\w+\.py)`\s*\|", section, flags=re.MULTILINE):
        package = cells[0].strip("` /") if cells[0].strip() else package
        listed.append(cells[1] if package == "(top)" else f"{package}/{cells[1]}")
    assert sorted(listed) == MODULES
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_says_what_it_holds(package):
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 20, f"initcmp/{package}/__init__.py needs its paragraph"


def test_every_generated_block_is_known_to_make_readme_and_filled():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_readme", ROOT / "docs" / "make_readme.py")
    make_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_readme)
    blocks = [
        block
        for page in make_readme.pages()
        for block in re.findall(
            r"<!-- make readme: ([\w-]+) -->\n(.*?)<!-- /make readme -->",
            page.read_text(),
            flags=re.DOTALL,
        )
    ]
    assert sorted({name for name, _ in blocks}) == sorted(make_readme.BLOCKS)
    assert all(body.strip() for _, body in blocks), "run `make readme`"
    # a block shown on two pages (the README's results and the site's) says the same on both
    for name in make_readme.BLOCKS:
        assert len({body for n, body in blocks if n == name}) == 1, name
