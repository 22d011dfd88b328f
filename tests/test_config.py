"""Config loading: defaults, files, flags, `--set`, and every refusal naming its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from initcmp.config import schema
from initcmp.config import resolve
from initcmp.errors import ConfigError
from helpers import ERROR, error_line, load_config, python, run_cli

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
    (
        "unknown_init.yaml",
        ("unknown initializer 'gloriot'", "did you mean 'glorot'", "valid names", "glorot", "he"),
    ),
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
        load_config(CONFIGS / filename)
    message = str(info.value)
    assert_one_line(message)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize("filename", [name for name, _ in BAD_FILES])
def test_bad_config_file_error_names_the_file(filename):
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / filename)
    assert str(info.value).startswith(str(CONFIGS / filename)), str(info.value)


def test_syntax_error_names_file_and_line():
    path = CONFIGS / "syntax_error.yaml"
    # the bad line really is line 3 of the fixture
    assert path.read_text().splitlines()[2].strip() == "batch_size: 128: 64"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_python_tag_is_refused_and_nothing_runs(capfd):
    with pytest.raises(ConfigError):
        load_config(CONFIGS / "python_tag.yaml")
    out, err = capfd.readouterr()
    assert "hi" not in out


def test_python_tag_side_effect_never_happens(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match="YAML error"):
        load_config(path)
    assert not marker.exists()


def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: config file not found"


def test_non_utf8_config_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line(str(info.value))
    assert "cannot read config file" in str(info.value)


def test_unhashable_yaml_key_is_a_config_error(tmp_path):
    path = write(tmp_path, "? [a, b]\n: 1\n")
    with pytest.raises(ConfigError):
        load_config(path)


def test_huge_integer_for_a_float_is_a_config_error(tmp_path):
    path = write(tmp_path, "train:\n  learning_rate: " + "1" * 400 + "\n")
    with pytest.raises(ConfigError, match="train.learning_rate"):
        load_config(path)


def test_unknown_initializer_in_compare_inits_is_refused(tmp_path):
    path = write(tmp_path, "compare:\n  inits: [he, xaviar]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert_one_line(message)
    assert "compare.inits" in message and "'xaviar'" in message
    assert "glorot" in message  # lists the valid names


# --- defaults and the shipped config -------------------------------------------------


def test_defaults_are_the_notebook_experiment():
    cfg = load_config()
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
    assert cfg == schema.Config()


def test_repo_config_equals_the_defaults():
    path = REPO_ROOT / "configs" / "mnist_mlp.yaml"
    assert load_config(path) == load_config()


# --- --set overrides -------------------------------------------------------------------


def test_set_overrides_a_value():
    assert load_config(overrides=("train.epochs=3",)).train.epochs == 3


@pytest.mark.parametrize(
    "item, get, expected",
    [
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
        (
            "init={name: random, stddev: 0.1}",
            lambda c: dict(c.init.params),
            {"mean": 0.0, "stddev": 0.1},
        ),
        (" train.epochs = 4", lambda c: c.train.epochs, 4),
    ],
)
def test_set_values_are_parsed_as_yaml(item, get, expected):
    value = get(load_config(overrides=(item,)))
    assert value == expected
    assert type(value) is type(expected)


def test_set_scientific_notation_learning_rate():
    assert load_config(overrides=("train.learning_rate=1e-3",)).train.learning_rate == 0.001


def test_set_init_param_with_init_random():
    cfg = load_config(init="random", overrides=("init.stddev=0.5",))
    assert cfg.init.name == "random"
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 0.5}


def test_set_init_param_the_initializer_lacks():
    with pytest.raises(ConfigError, match=r"unknown key 'init.stddev' for initializer 'he'"):
        load_config(overrides=("init.stddev=0.5",))


@pytest.mark.parametrize(
    "item, expected",
    [
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
    ],
)
def test_bad_set_is_refused_with_one_line(item, expected):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=(item,))
    message = str(info.value)
    assert_one_line(message)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_set_applies_in_order():
    cfg = load_config(overrides=("train.epochs=4", "train.epochs=5"))
    assert cfg.train.epochs == 5


# --- precedence: defaults < file < flags < --set --------------------------------------


@pytest.fixture
def file_cfg(tmp_path):
    return write(
        tmp_path,
        "seed: 5\ninit:\n  name: random\n  stddev: 0.5\ntrain:\n  epochs: 2\n  batch_size: 64\n",
    )


def test_file_overrides_defaults(file_cfg):
    cfg = load_config(file_cfg)
    assert cfg.seed == 5
    assert cfg.train.epochs == 2
    assert cfg.train.batch_size == 64
    # a section merges key by key: what the file leaves out keeps its default
    assert cfg.train.learning_rate == 0.001
    assert cfg.model.hidden == (256, 256)
    assert cfg.init.name == "random" and dict(cfg.init.params) == {"mean": 0.0, "stddev": 0.5}


def test_flags_override_file(file_cfg):
    cfg = load_config(file_cfg, init="glorot", seed=6, epochs=3)
    assert (cfg.init.name, cfg.seed, cfg.train.epochs) == ("glorot", 6, 3)
    assert cfg.train.batch_size == 64  # untouched by the flags


def test_set_overrides_flags(file_cfg):
    cfg = load_config(
        file_cfg, init="glorot", seed=6, epochs=3, overrides=("init=he", "seed=7", "train.epochs=4")
    )
    assert (cfg.init.name, cfg.seed, cfg.train.epochs) == ("he", 7, 4)


def test_flag_values_are_checked():
    with pytest.raises(ConfigError, match="'seed' must be at least 0"):
        load_config(seed=-1)
    with pytest.raises(ConfigError, match="'train.epochs' must be at least 1"):
        load_config(epochs=0)
    with pytest.raises(ConfigError, match="unknown initializer 'nope'"):
        load_config(init="nope")


# --- switching initializers ------------------------------------------------------------


def test_init_flag_switch_drops_previous_params(file_cfg):
    he = load_config(file_cfg, init="he")
    assert he.init.name == "he" and dict(he.init.params) == {"mode": "fan_in"}
    # same name: the file's parameters stay
    random = load_config(file_cfg, init="random")
    assert dict(random.init.params) == {"mean": 0.0, "stddev": 0.5}
    # another initializer with a parameter of the same name gets its own default, not 0.5
    tn = load_config(file_cfg, init="truncated_normal")
    assert dict(tn.init.params) == {"mean": 0.0, "stddev": 0.05}


def test_file_init_switch_drops_default_params(tmp_path):
    cfg = load_config(write(tmp_path, "init:\n  name: orthogonal\n"))
    assert dict(cfg.init.params) == {"gain": 1.0}


def test_init_string_shorthand(tmp_path):
    assert load_config(write(tmp_path, "init: he\n")).init == schema.InitConfig(
        "he", {"mode": "fan_in"}
    )
    cfg = load_config(write(tmp_path, "init: random\n", "random.yaml"))
    assert cfg.init.name == "random"
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 1.0}


def test_init_string_shorthand_with_init_flag(tmp_path):
    path = write(tmp_path, "init: random\n")
    assert load_config(path, init="glorot").init.name == "glorot"


def test_section_not_mapping_with_epochs_flag():
    with pytest.raises(ConfigError, match="'train' must be a mapping"):
        load_config(CONFIGS / "section_not_mapping.yaml", epochs=3)


def test_random_params_are_explicit():
    cfg = load_config(init="random")
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 1.0}
    assert schema.to_dict(cfg)["init"] == {"name": "random", "mean": 0.0, "stddev": 1.0}


def test_init_params_are_read_only():
    cfg = load_config(init="random")
    with pytest.raises(TypeError):
        cfg.init.params["stddev"] = 2.0  # type: ignore[index]


def test_init_int_param_becomes_float():
    cfg = load_config(init="random", overrides=("init.stddev=2",))
    assert cfg.init.params["stddev"] == 2.0 and type(cfg.init.params["stddev"]) is float


def test_set_init_name_switches_to_that_initializers_defaults():
    # before the rules lived in one place this failed: he's `mode` stayed beside glorot
    cfg = load_config(overrides=("init.name=glorot",))
    assert cfg.init.name == "glorot" and dict(cfg.init.params) == {"gain": 1.0}


@pytest.fixture
def he_fan_out(tmp_path):
    return write(tmp_path, "init: {name: he, mode: fan_out}\n", "he_fan_out.yaml")


@pytest.mark.parametrize(
    "init, overrides",
    [
        ("glorot", ()),
        (None, ("init.name=glorot",)),
        (None, ("init=glorot",)),
        (None, ("init={name: glorot}",)),
    ],
)
def test_another_initializer_drops_the_files_params(he_fan_out, init, overrides):
    cfg = load_config(he_fan_out, init=init, overrides=overrides)
    assert cfg.init.name == "glorot" and dict(cfg.init.params) == {"gain": 1.0}


@pytest.mark.parametrize(
    "init, overrides",
    [
        ("he", ()),
        (None, ("init.name=he",)),
        (None, ("init=he",)),
        (None, ("init={name: he}",)),
        ("he", ("init.name=he",)),
    ],
)
def test_the_same_initializer_keeps_the_files_params(he_fan_out, init, overrides):
    cfg = load_config(he_fan_out, init=init, overrides=overrides)
    assert cfg.init.name == "he" and dict(cfg.init.params) == {"mode": "fan_out"}


def test_params_given_with_a_new_name_apply_to_it(he_fan_out):
    cfg = load_config(he_fan_out, overrides=("init={name: glorot, gain: relu}",))
    assert dict(cfg.init.params) == {"gain": "relu"}
    cfg = load_config(he_fan_out, init="random", overrides=("init.stddev=0.5",))
    assert dict(cfg.init.params) == {"mean": 0.0, "stddev": 0.5}


def test_for_run_follows_the_same_rules():
    cfg = load_config(init="random", overrides=("init.stddev=0.5",))
    assert dict(resolve.for_run(cfg, "random", 3).init.params)["stddev"] == 0.5
    other = resolve.for_run(cfg, "truncated_normal", 3)
    assert dict(other.init.params) == {"mean": 0.0, "stddev": 0.05} and other.seed == 3


# --- errors name where the bad value came from -------------------------------------------


def cli_error(*args) -> str:
    """`initcmp ARGS...`'s one error line (exit 2), without `initcmp: error: `."""
    return error_line(run_cli(*args), code=2).removeprefix(ERROR)


