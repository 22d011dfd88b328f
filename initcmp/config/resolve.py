"""How a config is made: defaults, then the `--config` YAML file, then overrides in order.

Each command-line flag is an Override of one dotted key, like each `--set key=value`
(cli/main.py: `--epochs 2` is Override("train.epochs", 2, "--epochs")). Each step remembers
which source last set each dotted key, so an error names where the bad value came from
(the file, the flag, `--set KEY`, else `defaults`). No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from initcmp.config import yaml_files
from initcmp.config import grid
from initcmp.config.schema import (
    Config,
    InitConfig,
    ModelConfig,
    SweepConfig,
    field_types,
    suggest,
    to_dict,
)
from initcmp.config.checks import check_value, yaml_type
from initcmp.inits import aliases
from initcmp.inits import registry
from initcmp.errors import ConfigError

DEFAULTS = "defaults"  # the source of every key nothing else set


@dataclass(frozen=True)
class Override:
    """A parsed value for a dotted key; errors name its `source`: `--epochs`, `--set KEY`."""

    key: str
    value: Any
    source: str


def load(path: str | Path | None = None, overrides: Sequence[Override] = ()) -> Config:
    """Resolve a config: the defaults, the YAML file at `path` (or the shipped config of
    that name: yaml_files.find), then each override in order."""
    raw, sources = to_dict(Config()), _Sources(DEFAULTS)
    if path is not None:
        path = yaml_files.find(path)  # a path, or the name of a shipped config
        _merge(raw, yaml_files.read_yaml(path), str(path), sources)
    for override in overrides:
        _apply(raw, override, sources)
    cfg = from_dict(raw, DEFAULTS, sources.by_key)
    check_grid(cfg, sources)
    return cfg


def check_grid(cfg: Config, sources: "_Sources") -> None:
    """Each value of the sweep grid, set alone on `cfg`, must make a valid config: a
    value its key refuses is an error now, naming where the grid came from, before a
    sweep trains anything (the cells themselves are built by `with_values`)."""
    for key, values in cfg.sweep.grid.items():
        where = sources.of(f"sweep.grid.{key}")
        for value in values:
            with_values(cfg, {key: value}, f"{where} ({key}={value!r})")


def with_values(cfg: Config, values: Mapping[str, Any], source: str) -> Config:
    """`cfg` with dotted keys set to `values`, by the same rules as `--set KEY=VALUE`
    (init's rules included); errors name `source`. A sweep's cells and a comparison's
    runs are made this way."""
    raw, sources = to_dict(cfg), _Sources(source)
    for key, value in values.items():
        _apply(raw, Override(key, value, source), sources)
    return from_dict(raw, source, sources.by_key)


def parse_set(item: str) -> Override:
    """`--set KEY=VALUE` as an Override; VALUE is YAML (`[512, 512]`, `null`, `1e-3`)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set train.epochs=2")
    try:
        value = yaml_files.parse_value(text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
    return Override(key.strip(), value, f"--set {key.strip()}")


def each_seed(cfg: Config, values: Mapping[str, Any], source: str) -> list[Config]:
    """One config per seed of `compare.seeds`, `cfg` with `values` set (with_values):
    resolved and checked once, for the first seed; the others (already checked) then
    differ in `seed` alone, so 1000 seeds plan in milliseconds, not seconds."""
    first = with_values(cfg, {**values, "seed": cfg.compare.seeds[0]}, source)
    return [dataclasses.replace(first, seed=seed) for seed in cfg.compare.seeds]


def for_run(cfg: Config, init: str, seed: int) -> Config:
    """One run of a comparison: `cfg` with this initializer (its parameters only if it is
    the config's own: rule 2 of _put_init; the config's bias variance always: rule 4) and
    seed."""
    return with_values(cfg, {"init.name": init, "seed": seed}, "compare")


# --- merging, remembering who set what -----------------------------------------------


def _under(key: str, section: str) -> bool:
    return key == section or key.startswith(f"{section}.")


class _Sources:
    """Which source last set each dotted key (newest last); unset keys: `default`."""

    def __init__(self, default: str, by_key: Mapping[str, str] | None = None):
        self.default, self.by_key = default, dict(by_key or {})

    def set(self, key: str, source: str) -> None:
        self.drop(key)  # a section set whole: what set its keys before is gone
        self.by_key[key] = source

    def drop(self, key: str, keep: Sequence[str] = ()) -> None:
        """Forget who set `key` and the keys under it, except the dotted keys `keep`."""
        self.by_key = {k: s for k, s in self.by_key.items() if not _under(k, key) or k in keep}

    def of(self, key: str) -> str:
        """Who set dotted `key`, or the section above it that was set whole."""
        while key not in self.by_key:
            if "." not in key:
                return self.default
            key = key.rsplit(".", 1)[0]
        return self.by_key[key]

    def newest(self, section: str) -> str:
        """Who set `section`, or a key in it, last."""
        hits = [s for k, s in self.by_key.items() if _under(k, section)]
        return hits[-1] if hits else self.default


def _merge(base: dict, new: dict, source: str, sources: _Sources, prefix: str = "") -> None:
    """Merge a file's mapping into `base`; sections merge key by key, values replace."""
    for key, value in new.items():
        dotted = f"{prefix}{key}"
        if dotted == "init":
            _put_init(base, value, source, sources)
        elif isinstance(base.get(key), dict) and isinstance(value, dict):
            _merge(base[key], value, source, sources, prefix=f"{dotted}.")
        else:
            base[key] = value
            sources.set(dotted, source)


def _apply(raw: dict, override: Override, sources: _Sources) -> None:
    key, value, source = override.key, override.value, override.source
    if key == "init":
        _put_init(raw, value, source, sources)
    elif key.count(".") == 1 and key.startswith("init.") and isinstance(raw.get("init"), dict):
        _put_init(raw, {key[len("init.") :]: value}, source, sources)
    elif key.startswith("sweep.grid.") and isinstance(raw.get("sweep"), dict):
        # a grid's keys are dotted themselves: `--grid model.depth=...` sets one of them
        table = raw["sweep"].setdefault("grid", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{sources.of('sweep.grid')}: 'sweep.grid' must be a mapping")
        table[key[len("sweep.grid.") :]] = value
        sources.set(key, source)
    else:  # (also `init.X` while `init` is no mapping: _set_dotted says so)
        _set_dotted(raw, key, value, source, sources)


def _set_dotted(raw: dict, key: str, value: Any, source: str, sources: _Sources) -> None:
    *parents, leaf = key.split(".")
    node = raw
    for depth, part in enumerate(parents):
        dotted = ".".join(parents[: depth + 1])
        if part not in node:
            raise ConfigError(f"{source}: unknown key {dotted!r}{suggest(key)}")
        node = node[part]
        if not isinstance(node, dict):  # a section set to a value: blame its setter
            section = dataclasses.is_dataclass(getattr(Config, dotted, None))
            where = sources.of(dotted) if section else source
            raise ConfigError(f"{where}: {dotted!r} must be a mapping, not {yaml_type(node)}")
    node[leaf] = value
    sources.set(key, source)


# --- checking, to a Config ----------------------------------------------------------


def from_dict(
    raw: Mapping, source: str = "config", sources: Mapping[str, str] | None = None
) -> Config:
    """Build a Config from a nested mapping, naming the first bad key and where it came
    from: `sources[key]` (or of the section above it that was set whole), else `source`."""
    cfg = _build(Config, raw, _Sources(source, sources), prefix="")
    if cfg.init.name == "lsuv" and cfg.model.parametrization != "standard":
        # LSUV rescales every layer to unit output variance: it would undo the
        # parametrization's init factors.
        raise ConfigError(
            f"{source}: 'init.name' lsuv takes the standard parametrization only, not "
            f"'model.parametrization' {cfg.model.parametrization!r}"
        )
    return cfg


def _build(cls: type, raw: Any, sources: _Sources, prefix: str) -> Any:
    if cls is InitConfig:
        return _build_init(raw, sources)
    if cls is SweepConfig and isinstance(raw, Mapping) and "grid" in raw:
        rest = _build(cls, {k: v for k, v in raw.items() if k != "grid"}, sources, prefix)
        table = raw["grid"] if raw["grid"] is not None else {}
        if not isinstance(table, Mapping):
            where = sources.of("sweep.grid")
            raise ConfigError(f"{where}: 'sweep.grid' must be a mapping, not {yaml_type(table)}")
        parsed = {k: grid.parse({k: v}, sources.of(f"sweep.grid.{k}"))[k] for k, v in table.items()}
        return dataclasses.replace(rest, grid=types.MappingProxyType(parsed))
    if not isinstance(raw, Mapping):
        section = prefix.rstrip(".") or "config"
        raise ConfigError(
            f"{sources.of(section)}: {section!r} must be a mapping, not {yaml_type(raw)}"
        )
    hints = field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            dotted = f"{prefix}{key}"
            raise ConfigError(f"{sources.of(dotted)}: unknown key {dotted!r}{suggest(dotted)}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        dotted = f"{prefix}{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            values[f.name] = _build(hint, raw[f.name], sources, prefix=f"{dotted}.")
        else:
            values[f.name] = check_value(
                raw[f.name], hint, f.metadata.get("rules", {}), sources.of(dotted), dotted
            )
    return _model(cls(**values), sources) if cls is ModelConfig else cls(**values)


def _model(model: ModelConfig, sources: _Sources) -> ModelConfig:
    """`model.depth` and `model.width` win over `model.hidden`: `depth` layers of `width`
    units, an unset one taken from `hidden`. The result keeps its layers in `hidden`
    alone, so two spellings of one network are one run."""
    if model.parametrization != "standard" and model.base_width is None:
        raise ConfigError(
            f"{sources.of('model.parametrization')}: 'model.parametrization' "
            f"{model.parametrization!r} needs 'model.base_width' (the width at which it "
            "is the standard network)"
        )
    if model.depth is None and model.width is None:
        return model
    width = model.width
    if width is None:
        if len(set(model.hidden)) > 1:
            raise ConfigError(
                f"{sources.of('model.depth')}: 'model.depth' needs 'model.width' when "
                f"'model.hidden' has layers of different sizes ({list(model.hidden)})"
            )
        width = model.hidden[0]
    depth = model.depth or len(model.hidden)
    return dataclasses.replace(model, hidden=(width,) * depth, depth=None, width=None)


# --- The `init` section: all its rules, in one place (applied while sources merge) ---

# The keys of `init` that every initializer takes and a new name keeps (rule 4).
_KEPT = ("bias_variance", "readout")


def _shorthand(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _put_init(raw: dict, value: Any, source: str, sources: _Sources) -> None:
    """Set `init`, or some of its keys, in a raw config. `init` is the one section whose
    keys depend on a value: `name` picks an initializer, its parameters sit beside it
    (`init: {name: random, stddev: 0.5}`). For every source (a file, `--init`, `--set
    init=...`, `--set init.name=...`, for_run; from_dict for rules 1, 3 and 4):
      1. `init: NAME` is short for `init: {name: NAME}`.
      2. A different initializer name drops the previous initializer's parameters: the
         new one gets its defaults plus whatever is given beside the name. The same
         name (or none) keeps them; the keys given replace theirs one by one.
      3. The parameters are checked against that initializer's (inits/registry.py) and
         all end up explicit in the Config, defaults filled in (build).
      4. `bias_variance` (σ_b², a number >= 0, default 0) is every initializer's: it
         describes the network's biases, not the kernels' initializer, so a new name
         keeps it (`--init glorot` on `{name: he, bias_variance: 0.05}` keeps 0.05, and
         a comparison runs every initializer with the config's), like rule 2's same name.
         So is `readout` (`init` or `zero`: the logits' kernel drawn, or zero).
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
    """A name as rule 2 compares it: `xavier` is `glorot` (inits/aliases.py)."""
    return aliases.lookup(name) or name


def _build_init(raw: Any, sources: _Sources) -> InitConfig:
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
        name = aliases.resolve(name)  # an alias becomes the registry's name here
    except ConfigError as exc:  # it lists the valid names; add where the name came from
        raise ConfigError(f"{sources.of('init.name')}: 'init.name': {exc}") from None
    spec = registry.get(name)
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
        registry.check_params(name, params)
    except ConfigError as exc:
        raise ConfigError(f"{sources.newest('init')}: {exc}") from None
    return InitConfig(
        name=name,
        params=types.MappingProxyType(params),
        bias_variance=_kept(raw, sources, "bias_variance", float),
        readout=_kept(raw, sources, "readout", str),
    )


def _kept(raw: Mapping, sources: _Sources, name: str, kind: type) -> Any:
    """One of rule 4's keys (σ_b², the readout), checked by InitConfig's own rules."""
    spec = next(f for f in dataclasses.fields(InitConfig) if f.name == name)
    value, where = raw.get(spec.name, spec.default), sources.of(f"init.{spec.name}")
    return check_value(value, kind, spec.metadata["rules"], where, f"init.{spec.name}")
