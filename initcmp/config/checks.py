"""The value checks every config source goes through: one value against its type hint
and its field's rules (config/schema.py's `_check` metadata, or an initializer's `Param.rules`),
returned in canonical form, with errors in YAML's words that name the key and the source.
config/resolve.py calls them; config/schema.py declares what they check. No TensorFlow here.
"""

from __future__ import annotations

import typing
from typing import Any, Mapping

from initcmp.inits import aliases
from initcmp.inits import registry
from initcmp.errors import ConfigError


def check_value(value: Any, hint: Any, rules: Mapping, source: str, key: str) -> Any:
    """Check one value against a type hint and rules; return it in canonical form."""
    where = f"{source}: {key!r}"
    args = typing.get_args(hint)
    if type(None) in args:  # Optional[X]
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where} must be a non-empty list, not {yaml_type(value)}")
        if rules.get("initializer"):
            value = aliases.expand(value)
        items = (check_value(v, args[0], rules, source, f"{key}[{i}]") for i, v in enumerate(value))
        # `xavier, glorot` name one initializer: it runs once, not twice into one folder.
        return tuple(dict.fromkeys(items)) if rules.get("initializer") else tuple(items)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[hint]
    if not ok:
        raise ConfigError(
            f"{where} must be {_TYPE_WORDS[hint]}, not {yaml_type(value)} ({value!r})"
        )
    if hint is float:
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(f"{where} is too large a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{where} must be a finite number, not {value}")
    if "ge" in rules and value < rules["ge"]:
        raise ConfigError(f"{where} must be at least {rules['ge']}, not {value}")
    if "gt" in rules and value <= rules["gt"]:
        raise ConfigError(f"{where} must be greater than {rules['gt']}, not {value}")
    if rules.get("initializer"):
        value = _initializer(value, where)
    if "choices" in rules and isinstance(value, str):  # any case, as initializer names
        value = next((c for c in rules["choices"] if c.lower() == value.lower()), value)
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"{where} must be one of {', '.join(rules['choices'])}, not {value!r}")
    return value


def _initializer(value: str, where: str) -> str:
    """The registry's name for an initializer name or alias (inits/aliases.py)."""
    name = aliases.lookup(value)
    if name is None:
        raise ConfigError(
            f"{where} must be one of {', '.join(registry.REGISTRY)}, "
            f"not {value!r}{aliases.why_not(value)}"
        )
    return name


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def yaml_type(value: Any) -> str:
    """A value's kind in YAML's words, for error messages: `a list`, `null`, ..."""
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