def str_error(path=None, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kw)
    assert_one_line(str(info.value))
    return str(info.value)


def test_a_bad_flag_value_names_the_flag():
    assert cli_error("train", "--seed", "-1") == "--seed: 'seed' must be at least 0, not -1"
    assert cli_error("eval", "--init", "nope").startswith("--init: 'init.name': ")
    assert cli_error("compare", "--epochs", "0").startswith("--epochs: 'train.epochs' ")


def test_a_bad_inits_flag_names_inits_not_set():
    message = cli_error("report", "--inits", "Xaviar,he")
    assert message.startswith("--inits: 'compare.inits[0]' must be one of random, glorot")
    assert "--set" not in message and "defaults" not in message
    assert cli_error("compare", "--inits", ",").startswith(
        "--inits: 'compare.inits' must be a non-empty list"
    )


def test_flags_become_overrides_of_their_keys():
    from initcmp.cli import options

    flags = {
        "--inits": ["he"],
        "--seeds": [0, 1],
        "--epochs": None,  # None: a flag not given
        "--executor": "ray",
        "--address": "h:1",
        "--init": "he",
        "--seed": 3,
    }
    seen = options.overrides_of(flags, ("seed=4",))
    # what the command's config is loaded from: defaults < these, in this order
    assert options.load_config(None, flags, ("seed=4",)) == resolve.load(None, seen)
    assert seen == [
        resolve.Override("compare.inits", ["he"], "--inits"),
        resolve.Override("compare.seeds", [0, 1], "--seeds"),
        resolve.Override("compare.executor", "ray", "--executor"),
        resolve.Override("ray.address", "h:1", "--address"),
        resolve.Override("init.name", "he", "--init"),
        resolve.Override("seed", 3, "--seed"),
        resolve.Override("seed", 4, "--set seed"),
    ]


