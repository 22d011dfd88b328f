"""`init.bias_variance`: every Dense bias from N(0, σ_b²), for every initializer, seeded
per layer apart from the kernels; 0 (the default) keeps Keras' zeros and every run's bits.
The config's rules, the model's biases, and runs with nonzero biases, fused and alone."""

import json
import math

import numpy as np
import pytest

from initcmp.experiments import compare
from initcmp.config import schema
from initcmp.config import resolve
from initcmp.data import sources
from initcmp.inits import registry
from initcmp.engine import models
from initcmp.engine import train
from initcmp.errors import CheckpointError, ConfigError
from helpers import (
    SYNTHETIC,
    SYNTHETIC_ARGS,
    finished_runs,
    load_config,
    run_alone,
    run_cli,
    same,
    synthetic_config,
)


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the config ------------------------------------------------------------------------


def test_the_default_is_zero_and_left_out_of_the_written_config():
    cfg = load_config()
    assert cfg.init.bias_variance == 0.0
    assert "bias_variance" not in schema.to_dict(cfg)["init"]
    zero = load_config(overrides=("init.bias_variance=0",))
    assert zero == cfg and schema.dump_yaml(zero) == schema.dump_yaml(cfg)
    assert schema.run_identity(zero) == schema.run_identity(cfg)


@pytest.mark.parametrize("init", list(registry.REGISTRY))
def test_every_initializer_takes_it(init):
    cfg = load_config(init=init, overrides=("init.bias_variance=0.05",))
    assert cfg.init.name == init and cfg.init.bias_variance == 0.05
    assert dict(cfg.init.params) == registry.default_params(init)


def test_its_yaml_form_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, "init: {name: he, mode: fan_in, bias_variance: 0.05}\n"))
    assert schema.to_dict(cfg)["init"] == {"name": "he", "mode": "fan_in", "bias_variance": 0.05}
    text = schema.dump_yaml(cfg)
    assert "bias_variance: 0.05\n" in text
    assert load_config(write(tmp_path, text, "again.yaml")) == cfg
    assert resolve.from_dict(schema.to_dict(cfg)) == cfg
    # an integer is a number: read as a float
    assert load_config(overrides=("init.bias_variance=1",)).init.bias_variance == 1.0


def test_it_is_part_of_the_runs_identity():
    base = schema.run_identity(load_config())
    biased = schema.run_identity(load_config(overrides=("init.bias_variance=0.05",)))
    assert biased != base and biased["init.bias_variance"] == 0.05


@pytest.mark.parametrize(
    "init, overrides",
    [
        ("glorot", ()),  # --init
        (None, ("init.name=glorot",)),
        (None, ("init=glorot",)),
        (None, ("init={name: glorot, gain: 2}",)),
        ("xavier", ()),  # an alias is another name too
    ],
)
def test_a_new_initializer_name_keeps_it_and_drops_the_old_parameters(tmp_path, init, overrides):
    path = write(tmp_path, "init: {name: he, mode: fan_out, bias_variance: 0.05}\n")
    cfg = load_config(path, init=init, overrides=overrides)
    assert cfg.init.name == "glorot" and cfg.init.bias_variance == 0.05
    assert "mode" not in cfg.init.params


def test_given_beside_a_new_name_it_replaces_the_kept_one(tmp_path):
    path = write(tmp_path, "init: {name: he, bias_variance: 0.05}\n")
    cfg = load_config(path, overrides=("init={name: random, bias_variance: 0.2}",))
    assert cfg.init.name == "random" and cfg.init.bias_variance == 0.2


def test_a_comparison_runs_every_initializer_with_the_configs():
    cfg = load_config(init="random", overrides=(*SYNTHETIC, "init.bias_variance=0.05"))
    runs = compare.plan(cfg)
    assert {r.init.name for r in runs} == {"random", "glorot", "he"}
    assert all(r.init.bias_variance == 0.05 for r in runs)


@pytest.mark.parametrize(
    "value, words",
    [
        ("-0.1", "must be at least 0, not -0.1"),
        (".inf", "must be a finite number, not inf"),
        (".nan", "must be a finite number, not nan"),
        ("true", "must be a number, not a boolean"),
        ("big", "must be a number, not a string"),
        ("[0.1]", "must be a number, not a list"),
    ],
)
def test_bad_values_name_the_key_and_the_source(value, words):
    with pytest.raises(ConfigError) as caught:
        load_config(init="lsuv", overrides=(f"init.bias_variance={value}",))
    assert str(caught.value).startswith("--set init.bias_variance: 'init.bias_variance' ")
    assert words in str(caught.value)


def test_a_bad_value_kept_across_a_new_name_blames_its_file(tmp_path):
    path = write(tmp_path, "init: {name: he, bias_variance: -1}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: 'init.bias_variance' must be at least 0"):
        load_config(path, init="glorot")


def test_a_mistyped_key_says_every_initializer_takes_bias_variance():
    with pytest.raises(ConfigError, match="also takes bias_variance"):
        load_config(overrides=("init.bias_varience=0.05",))


def test_bad_input_on_the_command_line_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("config", "--set", "init.bias_variance=-0.5")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("initcmp: error: --set init.bias_variance")
    shown = json.loads(run_cli("config", "--json", "--set", "init.bias_variance=0.05").stdout)
    assert shown["init"]["bias_variance"] == 0.05


def test_inits_says_every_initializer_takes_it():
    lines = run_cli("inits").stdout.splitlines()
    assert [line for line in lines if "bias_variance" in line] == [registry.BIASES]
    assert "default 0: zero biases" in registry.BIASES


