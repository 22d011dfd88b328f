"""The `init` section of a config: all its rules, in one place (config_load.py applies
them while it merges sources; `put` and `build` take its `_Sources`, which remembers who
set each key, for the errors). No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Mapping

from initcmp import init_names, initializers
from initcmp.config import InitConfig
from initcmp.config_check import check_value, yaml_type
from initcmp.errors import ConfigError

# The keys of `init` that every initializer takes and a new name keeps (rule 4).
_KEPT = ("bias_variance",)


def _shorthand(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def put(raw: dict, value: Any, source: str, sources) -> None:
    """Set `init`, or some of its keys, in a raw config. `init` is the one section whose
    keys depend on a value: `name` picks an initializer, its parameters sit beside it
    (`init: {name: random, stddev: 0.5}`). For every source (a file, `--init`, `--set
    init=...`, `--set init.name=...`, for_run; from_dict for rules 1, 3 and 4):
      1. `init: NAME` is short for `init: {name: NAME}`.
      2. A different initializer name drops the previous initializer's parameters: the
         new one gets its defaults plus whatever is given beside the name. The same
         name (or none) keeps them; the keys given replace theirs one by one.
      3. The parameters are checked against that initializer's (initializers.py) and
         all end up explicit in the Config, defaults filled in (build).
      4. `bias_variance` (σ_b², a number >= 0, default 0) is every initializer's: it
         describes the network's biases, not the kernels' initializer, so a new name
         keeps it (`--init glorot` on `{name: he, bias_variance: 0.05}` keeps 0.05, and
         a comparison runs every initializer with the config's), like rule 2's same name.
    """
    value = _shorthand(value)
    current = raw.get("init")
    if not isinstance(value, dict):  # not a mapping: _build_init says so
        raw["init"] = value
        sources.set("init", source)
        return
    named = current.get("name") if isinstance(current, dict) else None
    if not isinstance(current, dict) or _same(value.get("name", named)) != _same(named):
        # rule 2: another initializer, or `init` was no mapping; rule 4: the biases stay
        kept = [k for k in _KEPT if isinstance(current, dict) and k in current]
        current = raw["init"] = {k: current[k] for k in kept}
        sources.drop("init", keep=[f"init.{k}" for k in kept])
    for key, item in value.items():
        current[key] = item
        sources.set(f"init.{key}", source)


def _same(name: Any) -> Any:
    """A name as rule 2 compares it: `xavier` is `glorot` (init_names.py)."""
    return init_names.lookup(name) or name


def build(raw: Any, sources) -> InitConfig:
    """The InitConfig of a raw `init` section, by rules 1, 3 and 4 (put)."""
    raw = _shorthand(raw)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{sources.of('init')}: 'init' must be a mapping, not {yaml_type(raw)}")
    name = raw.get("name", InitConfig.name)
    if not isinstance(name, str):
        raise ConfigError(
            f"{sources.of('init.name')}: 'init.name' must be a string, not {yaml_type(name)}"
        )
    try:
        name = init_names.resolve(name)  # an alias becomes the registry's name here
    except ConfigError as exc:  # it lists the valid names; add where the name came from
        raise ConfigError(f"{sources.of('init.name')}: 'init.name': {exc}") from None
    spec = initializers.get(name)
    for key in raw:
        if key not in ("name", *_KEPT) and key not in spec.params:
            known = ", ".join(spec.params) or "none"
            raise ConfigError(
                f"{sources.of(f'init.{key}')}: unknown key 'init.{key}' for "
                f"initializer {name!r} (its parameters: {known}; every initializer "
                f"also takes {', '.join(_KEPT)})"
            )
    params = {}
    for key, param in spec.params.items():
        value, where = raw.get(key, param.default), sources.of(f"init.{key}")
        names = param.rules.get("names", ())
        if names and isinstance(value, str):  # `gain: tanh`: a number named by activation
            if value not in names:
                raise ConfigError(
                    f"{where}: 'init.{key}' must be a number or one of "
                    f"{', '.join(names)}, not {value!r}"
                )
            params[key] = value
            continue
        params[key] = check_value(value, type(param.default), param.rules, where, f"init.{key}")
    try:
        initializers.check_params(name, params)
    except ConfigError as exc:
        raise ConfigError(f"{sources.newest('init')}: {exc}") from None
    biases = _bias_variance(raw, sources)
    return InitConfig(name=name, params=types.MappingProxyType(params), bias_variance=biases)


def _bias_variance(raw: Mapping, sources) -> float:
    """Rule 4's σ_b², checked by InitConfig's own rules (a finite number >= 0)."""
    spec = next(f for f in dataclasses.fields(InitConfig) if f.name == "bias_variance")
    value, where = raw.get(spec.name, spec.default), sources.of(f"init.{spec.name}")
    return check_value(value, float, spec.metadata["rules"], where, f"init.{spec.name}")