def test_parse_set_is_an_override_named_after_its_key():
    assert resolve.parse_set(" model.hidden = [8, 8]") == resolve.Override(
        "model.hidden", [8, 8], "--set model.hidden"
    )


def test_the_last_source_to_set_a_key_is_named(tmp_path):
    path = write(tmp_path, "compare:\n  inits: [xaviar]\ntrain:\n  epochs: 2\n")
    assert str_error(path, seed=3).startswith(f"{path}: 'compare.inits[0]'")
    assert str_error(path, overrides=("train.epochs=0",)).startswith("--set train.epochs: ")
    assert str_error(path, epochs=0).startswith("--epochs: 'train.epochs'")
    # a section set whole: its keys come from that --set, even after another key's --set
    assert str_error(overrides=("train={epochs: 0}", "train.batch_size=64")).startswith(
        "--set train: 'train.epochs' must be at least 1"
    )
    # two parameters together: the last to set one of them
    assert str_error(CONFIGS / "random_uniform_min_ge_max.yaml", seed=3).startswith(
        f"{CONFIGS / 'random_uniform_min_ge_max.yaml'}: 'init.minval' (0.1)"
    )
    assert str_error(
        overrides=("init={name: random_uniform, minval: 0.1}", "init.maxval=0.1")
    ).startswith("--set init.maxval: ")


def test_a_file_section_that_is_no_mapping_is_the_files_fault():
    path = CONFIGS / "section_not_mapping.yaml"
    assert str_error(path, epochs=3).startswith(f"{path}: 'train' must be a mapping")
    assert str_error(overrides=("train.epochs.x=1",)).startswith(
        "--set train.epochs.x: 'train.epochs' must be a mapping"
    )


