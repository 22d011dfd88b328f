"""A sweep's grid: `{dotted key: values}`, from `sweep.grid` in YAML or `--grid KEY=...`.

A key's values are a list (`[1, 1.5, 2]`, or `1,1.5,2` on the command line) or a range,
parsed as a range and never as YAML (which reads `2:10` as the base-60 number 130):

  START:STOP:STEP     arithmetic, STOP included when the steps land on it: `10:100:10` is
                      10, 20, ..., 100; `1:4:0.25` is 1, 1.25, ..., 4
  START:STOP          whole numbers, step 1: `2:10` is 2, 3, ..., 10
  START:STOP:*FACTOR  geometric, for what is swept by factors (learning rates, widths,
                      scales): `1e-4:1e-1:*10` is 0.0001, 0.001, 0.01, 0.1;
                      `128:2048:*2` is 128, 256, ..., 2048

Numbers may be written `1e-3`. Here the grid's shape is checked (known keys, non-empty
values); whether each value suits its key is checked when the config is loaded
(resolve.check_grid), so every error comes before anything trains. No TensorFlow here.
"""

from __future__ import annotations

import itertools
import math
import re
import types
from typing import Any, Mapping

import yaml

from initcmp.config import schema as config_mod
from initcmp.config import yaml_files
from initcmp.config.checks import yaml_type
from initcmp.errors import ConfigError

# Sections a grid cannot sweep: they say how an experiment runs, not what a run is
# (seeds have `compare.seeds`).
NOT_SWEPT = ("name", "seed", "compare", "sweep", "ray", "coord_check")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*:\s*({_NUMBER})\s*(?::\s*(\*?)\s*({_NUMBER}))?\s*$")
# Anything with a colon between two things: meant as a range, so a bad one is an error
# that shows the syntax, not a string passed on to the key's own check.
_LOOKS_LIKE_RANGE = re.compile(r"^\s*[^\s:,\[\]{}]+\s*:\s*[^\s:,\[\]{}]+(\s*:.*)?$")
SYNTAX = (
    "a range is START:STOP:STEP (STOP included), START:STOP (whole numbers, step 1) or "
    "START:STOP:*FACTOR (geometric), e.g. 10:50:10, 2:10, 1e-4:1e-1:*10"
)
# The most values one range may give.
MOST_VALUES = 100_000


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
    if isinstance(values, str) and _LOOKS_LIKE_RANGE.match(values):
        return expand(values, where if where.endswith(key) else f"{where}: {key!r}")
    if not isinstance(values, list):
        values = [values]  # one value: a grid of one
    if not values:
        raise ConfigError(f"{where}: {key!r} has no values")
    return tuple(values)


def expand(text: str, where: str) -> tuple:
    """A range (module docstring) as its values, STOP included; whole numbers stay whole."""
    match = _RANGE.match(text)
    if not match:
        raise ConfigError(f"{where}: {text!r} is not a range; {SYNTAX}")
    start, stop, times, step = match.groups()
    start, stop = yaml_files.parse_value(start), yaml_files.parse_value(stop)
    if step is None:  # START:STOP
        if not (isinstance(start, int) and isinstance(stop, int)):
            raise ConfigError(f"{where}: {text!r} has no STEP, so it needs whole numbers; {SYNTAX}")
        step = 1
    else:
        step = yaml_files.parse_value(step)
    try:
        values = _geometric(start, stop, step) if times else _arithmetic(start, stop, step)
    except ConfigError as exc:
        raise ConfigError(f"{where}: the range {text!r}: {exc}") from None
    if values is None:
        raise ConfigError(f"{where}: the range {text!r} yields no values")
    return values


def _count(span: float) -> int:
    count = math.floor(span + 1e-9) + 1
    if count > MOST_VALUES:
        raise ConfigError(f"yields {count:,} values, more than {MOST_VALUES:,}")
    return count


def _arithmetic(start, stop, step) -> tuple | None:
    if step == 0 or (stop - start) / step < 0:
        return None
    count = _count((stop - start) / step)
    whole = all(isinstance(v, int) for v in (start, stop, step))
    return tuple(start + i * step if whole else round(start + i * step, 10) for i in range(count))


def _geometric(start, stop, factor) -> tuple | None:
    """start, start·factor, ... up to stop; each value rounded to 10 significant digits
    (1e-4 x 10 x 10 is 0.01, not 0.010000000000000002); whole when all three are."""
    if start <= 0 or stop <= 0 or factor <= 0 or factor == 1:
        return None
    span = math.log(stop / start) / math.log(factor)
    if span < -1e-9:
        return None
    count = _count(span)
    if all(isinstance(v, int) for v in (start, stop, factor)):
        return tuple(start * factor**i for i in range(count))
    return tuple(float(f"{start * factor**i:.10g}") for i in range(count))


def from_flag(item: str) -> tuple[str, Any]:
    """`--grid KEY=V1,V2,...` (each value YAML) or `--grid KEY=START:STOP:STEP`."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or not text.strip():
        raise ConfigError(
            f"--grid {item!r}: expected KEY=V1,V2,... or a range KEY=START:STOP:STEP, "
            "KEY=START:STOP or KEY=START:STOP:*FACTOR, e.g. --grid model.depth=10:50:10"
        )
    if _LOOKS_LIKE_RANGE.match(text):
        return key, text
    try:  # the values as one YAML flow list: `[256,256],[512]` stays two lists; 1e-3 a number
        return key, list(yaml_files.parse_value(f"[{text}]"))
    except yaml.YAMLError:
        raise ConfigError(f"--grid {item!r}: the values are not valid YAML") from None


def cells(grid: Mapping[str, tuple]) -> list[dict]:
    """Every combination of the grid's values, the first key slowest: [{key: value}]."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
