"""Config files as YAML: `yaml.safe_load` made strict. A key given twice is an error (not
last-wins), keys must be plain names, `1e-3` is a number, and every failure is one line
naming the file (and the line, for a syntax error)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from initcmp.config.checks import yaml_type
from initcmp.errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """safe_load, plus: a key given twice in one mapping is an error, not last-wins."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "a key must be a plain name, not a list or mapping",
                    key_node.start_mark,
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads `10:100:10` as a base-60 number (36610 and more); here it stays the text
# a sweep range is written in (config/grid.py). Numbers are otherwise YAML 1.1's.
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

# YAML 1.1 reads `1e-3` (no dot) as a string; accept it as the number everyone means.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


# The example configs ship inside the package (the repo's configs/ is a link to this
# folder), so `--config deep_mlp` works from any folder, installed or not.
SHIPPED = Path(__file__).parent / "presets"


def shipped() -> list[str]:
    """The names of the shipped configs: deep_mlp, mnist_mlp, ..."""
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def find(path: str | Path) -> Path:
    """The file `--config` names: the path if it exists, else the shipped config of that
    name (`deep_mlp` or `deep_mlp.yaml`, no folder). Neither is an error; for a relative
    path (`configs/deep_mlp.yaml` run from another folder) it lists the shipped ones."""
    path = Path(path)
    if path.exists():
        return path
    if path.parent == Path(".") and path.suffix in ("", ".yaml") and path.stem in shipped():
        return SHIPPED / f"{path.stem}.yaml"
    # An absolute path is a file the user means; a relative one may be a clone's path
    # used from another folder, or a mistyped name.
    hint = f"; the shipped configs are: {', '.join(shipped())} (`--config NAME`, from any folder)"
    raise ConfigError(f"{path}: config file not found{'' if path.is_absolute() else hint}")


def read_yaml(path: str | Path) -> dict:
    """Read one YAML mapping from a file; every failure names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {str(exc).splitlines()[0]}") from None
    if data is None:
        raise ConfigError(f"{path}: config file is empty; expected a mapping of keys")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {yaml_type(data)}")
    return data


def parse_value(text: str) -> Any:
    """One value written as YAML (`[512, 512]`, `null`, `1e-3`); empty text is null.
    Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_StrictLoader) if text.strip() else None  # noqa: S506
