"""A sweep's grid: `{dotted key: values}`, from `sweep.grid` in YAML or `--grid KEY=...`.

A key's values are a list (`[1, 1.5, 2]`, or `1,1.5,2` on the command line) or a range
`START:STOP:STEP` whose STOP is included when the steps land on it (`10:100:10` is 10,
20, ..., 100; `1:4:0.25` is 1, 1.25, ..., 4), as a person reading it expects. Here the
grid's shape is checked (known keys, non-empty values); whether each value suits its key
is checked when the config is loaded (resolve.check_grid), so every error comes
before anything trains. No TensorFlow here.
"""

from __future__ import annotations

import itertools
import math
import re
import types
from typing import Any, Mapping

import yaml

from initcmp.config import schema as config_mod
from initcmp.config.checks import yaml_type
from initcmp.errors import ConfigError

# Sections a grid cannot sweep: they say how an experiment runs, not what a run is
# (seeds have `compare.seeds`).
NOT_SWEPT = ("name", "seed", "compare", "sweep", "ray")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*:\s*({_NUMBER})\s*:\s*({_NUMBER})\s*$")


def parse(raw: Any, where: str) -> Mapping[str, tuple]:
    """A grid as `sweep.grid` holds it: each key checked, each value list non-empty, each
    range expanded; `where` names the source in errors."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: 'sweep.grid' must be a mapping of keys, not {yaml_type(raw)}")
    out = {}
    for key, values in raw.items():
        check_key(key, where)
        out[key] = values_of(key, values, where)
    return types.MappingProxyType(out)


def check_key(key: Any, where: str) -> None:
    """A key a grid can sweep: a dotted key of the config (did you mean ...?), or any
    `init.` key (the initializer's parameters are checked with their values)."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{where}: a grid key must be a dotted config key, not {key!r}")
    if key.split(".")[0] in NOT_SWEPT:
        raise ConfigError(
            f"{where}: {key!r} cannot be swept (not {', '.join(NOT_SWEPT)}; seeds: --seeds)"
        )
    if key.startswith("init.") and key.count(".") == 1:
        return
    if key not in config_mod.all_keys():
        raise ConfigError(f"{where}: unknown key {key!r}{config_mod.suggest(key)}")


def values_of(key: str, values: Any, where: str) -> tuple:
    """A key's values: a non-empty list, or a range string expanded."""
    if isinstance(values, str) and _RANGE.match(values):
        return expand(values, f"{where}: {key!r}")
    if not isinstance(values, list):
        values = [values]  # one value: a grid of one
    if not values:
        raise ConfigError(f"{where}: {key!r} has no values")
    return tuple(values)


def expand(text: str, where: str) -> tuple:
    """`START:STOP:STEP` as its values, STOP included; whole numbers stay whole."""
    start, stop, step = (yaml.safe_load(part) for part in _RANGE.match(text).groups())
    if step == 0 or (stop - start) / step < 0:
        raise ConfigError(f"{where}: the range {text!r} yields no values")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 100_000:
        raise ConfigError(f"{where}: the range {text!r} yields {count:,} values")
    whole = all(isinstance(v, int) for v in (start, stop, step))
    return tuple(start + i * step if whole else round(start + i * step, 10) for i in range(count))


def from_flag(item: str) -> tuple[str, Any]:
    """`--grid KEY=V1,V2,...` (each value YAML) or `--grid KEY=START:STOP:STEP`."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or not text.strip():
        raise ConfigError(
            f"--grid {item!r}: expected KEY=V1,V2,... or KEY=START:STOP:STEP, "
            "e.g. --grid model.depth=10:50:10"
        )
    if _RANGE.match(text):
        return key, text
    try:  # the values as one YAML flow list: `[256,256],[512]` stays two lists
        return key, list(yaml.safe_load(f"[{text}]"))
    except yaml.YAMLError:
        raise ConfigError(f"--grid {item!r}: the values are not valid YAML") from None


def cells(grid: Mapping[str, tuple]) -> list[dict]:
    """Every combination of the grid's values, the first key slowest: [{key: value}]."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
