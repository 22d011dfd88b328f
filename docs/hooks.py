"""MkDocs hooks (mkdocs.yml `hooks:`): the reference tables generated from the code, so that
the site cannot disagree with it.

A page that holds one of the markers below gets it replaced, at build time, by a table:

    <!-- generated: config-keys -->    every config key, from initcmp/config/schema.py: its
                                       type, default, the values it accepts and the comment
                                       written above the field where it is declared
    <!-- generated: initializers -->   every initializer of initcmp/inits/registry.py: formula,
                                       parameters and defaults, aliases, paper

tests/test_docs.py checks that every key and every initializer is in them.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
import types
import typing
from pathlib import Path

import yaml

from initcmp.config import schema
from initcmp.inits import aliases, registry

SCHEMA = Path(schema.__file__)


# --- config keys -------------------------------------------------------------------------


def _comments(source: str) -> dict[int, str]:
    """Each line's comment (without its `#`), by line number."""
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string.lstrip("#").strip()
    return found


def field_docs() -> dict[str, dict[str, str]]:
    """{class name: {field: its documentation}}, read from schema.py's source: the comment on
    the field's own line, else the comment lines directly above it. A field with neither,
    declared on the line after another, shares that one's comment above (`depth`, `width`)."""
    source = SCHEMA.read_text()
    comments = _comments(source)
    lines = source.splitlines()
    docs: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields, shared, previous = {}, "", None
        for stmt in node.body:
            if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                previous = None
                continue
            own = comments.get(stmt.end_lineno, "") if stmt.end_lineno in comments else ""
            if own and not lines[stmt.end_lineno - 1].lstrip().startswith("#"):
                doc = own
            else:
                above, line = [], stmt.lineno - 1
                while line in comments and lines[line - 1].lstrip().startswith("#"):
                    above.insert(0, comments[line])
                    line -= 1
                doc = " ".join(above)
                if doc:
                    shared = doc
                elif previous is not None and previous.end_lineno == stmt.lineno - 1:
                    doc = shared
            fields[stmt.target.id] = doc
            previous = stmt
        docs[node.name] = fields
    return docs


def _type(hint) -> str:
    """A field's type as a reader writes it in YAML."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        parts = [a for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(_type(a) for a in parts) + " or null"
    origin = typing.get_origin(hint)
    if origin is tuple:
        return f"list of {_type(typing.get_args(hint)[0])}"
    if origin is not None and issubclass(origin, typing.Mapping):  # sweep.grid
        return "mapping"
    return {"str": "string", "int": "integer", "float": "number", "bool": "true/false"}.get(
        getattr(hint, "__name__", str(hint)), str(hint)
    )


def _yaml(value) -> str:
    """A default as YAML writes it: `null`, `[256, 256]`, `{}`, `true`."""
    if isinstance(value, types.MappingProxyType):
        value = dict(value)
    if isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")


def _accepts(rules: dict) -> str:
    said = []
    if "choices" in rules:
        said.append(", ".join(f"`{c}`" for c in rules["choices"]))
    if "ge" in rules:
        said.append(f"≥ {rules['ge']}")
    if "gt" in rules:
        said.append(f"> {rules['gt']}")
    if rules.get("initializer"):
        said.append("initializer names or aliases (`all`: every one)")
    return "; ".join(said)


def config_rows() -> list[tuple[str, str, str, str, str]]:
    """(key, type, default, accepts, meaning) for every key, in the order of schema.Config."""
    docs, rows = field_docs(), []

    def walk(cls, prefix: str) -> None:
        hints = schema.field_types(cls)
        default = cls()
        for f in dataclasses.fields(cls):
            hint, key = hints[f.name], f"{prefix}{f.name}"
            if dataclasses.is_dataclass(hint):
                walk(hint, key + ".")
                continue
            doc = docs[cls.__name__][f.name]
            value = getattr(default, f.name)
            if cls is schema.InitConfig and f.name == "params":  # beside the name in YAML
                key, kind = "init.PARAM", "per initializer"
                doc += "; written beside `name`: `init: {name: random, stddev: 0.05}`"
                value = f"he's: {_yaml(value)}"
                shown = value
            else:
                kind, shown = _type(hint), _yaml(value)
            accepts = _accepts(f.metadata.get("rules", {}))
            rows.append((key, kind, shown, accepts, doc))

    walk(schema.Config, "")
    return rows


def config_table() -> str:
    lines = ["| key | type | default | accepts | meaning |", "|---|---|---|---|---|"]
    for key, kind, default, accepts, doc in config_rows():
        cells = [f"`{key}`", kind, f"`{default}`", accepts, doc]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# --- initializers ------------------------------------------------------------------------


def initializer_rows() -> list[tuple[str, str, str, str, str]]:
    """(name, formula, parameters, aliases, reference) for every registered initializer."""
    rows = []
    for spec in registry.REGISTRY.values():
        params = ", ".join(f"`{k}` = `{p.default}`" for k, p in spec.params.items()) or "none"
        also = ", ".join(f"`{a}`" for a in spec.aliases)
        rows.append((spec.name, spec.formula, params, also, spec.reference))
    return rows


def initializers_table() -> str:
    lines = [
        "| name | formula | parameters (defaults) | also accepted as | reference |",
        "|---|---|---|---|---|",
    ]
    for name, formula, params, also, reference in initializer_rows():
        cells = [f"`{name}`", formula, params, also, reference]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    refused = "\n".join(f"- `{key}`: {why}" for key, why in aliases._NOT_ALIASES.items())
    return (
        "\n".join(lines)
        + f"\n\nAll of them: {registry.BIASES}.\n\nNames refused rather than aliased"
        + f" (as compared: any case, `_` and `-` ignored):\n\n{refused}\n"
    )


GENERATED = {"config-keys": config_table, "initializers": initializers_table}


def on_page_markdown(markdown: str, **_) -> str:
    for name, table in GENERATED.items():
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, table())
    return markdown
