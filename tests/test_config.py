"""Config loading: defaults, files, flags, `--set`, and every refusal naming its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from initcmp import config
from initcmp.errors import ConfigError

CONFIGS = Path(__file__).parent / "configs"
REPO_ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_line(message: str) -> None:
    assert message, "empty error message"
    assert "\n" not in message and "\r" not in message, message
    assert message == message.strip(), repr(message)


# --- refusals, one file each -----------------------------------------------------------

# (file in tests/configs, substrings the ConfigError message must contain)
BAD_FILES = [
    ("unknown_key.yaml", ("unknown key 'optimizer'", "did you mean 'train.optimizer'")),
    ("typo_section_key.yaml", ("unknown key 'train.epoch'", "did you mean 'train.epochs'")),
    ("wrong_type_epochs.yaml", ("'train.epochs' must be a whole number", "'two'")),
    ("negative_batch.yaml", ("'train.batch_size' must be at least 1", "-32")),
    ("zero_epochs.yaml", ("'train.epochs' must be at least 1", "not 0")),
    ("bool_for_int.yaml", ("'train.epochs' must be a whole number, not a boolean",)),
    ("bad_activation.yaml", ("'model.activation' must be one of", "relu", "'relu6'")),
    ("unknown_init.yaml", ("unknown initializer 'xavier'", "valid names", "glorot", "he")),
    ("unknown_init_param.yaml", ("unknown key 'init.stddev'", "initializer 'he'")),
    ("random_uniform_min_ge_max.yaml", ("'init.minval' (0.1) must be below 'init.maxval' (0.1)",)),
    ("syntax_error.yaml", ("syntax_error.yaml:3", "YAML error")),
    ("empty.yaml", ("config file is empty",)),
    ("top_level_list.yaml", ("top level must be a mapping", "not a list")),
    ("two_documents.yaml", ("YAML error", "another document")),
    ("python_tag.yaml", ("YAML error", "python/object/apply:os.system")),
    ("duplicate_key.yaml", ("duplicate_key.yaml:4", "duplicate key 'epochs'")),
    ("hidden_not_list.yaml", ("'model.hidden' must be a non-empty list", "whole number")),
    ("nan_learning_rate.yaml", ("'train.learning_rate' must be a finite number", "nan")),
    ("section_not_mapping.yaml", ("'train' must be a mapping", "whole number")),
    ("hidden_zero_units.yaml", ("model.hidden", "[1]", "must be at least 1, not 0")),
]


def test_every_config_fixture_is_covered():
    on_disk = {p.name for p in CONFIGS.glob("*.yaml")}
    assert on_disk == {name for name, _ in BAD_FILES}


@pytest.mark.parametrize("filename, expected", BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_bad_config_file_is_refused_with_one_line(filename, expected):
    with pytest.raises(ConfigError) as info:
        config.load(CONFIGS / filename)
    message = str(info.value)
    assert_one_line(message)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize("filename", [name for name, _ in BAD_FILES])
def test_bad_config_file_error_names_the_file(filename):
    with pytest.raises(ConfigError) as info:
        config.load(CONFIGS / filename)
    assert str(info.value).startswith(str(CONFIGS / filename)), str(info.value)


def test_syntax_error_names_file_and_line():
    path = CONFIGS / "syntax_error.yaml"
    # the bad line really is line 3 of the fixture
    assert path.read_text().splitlines()[2].strip() == "batch_size: 128: 64"
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_python_tag_is_refused_and_nothing_runs(capfd):
    with pytest.raises(ConfigError):
        config.load(CONFIGS / "python_tag.yaml")
    out, err = capfd.readouterr()
    assert "hi" not in out


def test_python_tag_side_effect_never_happens(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match="YAML error"):
        config.load(path)
    assert not marker.exists()


def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value) == f"{path}: config file not found"


def test_non_utf8_config_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert_one_line(str(info.value))
    assert "cannot read config file" in str(info.value)


def test_unhashable_yaml_key_is_a_config_error(tmp_path):
    path = write(tmp_path, "? [a, b]\n: 1\n")
    with pytest.raises(ConfigError):
        config.load(path)


def test_huge_integer_for_a_float_is_a_config_error(tmp_path):
    path = write(tmp_path, "train:\n  learning_rate: " + "1" * 400 + "\n")
    with pytest.raises(ConfigError, match="train.learning_rate"):
        config.load(path)


def test_unknown_initializer_in_compare_inits_is_refused(tmp_path):
    path = write(tmp_path, "compare:\n  inits: [he, xavier]\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert_one_line(message)
    assert "compare.inits" in message and "'xavier'" in message
    assert "glorot" in message  # lists the valid names


# --- defaults and the shipped config -------------------------------------------------


def test_defaults_are_the_notebook_experiment():
    cfg = config.load()
    assert cfg.model.hidden == (256, 256)
    assert cfg.model.activation == "relu"
    assert cfg.train.optimizer == "adam"
    assert cfg.train.learning_rate == 0.001
    assert cfg.train.batch_size == 128
    assert cfg.train.epochs == 1
    assert cfg.compare.inits == ("random", "glorot", "he")
    assert cfg.compare.seeds == (0, 1, 2)
    assert cfg.data.name == "mnist"
    assert cfg.data.path is None and cfg.data.train_limit is None
    assert cfg == config.Config()


def test_repo_config_equals_the_defaults():
    path = REPO_ROOT / "configs" / "mnist_mlp.yaml"
    assert config.load(path) == config.load()


# --- --set overrides -------------------------------------------------------------------


def test_set_overrides_a_value():
    assert config.load(overrides=("train.epochs=3",)).train.epochs == 3


@pytest.mark.parametrize("item, get, expected", [
    ("model.hidden=[64, 32]", lambda c: c.model.hidden, (64, 32)),
    ("model.hidden=[512]", lambda c: c.model.hidden, (512,)),
    ("train.learning_rate=0.01", lambda c: c.train.learning_rate, 0.01),
    ("train.learning_rate=1", lambda c: c.train.learning_rate, 1.0),
    ("train.optimizer=sgd", lambda c: c.train.optimizer, "sgd"),
    ("data.train_limit=null", lambda c: c.data.train_limit, None),
    ("data.train_limit=500", lambda c: c.data.train_limit, 500),
    ("data.path=~/mnist.npz", lambda c: c.data.path, "~/mnist.npz"),
    ("checkpoint.every_steps=", lambda c: c.checkpoint.every_steps, None),
    ("compare.seeds=[3, 4]", lambda c: c.compare.seeds, (3, 4)),
    ("init=glorot", lambda c: c.init.name, "glorot"),
    ("init={name: random, stddev: 0.1}", lambda c: dict(c.init.params),
     {"mean": 0.0, "stddev": 0.1}),
    (" train.epochs = 4", lambda c: c.train.epochs, 4),
])
def test_set_values_are_parsed_as_yaml(item, get, expected):
    value = get(config.load(overrides=(item,)))
    assert value == expected
    assert type(value) is type(expected)


def test_set_scientific_notation_learning_rate():
    assert config.load(overrides=("train.learning_rate=1e-3",)).train.learning_rate == 0.001


def test_set_init_param_with_init_random():
    cfg = config.load(init="random", overrides=("init.stddev=0.5",))
    assert cfg.init.name == "random"
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 0.5}


def test_set_init_param_the_initializer_lacks():
    with pytest.raises(ConfigError, match=r"unknown key 'init.stddev' for initializer 'he'"):
        config.load(overrides=("init.stddev=0.5",))


@pytest.mark.parametrize("item, expected", [
    ("train.epoch=3", ("unknown key 'train.epoch'", "did you mean 'train.epochs'")),
    ("trian.epochs=3", ("unknown key 'trian'",)),
    ("foo=1", ("unknown key 'foo'",)),
    ("train.epochs.x=1", ("'train.epochs' must be a mapping",)),
    ("train.epochs", ("expected key=value",)),
    ("=3", ("expected key=value",)),
    ("model.hidden=[1,", ("not valid YAML",)),
    ("train.epochs=0", ("'train.epochs' must be at least 1",)),
    ("train.epochs=", ("'train.epochs' must be a whole number", "null")),
    ("train=3", ("'train' must be a mapping",)),
])
def test_bad_set_is_refused_with_one_line(item, expected):
    with pytest.raises(ConfigError) as info:
        config.load(overrides=(item,))
    message = str(info.value)
    assert_one_line(message)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_set_applies_in_order():
    cfg = config.load(overrides=("train.epochs=4", "train.epochs=5"))
    assert cfg.train.epochs == 5


# --- precedence: defaults < file < flags < --set --------------------------------------


@pytest.fixture
def file_cfg(tmp_path):
    return write(tmp_path, "seed: 5\ninit:\n  name: random\n  stddev: 0.5\n"
                           "train:\n  epochs: 2\n  batch_size: 64\n")


def test_file_overrides_defaults(file_cfg):
    cfg = config.load(file_cfg)
    assert cfg.seed == 5
    assert cfg.train.epochs == 2
    assert cfg.train.batch_size == 64
    # a section merges key by key: what the file leaves out keeps its default
    assert cfg.train.learning_rate == 0.001
    assert cfg.model.hidden == (256, 256)
    assert cfg.init.name == "random" and dict(cfg.init.params) == {"mean": 0.0, "stddev": 0.5}


def test_flags_override_file(file_cfg):
    cfg = config.load(file_cfg, init="glorot", seed=6, epochs=3)
    assert (cfg.init.name, cfg.seed, cfg.train.epochs) == ("glorot", 6, 3)
    assert cfg.train.batch_size == 64  # untouched by the flags


def test_set_overrides_flags(file_cfg):
    cfg = config.load(file_cfg, init="glorot", seed=6, epochs=3,
                      overrides=("init=he", "seed=7", "train.epochs=4"))
    assert (cfg.init.name, cfg.seed, cfg.train.epochs) == ("he", 7, 4)


def test_flag_values_are_checked():
    with pytest.raises(ConfigError, match="'seed' must be at least 0"):
        config.load(seed=-1)
    with pytest.raises(ConfigError, match="'train.epochs' must be at least 1"):
        config.load(epochs=0)
    with pytest.raises(ConfigError, match="unknown initializer 'nope'"):
        config.load(init="nope")


# --- switching initializers ------------------------------------------------------------


def test_init_flag_switch_drops_previous_params(file_cfg):
    he = config.load(file_cfg, init="he")
    assert he.init.name == "he" and dict(he.init.params) == {"mode": "fan_in"}
    # same name: the file's parameters stay
    random = config.load(file_cfg, init="random")
    assert dict(random.init.params) == {"mean": 0.0, "stddev": 0.5}
    # another initializer with a parameter of the same name gets its own default, not 0.5
    tn = config.load(file_cfg, init="truncated_normal")
    assert dict(tn.init.params) == {"mean": 0.0, "stddev": 0.05}


def test_file_init_switch_drops_default_params(tmp_path):
    cfg = config.load(write(tmp_path, "init:\n  name: orthogonal\n"))
    assert dict(cfg.init.params) == {"gain": 1.0}


def test_init_string_shorthand(tmp_path):
    assert config.load(write(tmp_path, "init: he\n")).init == config.InitConfig("he", {"mode": "fan_in"})
    cfg = config.load(write(tmp_path, "init: random\n", "random.yaml"))
    assert cfg.init.name == "random"
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 1.0}


def test_init_string_shorthand_with_init_flag(tmp_path):
    path = write(tmp_path, "init: random\n")
    assert config.load(path, init="glorot").init.name == "glorot"


def test_section_not_mapping_with_epochs_flag():
    with pytest.raises(ConfigError, match="'train' must be a mapping"):
        config.load(CONFIGS / "section_not_mapping.yaml", epochs=3)


def test_random_params_are_explicit():
    cfg = config.load(init="random")
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 1.0}
    assert config.to_dict(cfg)["init"] == {"name": "random", "mean": 0.0, "stddev": 1.0}


def test_init_params_are_read_only():
    cfg = config.load(init="random")
    with pytest.raises(TypeError):
        cfg.init.params["stddev"] = 2.0  # type: ignore[index]


def test_init_int_param_becomes_float():
    cfg = config.load(init="random", overrides=("init.stddev=2",))
    assert cfg.init.params["stddev"] == 2.0 and type(cfg.init.params["stddev"]) is float


# --- writing and reading back ----------------------------------------------------------

ROUND_TRIP = [
    (),
    ("init={name: random, stddev: 0.5}", "seed=3"),
    ("init={name: variance_scaling, mode: fan_avg, distribution: uniform, scale: 2}",),
    ("data.path=/tmp/mnist.npz", "data.train_limit=1000", "model.hidden=[32]",
     "model.activation=tanh", "train.optimizer=sgd", "eval.every_steps=5",
     "checkpoint.every_steps=null", "compare.inits=[zeros]", "name=other"),
]


@pytest.mark.parametrize("overrides", ROUND_TRIP)
def test_round_trip_dict(overrides):
    cfg = config.load(overrides=overrides)
    assert config.from_dict(config.to_dict(cfg)) == cfg


@pytest.mark.parametrize("overrides", ROUND_TRIP)
def test_round_trip_yaml(overrides, tmp_path):
    cfg = config.load(overrides=overrides)
    text = config.dump_yaml(cfg)
    assert config.from_dict(yaml.safe_load(text)) == cfg
    assert config.load(write(tmp_path, text)) == cfg


def test_to_dict_is_plain():
    raw = config.to_dict(config.load(init="random"))
    assert raw["model"]["hidden"] == [256, 256] and type(raw["model"]["hidden"]) is list
    assert type(raw["init"]) is dict
    assert json.loads(json.dumps(raw)) == raw


def test_run_identity():
    base = config.run_identity(config.load())
    assert base != config.run_identity(config.load(overrides=("model.hidden=[128]",)))
    assert base != config.run_identity(config.load(seed=1))
    assert base != config.run_identity(config.load(init="glorot"))
    assert (config.run_identity(config.load(init="random"))
            != config.run_identity(config.load(init="random", overrides=("init.stddev=0.5",))))
    for same in (config.load(epochs=5),
                 config.load(overrides=("eval.every_steps=7", "checkpoint.keep=1",
                                        "log.every_steps=1", "compare.seeds=[9]", "name=x"))):
        assert config.run_identity(same) == base
    assert base["model.hidden"] == [256, 256]
    assert "train.epochs" not in base


# --- property: --set train.batch_size=<anything> ---------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = json_scalars | st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None, database=None)  # no .hypothesis/ in the repo
@given(json_values)
@example(True)
@example(False)
@example(None)
@example(0)
@example(-1)
@example(1)
@example(2**70)
@example(128.0)
@example(float("nan"))
@example("128")
@example([128])
@example({"batch_size": 128})
def test_batch_size_override_is_a_positive_int_or_a_config_error(value):
    text = json.dumps(value)
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    try:
        cfg = config.load(overrides=(f"train.batch_size={text}",))
    except ConfigError as exc:
        assert not valid, f"{text} refused: {exc}"
        assert_one_line(str(exc))
        return
    assert valid, f"{text} accepted as {cfg.train.batch_size!r}"
    assert type(cfg.train.batch_size) is int and cfg.train.batch_size == value


# --- fuzzing whole config files --------------------------------------------------------

_KEYS = ["name", "seed", "data", "model", "init", "train", "eval", "checkpoint", "log",
         "compare", "model.hidden", "model.activation", "init.name", "init.gain",
         "init.stddev", "init.mode", "train.epochs", "train.batch_size",
         "train.learning_rate", "train.optimizer", "eval.every_steps", "log.histograms",
         "compare.inits", "compare.seeds", "compare.fuse", "data.train_limit"]


def _nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = value
    return out


@settings(max_examples=200, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=6))
def test_any_config_file_loads_or_is_one_line_error(tmp_path_factory, flat):
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_text(yaml.safe_dump(_nest(flat)))
    try:
        config.load(path)
    except ConfigError as exc:
        assert_one_line(str(exc))


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=200))
@example("!!python/object/apply:os.system ['echo hi']")
@example("a: 1\n---\nb: 2\n")
@example("train: {epochs: !!float 1e400}\n")
@example("\t- x")
@example("*alias")
def test_any_text_as_a_config_file_is_loaded_or_one_line_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_bytes(text.encode("utf-8", errors="replace"))  # lone surrogates too
    try:
        config.load(path)
    except ConfigError as exc:
        assert_one_line(str(exc))
