"""Experiment configs: YAML in, frozen dataclasses out, checked at the door.

The defaults below are the notebook's experiment (see README, "Config reference").
Precedence, lowest first: these defaults, the `--config` file, the command's own
flags (`--init`, `--seed`, `--epochs`), then each `--set key=value` in order.

Every check names the dotted key that failed, and the file (and line, for YAML
syntax) it came from. No TensorFlow here: config errors are instant.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from initcmp import initializers
from initcmp.errors import ConfigError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DATASETS = ("mnist", "synthetic")


def _check(**rules: Any) -> dict:
    """Field metadata: `ge`/`gt` lower bounds, `choices` for strings."""
    return {"rules": rules}


@dataclass(frozen=True)
class DataConfig:
    name: str = field(default="mnist", metadata=_check(choices=DATASETS))
    path: str | None = None
    train_limit: int | None = field(default=None, metadata=_check(ge=1))


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = field(default=(256, 256), metadata=_check(ge=1))
    activation: str = field(default="relu", metadata=_check(choices=ACTIVATIONS))


@dataclass(frozen=True)
class InitConfig:
    """`init: {name: random, stddev: 1.0}` in YAML: the name plus its parameters."""

    name: str = "he"
    params: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType(
        initializers.default_params("he")))


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = field(default=1, metadata=_check(ge=1))
    batch_size: int = field(default=128, metadata=_check(ge=1))
    learning_rate: float = field(default=0.001, metadata=_check(gt=0))
    optimizer: str = field(default="adam", metadata=_check(choices=OPTIMIZERS))


@dataclass(frozen=True)
class EvalConfig:
    every_steps: int | None = field(default=100, metadata=_check(ge=1))
    batch_size: int = field(default=10000, metadata=_check(ge=1))


@dataclass(frozen=True)
class CheckpointConfig:
    every_steps: int | None = field(default=200, metadata=_check(ge=1))
    keep: int = field(default=3, metadata=_check(ge=1))


@dataclass(frozen=True)
class LogConfig:
    every_steps: int = field(default=10, metadata=_check(ge=1))
    # Per-layer weight and activation histograms, activation and gradient std, to
    # TensorBoard at initialization and each epoch's end (diagnose.py).
    histograms: bool = False


@dataclass(frozen=True)
class CompareConfig:
    inits: tuple[str, ...] = field(default=("random", "glorot", "he"),
                                   metadata=_check(choices=tuple(initializers.REGISTRY)))
    seeds: tuple[int, ...] = field(default=(0, 1, 2), metadata=_check(ge=0))
    fuse: bool = True  # train the runs together in one compiled step; false: one by one
    executor: str = field(default="local", metadata=_check(choices=("local", "ray")))


@dataclass(frozen=True)
class RayConfig:
    """`compare.executor: ray` (distributed.py)."""

    address: str | None = None  # a cluster to join; null: a local instance for the command
    num_cpus: int | None = field(default=None, metadata=_check(ge=1))  # local: null = all
    cpus_per_task: int = field(default=1, metadata=_check(ge=1))
    gpus_per_task: float = field(default=0.0, metadata=_check(ge=0))
    retries: int = field(default=2, metadata=_check(ge=0))  # per task, when a worker dies


@dataclass(frozen=True)
class Config:
    name: str = "mnist_mlp"
    seed: int = field(default=0, metadata=_check(ge=0))
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    init: InitConfig = InitConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    log: LogConfig = LogConfig()
    compare: CompareConfig = CompareConfig()
    ray: RayConfig = RayConfig()

    @property
    def run_name(self) -> str:
        """The run folder's name; it never changes between reruns, so reruns resume."""
        return f"{self.init.name}-s{self.seed}"


# Keys whose change makes a different run: resuming across such a change is refused.
# Epochs may grow (train further); eval, checkpoint and log cadence change no weight.
RUN_KEYS = ("seed", "data.name", "data.train_limit", "model", "init",
            "train.batch_size", "train.learning_rate", "train.optimizer")


# --- loading -------------------------------------------------------------------------


def load(path: str | Path | None = None, *, init: str | None = None, seed: int | None = None,
         epochs: int | None = None, overrides: tuple[str, ...] = ()) -> Config:
    """Resolve a config from defaults, a YAML file, command flags and `--set` overrides."""
    raw = to_dict(Config())
    source = "defaults"
    if path is not None:
        source = str(path)
        _merge(raw, read_yaml(path), source)
        if isinstance(raw.get("init"), str):
            raw["init"] = {"name": raw["init"]}  # `init: he` is short for `init: {name: he}`
    if init is not None and init != _get(raw, "init", source).get("name"):
        raw["init"] = {"name": init}  # parameters of another initializer don't carry over
    if seed is not None:
        raw["seed"] = seed
    if epochs is not None:
        _set_dotted(raw, "train.epochs", epochs, source)
    for item in overrides:
        key, value = _parse_set(item)
        _set_dotted(raw, key, value, f"--set {key}")
        source = f"{source}, --set"
    return from_dict(raw, source=source)