def test_from_dict_names_its_source_for_every_key():
    with pytest.raises(ConfigError, match=r"^run/config.yaml: 'train.epochs' must be at"):
        resolve.from_dict({"train": {"epochs": 0}}, source="run/config.yaml")
    with pytest.raises(ConfigError, match=r"^--x: 'train.epochs' must be at"):
        resolve.from_dict({"train": {"epochs": 0}}, "file", {"train.epochs": "--x"})


def test_importing_config_load_does_not_import_tensorflow():
    code = (
        "import sys, initcmp.config.resolve, initcmp.cli.main; "
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    )
    out = python("-c", code, check=True, timeout=60).stdout.strip()
    assert out == "[]"


def test_the_schema_does_not_import_resolve():
    """No import circle: config/schema.py (what a config is) never imports
    config/resolve.py (how one is made), not even inside a function."""
    import ast

    tree = ast.parse((REPO_ROOT / "initcmp" / "config" / "schema.py").read_text())
    imported = [
        f"{getattr(node, 'module', None)}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert "resolve" not in " ".join(imported), imported


# --- writing and reading back ----------------------------------------------------------

ROUND_TRIP = [
    (),
    ("init={name: random, stddev: 0.5}", "seed=3"),
    ("init={name: variance_scaling, mode: fan_avg, distribution: uniform, scale: 2}",),
    (
        "data.path=/tmp/mnist.npz",
        "data.train_limit=1000",
        "model.hidden=[32]",
        "model.activation=tanh",
        "train.optimizer=sgd",
        "eval.every_steps=5",
        "checkpoint.every_steps=null",
        "compare.inits=[zeros]",
        "name=other",
    ),
]


@pytest.mark.parametrize("overrides", ROUND_TRIP)
def test_round_trip_dict(overrides):
    cfg = load_config(overrides=overrides)
    assert resolve.from_dict(schema.to_dict(cfg)) == cfg


@pytest.mark.parametrize("overrides", ROUND_TRIP)
def test_round_trip_yaml(overrides, tmp_path):
    cfg = load_config(overrides=overrides)
    text = schema.dump_yaml(cfg)
    assert resolve.from_dict(yaml.safe_load(text)) == cfg
    assert load_config(write(tmp_path, text)) == cfg


def test_to_dict_is_plain():
    raw = schema.to_dict(load_config(init="random"))
    assert raw["model"]["hidden"] == [256, 256] and type(raw["model"]["hidden"]) is list
    assert type(raw["init"]) is dict
    assert json.loads(json.dumps(raw)) == raw


def test_run_identity():
    base = schema.run_identity(load_config())
    assert base != schema.run_identity(load_config(overrides=("model.hidden=[128]",)))
    assert base != schema.run_identity(load_config(seed=1))
    assert base != schema.run_identity(load_config(init="glorot"))
    assert schema.run_identity(load_config(init="random")) != schema.run_identity(
        load_config(init="random", overrides=("init.stddev=0.5",))
    )
    for same in (
        load_config(epochs=5),
        load_config(
            overrides=(
                "eval.every_steps=7",
                "checkpoint.keep=1",
                "log.every_steps=1",
                "compare.seeds=[9]",
                "name=x",
            )
        ),
    ):
        assert schema.run_identity(same) == base
    assert base["model.hidden"] == [256, 256]
    assert "train.epochs" not in base


# --- property: --set train.batch_size=<anything> ---------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = json_scalars | st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
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
        cfg = load_config(overrides=(f"train.batch_size={text}",))
    except ConfigError as exc:
        assert not valid, f"{text} refused: {exc}"
        assert_one_line(str(exc))
        return
    assert valid, f"{text} accepted as {cfg.train.batch_size!r}"
    assert type(cfg.train.batch_size) is int and cfg.train.batch_size == value


# --- fuzzing whole config files --------------------------------------------------------

_KEYS = [
    "name",
    "seed",
    "data",
    "model",
    "init",
    "train",
    "eval",
    "checkpoint",
    "log",
    "compare",
    "model.hidden",
    "model.activation",
    "init.name",
    "init.gain",
    "init.stddev",
    "init.mode",
    "train.epochs",
    "train.batch_size",
    "train.learning_rate",
    "train.optimizer",
    "eval.every_steps",
    "log.histograms",
    "compare.inits",
    "compare.seeds",
    "compare.fuse",
    "data.train_limit",
]


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
        load_config(path)
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
        load_config(path)
    except ConfigError as exc:
        assert_one_line(str(exc))
