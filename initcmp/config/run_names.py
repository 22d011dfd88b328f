"""A sweep's run names: a run's values of its sweep grid's keys, `scale=1.5,depth=20`,
which lead its folder's name (Config.run_name), so that a rerun, another sweep over the
same keys, `eval` and `report` all find the same folder. Reads a config's attributes
only (config/schema.py imports this module).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def value_of(cfg, key: str) -> Any:
    """The value of dotted `key` in `cfg`, as a sweep names it: `model.depth` and
    `model.width` are read from `hidden` (where a loaded config keeps them)."""
    if key == "model.depth":
        return len(cfg.model.hidden)
    if key == "model.width":
        return cfg.model.hidden[0] if len(set(cfg.model.hidden)) == 1 else None
    if key.startswith("init."):
        values = {**cfg.init.as_dict(), "bias_variance": cfg.init.bias_variance}
        return values.get(key[len("init.") :])
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part, None)
    return list(node) if isinstance(node, tuple) else node


def label(cfg) -> list[str]:
    """`["depth=20", "scale=1.5"]`: the config's values of its sweep grid's keys, each
    by its last part (the whole key where two would read alike), for the run's name;
    `init.name` is left out (the name has it already); the keys in sorted order, so the
    order a grid lists them in does not change the name. [] without a grid."""
    keys = sorted(k for k in cfg.sweep.grid if k != "init.name")
    return [f"{name}={format_value(value_of(cfg, k))}" for k, name in zip(keys, short_names(keys))]


def digest(identity: dict) -> str:
    """Eight hex digits of sha256 over a run's settings (dotted key: value)."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def short_names(keys: list[str]) -> list[str]:
    """Each key by its last part (`model.depth`: `depth`), the whole key where two would
    read alike: in run names and in a sweep's table (report/render_sweep.py)."""
    short = [k.rsplit(".", 1)[-1] for k in keys]
    return [k if short.count(s) > 1 else s for k, s in zip(keys, short)]


def format_value(value: Any) -> str:
    """A grid value as a name shows it: 1.5, 20, tanh, 0.001; lists as 256x256."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "x".join(map(format_value, value))
    return str(value).replace("/", "_")
