"""The documentation site's reference is generated from the code, and covers all of it:
every command and option (mkdocs-click over the click group), every config key with its
documentation (docs/hooks.py over config/schema.py), every initializer (the registry). And
the README and the pages speak of the product, not of how it was developed.

`make docs` (mkdocs build --strict) builds the pages; these tests check what they hold."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def test_the_config_reference_documents_every_key():
    from initcmp.config import schema

    rows = {key: doc for key, _, _, _, doc in _hooks().config_rows()}
    keys = [k for k in schema.all_keys() if k != "init"]  # init's keys: name, its params, ...
    init = [f"init.{f.name}" for f in dataclasses.fields(schema.InitConfig) if f.name != "params"]
    keys += ["init.PARAM", *init]  # name, bias_variance, readout: beside the parameters
    assert sorted(rows) == sorted(keys)
    undocumented = [key for key, doc in rows.items() if len(doc.split()) < 3]
    assert not undocumented, f"write a comment above these fields in schema.py: {undocumented}"


def test_the_config_reference_reads_the_comment_above_each_field():
    rows = {key: (kind, default, doc) for key, kind, default, _, doc in _hooks().config_rows()}
    assert rows["train.learning_rate"] == ("number", "0.001", "the optimizer's learning rate")
    assert rows["model.hidden"][:2] == ("list of integer", "[256, 256]")
    # a field declared right under another, with no comment of its own, shares its comment
    assert rows["model.width"][2] == rows["model.depth"][2] != ""


def test_the_config_page_holds_the_generated_table():
    hooks = _hooks()
    page = (DOCS / "reference" / "config.md").read_text()
    built = hooks.on_page_markdown(page)
    assert "<!-- generated:" not in built
    assert "`train.learning_rate`" in built and "`ray.retries`" in built


def test_the_initializer_reference_lists_every_initializer_and_alias():
    from initcmp.inits import registry

    hooks = _hooks()
    rows = {name: (formula, also) for name, formula, _, also, _ in hooks.initializer_rows()}
    assert list(rows) == list(registry.REGISTRY)
    for name, spec in registry.REGISTRY.items():
        assert rows[name][0] == spec.formula
        assert all(f"`{alias}`" in rows[name][1] for alias in spec.aliases)
    built = hooks.on_page_markdown((DOCS / "reference" / "initializers.md").read_text())
    assert all(f"| `{name}` |" in built for name in registry.REGISTRY)


def test_the_command_reference_shows_every_command_and_option():
    import markdown

    from initcmp.cli.main import main

    page = (DOCS / "reference" / "cli.md").read_text()
    assert ":module: initcmp.cli.main" in page and ":command: main" in page
    html = markdown.Markdown(extensions=["fenced_code", "mkdocs-click"]).convert(page)
    assert isinstance(main, click.Group) and main.commands
    for name, command in main.commands.items():
        heading = re.search(rf"<h3[^>]*>(initcmp )?{name}</h3>", html)
        assert heading, f"initcmp {name}"
        section = html[heading.end() :].split("<h", 1)[0]
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in section, f"initcmp {name} {opt}"


def test_the_python_reference_is_generated_from_docstrings_of_every_public_name():
    import initcmp

    page = (DOCS / "reference" / "python.md").read_text()
    assert re.search(r"(?m)^::: initcmp\b", page)
    members = set(re.findall(r"(?m)^ {8}- (\w+)$", page))  # mkdocstrings' `members:`
    assert members == set(initcmp.__all__)
    for name in initcmp.__all__:  # each has a docstring for the page to show
        assert (getattr(initcmp, name).__doc__ or "").strip(), name


# Words of a lab notebook rather than a product page: the first person, and accounts of
# the project's own development (sessions, days, commits, attempts).
NOTEBOOK = re.compile(
    r"\b(I|we|We|our|Our|us)\b|\bsession\b|\btoday\b|\byesterday\b|\bthis morning\b"
    r"|\bat [0-9a-f]{7,40}\b|\bcommit [0-9a-f]{7,40}\b|\b(tried and|was tried|were tried)\b"
    r"|\bmeasured before\b|\bnow fixed\b"
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_speak_of_the_product(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # commands, output
    found = [line.strip() for line in text.splitlines() if NOTEBOOK.search(line)]
    assert not found, f"{page.name}: {found[0]!r}"


def test_the_check_finds_a_lab_notebook_sentence():
    for line in ("I could not read the paper", "at 226d692, a call per step", "the last session"):
        assert NOTEBOOK.search(line), line
    assert not NOTEBOOK.search("Glorot halves the signal's variance at every layer")