class _StrictLoader(yaml.SafeLoader):
    """safe_load, plus: a key given twice in one mapping is an error, not last-wins."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain name, not a list or mapping",
                    key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads `1e-3` (no dot) as a string; accept it as the number everyone means.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


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
        raise ConfigError(f"{path}: the top level must be a mapping of keys, "
                          f"not {_yaml_type(data)}")
    return data


def _parse_set(item: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set train.epochs=2")
    try:
        value = yaml.load(text, Loader=_StrictLoader) if text.strip() else None  # noqa: S506
    except yaml.YAMLError:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
    return key.strip(), value


def _set_dotted(raw: dict, key: str, value: Any, source: str) -> None:
    *parents, leaf = key.split(".")
    node = raw
    for depth, part in enumerate(parents):
        dotted = ".".join(parents[: depth + 1])
        if part not in node:
            raise ConfigError(f"{source}: unknown key {dotted!r}{_suggest(key)}")
        node = _get(node, part, source, dotted)
    node[leaf] = value


def _get(node: dict, part: str, source: str, dotted: str | None = None) -> dict:
    """A section of the raw config, which must be a mapping."""
    value = node.get(part)
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {dotted or part!r} must be a mapping, not "
                          f"{_yaml_type(value)}")
    return value


def _merge(base: dict, new: dict, source: str, prefix: str = "") -> None:
    """Merge `new` into `base`; sections merge key by key, values replace."""
    for key, value in new.items():
        dotted = f"{prefix}{key}"
        if isinstance(base.get(key), dict) and isinstance(value, dict):
            if dotted == "init" and value.get("name", base[key].get("name")) != base[key].get("name"):
                base[key] = {}  # a different initializer: drop the default's parameters
            _merge(base[key], value, source, prefix=f"{dotted}.")
        else:
            base[key] = value


def for_run(cfg: Config, init: str, seed: int) -> Config:
    """One run of a comparison: `cfg` with this initializer and seed. The config's own
    initializer parameters carry over only to that initializer; others get defaults."""
    raw = to_dict(cfg)
    if init != cfg.init.name:
        raw["init"] = {"name": init}
    raw["seed"] = seed
    return from_dict(raw, source="compare")


# --- checking ------------------------------------------------------------------------


def from_dict(raw: Mapping, source: str = "config") -> Config:
    """Build a Config from a nested mapping, naming the first bad key."""
    return _build(Config, raw, source, prefix="")


def _build(cls: type, raw: Any, source: str, prefix: str) -> Any:
    section = prefix.rstrip(".") or "config"
    if cls is InitConfig and isinstance(raw, str):
        raw = {"name": raw}  # `init: he` is short for `init: {name: he}`
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {section!r} must be a mapping, not {_yaml_type(raw)}")
    if cls is InitConfig:
        return _build_init(raw, source)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            dotted = f"{prefix}{key}"
            raise ConfigError(f"{source}: unknown key {dotted!r}{_suggest(dotted)}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        dotted = f"{prefix}{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            values[f.name] = _build(hint, raw[f.name], source, prefix=f"{dotted}.")
        else:
            values[f.name] = check_value(raw[f.name], hint, f.metadata.get("rules", {}),
                                         source, dotted)
    return cls(**values)


def _build_init(raw: Mapping, source: str) -> InitConfig:
    name = raw.get("name", InitConfig.name)
    if not isinstance(name, str):
        raise ConfigError(f"{source}: 'init.name' must be a string, not {_yaml_type(name)}")
    try:
        spec = initializers.get(name)
    except ConfigError as exc:  # it lists the valid names; add where the name came from
        raise ConfigError(f"{source}: 'init.name': {exc}") from None
    params = {}
    for key, value in raw.items():
        if key == "name":
            continue
        if key not in spec.params:
            known = ", ".join(spec.params) or "none"
            raise ConfigError(f"{source}: unknown key 'init.{key}' for initializer {name!r} "
                              f"(its parameters: {known})")
    for key, param in spec.params.items():
        value = raw.get(key, param.default)
        names = param.rules.get("names", ())
        if names and isinstance(value, str):  # `gain: tanh`: a number named by activation
            if value not in names:
                raise ConfigError(f"{source}: 'init.{key}' must be a number or one of "
                                  f"{', '.join(names)}, not {value!r}")
            params[key] = value
            continue
        params[key] = check_value(value, type(param.default), param.rules, source, f"init.{key}")
    try:
        initializers.check_params(name, params)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return InitConfig(name=name, params=types.MappingProxyType(params))


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
            raise ConfigError(f"{where} must be a non-empty list, not {_yaml_type(value)}")
        return tuple(check_value(v, args[0], rules, source, f"{key}[{i}]")
                     for i, v in enumerate(value))
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[hint]
    if not ok:
        raise ConfigError(f"{where} must be {_TYPE_WORDS[hint]}, not {_yaml_type(value)} "
                          f"({value!r})")
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
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"{where} must be one of {', '.join(rules['choices'])}, "
                          f"not {value!r}")
    return value


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _suggest(dotted: str) -> str:
    known = _all_keys(Config, "")
    close = difflib.get_close_matches(dotted, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _all_keys(cls: type, prefix: str) -> list[str]:
    keys = []
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint) and hint is not InitConfig:
            keys += _all_keys(hint, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


# --- writing -------------------------------------------------------------------------


def to_dict(cfg: Any) -> dict:
    """A plain nested dict (lists, not tuples) that `from_dict` reads back."""
    if isinstance(cfg, InitConfig):
        return {"name": cfg.name, **dict(cfg.params)}
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def run_identity(cfg: Config) -> dict:
    """The values of RUN_KEYS, flattened to dotted keys, for comparing two runs."""
    flat = flatten(to_dict(cfg))
    return {k: v for k, v in flat.items() if any(k == r or k.startswith(r + ".") for r in RUN_KEYS)}


def flatten(raw: Mapping, prefix: str = "") -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