# --- the model ---------------------------------------------------------------------------


def test_bias_seeds_are_apart_from_the_kernels_and_from_each_other():
    seeds = [(s, layer) for s in range(20) for layer in range(6)]
    kernels = {registry.layer_seed(s, layer) for s, layer in seeds}
    biases = {models.bias_seed(s, layer) for s, layer in seeds}
    assert len(biases) == len(seeds) and not kernels & biases


def biases(cfg) -> list[np.ndarray]:
    return [layer.bias.numpy() for layer in models.dense_layers(models.build_model(cfg))]


def kernels(cfg) -> list[np.ndarray]:
    return [layer.kernel.numpy() for layer in models.dense_layers(models.build_model(cfg))]


def test_zero_keeps_keras_zeros_initializer():
    import keras

    assert models.bias_initializer(0.0, 0, 0) == "zeros"
    model = models.build_model(load_config(overrides=("init.bias_variance=0",)))
    for layer in models.dense_layers(model):
        assert isinstance(layer.bias_initializer, keras.initializers.Zeros)
        assert not layer.bias.numpy().any()


@pytest.mark.parametrize("init", ["he", "random", "zeros"])
def test_nonzero_biases_are_normal_per_layer_and_seed_and_reproducible(init):
    cfg = load_config(init=init, overrides=("init.bias_variance=0.05",))
    drawn = biases(cfg)
    hidden = np.concatenate(drawn[:-1])  # 512 values: the std within about 5 %
    assert abs(hidden.std() - math.sqrt(0.05)) < 0.15 * math.sqrt(0.05)
    assert abs(hidden.mean()) < 0.05
    assert not np.array_equal(drawn[0][:10], drawn[1][:10])  # layers differ
    other_seed = biases(load_config(init=init, seed=1, overrides=("init.bias_variance=0.05",)))
    assert all(not np.array_equal(a, b) for a, b in zip(drawn, other_seed))
    assert all(np.array_equal(a, b) for a, b in zip(drawn, biases(cfg)))  # same seed, same
    # the kernels are the zero-bias model's: the biases' draws are a stream of their own
    plain = kernels(load_config(init=init))
    assert all(np.array_equal(a, b) for a, b in zip(kernels(cfg), plain))


def test_the_std_follows_the_variance():
    wide = load_config(overrides=("init.bias_variance=2.0", "model.hidden=[4000]"))
    assert abs(biases(wide)[0].std() - math.sqrt(2.0)) < 0.05 * math.sqrt(2.0)


# --- training ----------------------------------------------------------------------------


def test_default_compare_has_the_same_bits_with_bias_variance_absent_and_zero(tmp_path):
    for folder, extra in (("absent", ()), ("zero", ("init.bias_variance=0",))):
        cfg = load_config(overrides=SYNTHETIC + extra)
        compare.run(
            cfg,
            sources.synthetic,
            checkpoint_root=tmp_path / folder / "ck",
            log_root=tmp_path / folder / "logs",
        )
    absent, zero = finished_runs(tmp_path / "absent"), finished_runs(tmp_path / "zero")
    assert len(absent) == 9 and absent == zero
    for config_yaml in (tmp_path / "zero" / "logs").rglob("config.yaml"):
        assert "bias_variance" not in config_yaml.read_text()


def test_biased_runs_train_fused_to_the_same_bits_as_alone(tmp_path, syn):
    runs = [
        synthetic_config(i, "init.bias_variance=0.05", "eval.every_steps=7", seed=s)
        for i, s in (("random", 0), ("glorot", 1), ("he", 0), ("lsuv", 2))
    ] + [synthetic_config("glorot", "eval.every_steps=7", seed=2)]  # zero biases, same stack
    roots = {"checkpoint_root": tmp_path / "fused" / "ck", "log_root": tmp_path / "fused" / "logs"}
    together = train.run_many(runs, syn, **roots)
    assert [r["trained_with"] for r in together] == [5] * 5
    for cfg, fused_result in zip(runs, together):
        alone = run_alone(tmp_path / "alone", cfg, syn)
        assert alone["trained_with"] == 1
        assert same(fused_result) == same(alone)
    assert finished_runs(tmp_path / "fused") == finished_runs(tmp_path / "alone")
    # the biases took part: the zero-bias run ends elsewhere
    plain = train.run(
        synthetic_config("he"),
        syn,
        checkpoint_root=tmp_path / "plain" / "ck",
        log_root=tmp_path / "plain" / "logs",
    )
    assert plain["weights_sha256"] != together[2]["weights_sha256"]
    recorded = (tmp_path / "fused" / "logs" / "mnist_mlp" / "he-s0" / "config.yaml").read_text()
    assert "bias_variance: 0.05" in recorded
    # resuming it with another bias variance is refused, naming the key
    with pytest.raises(CheckpointError, match=r"init\.bias_variance \(was 0\.05, now 0\.0\)"):
        train.run(synthetic_config("he"), syn, **roots)


def test_a_biased_run_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--init", "glorot", *SYNTHETIC_ARGS, "--set", "init.bias_variance=0.05", "--json"]
    trained = json.loads(run_cli("train", *args).stdout)
    evaluated = json.loads(run_cli("eval", *args).stdout)
    assert evaluated["test_accuracy"] == trained["test_accuracy"]
    assert evaluated["weights_sha256"] == trained["weights_sha256"]
