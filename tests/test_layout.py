"""The code's layout, as the README's "How the code is laid out" describes it: one
package per role, each introduced by its `__init__.py`, every module listed once."""

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


def test_the_readme_lists_every_module_once_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
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


def test_every_generated_readme_block_is_known_to_make_readme_and_filled():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_readme", ROOT / "docs" / "make_readme.py")
    make_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_readme)
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(
        r"<!-- make readme: ([\w-]+) -->\n(.*?)<!-- /make readme -->", readme, flags=re.DOTALL
    )
    assert sorted(name for name, _ in blocks) == sorted(make_readme.BLOCKS)
    assert all(body.strip() for _, body in blocks), "run `make readme`"
