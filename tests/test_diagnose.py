"""`initcmp inspect` (analysis/diagnose.py) and LSUV (engine/lsuv.py), on the synthetic set: the
physics of initialization measured, not asserted by hand. Depth 20, ReLU: He keeps the signal's
size, Glorot halves its variance at every layer, N(0, 1) multiplies it by fan_in / 2."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from initcmp.engine import batches
from initcmp.data import sources
from initcmp.analysis import diagnose
from initcmp.inits import registry
from initcmp.engine import lsuv
from initcmp.engine import measure
from initcmp.engine import models
from initcmp.report import plots
from initcmp.engine import runtime
from initcmp.engine import train
from helpers import synthetic_config

DEEP = (
    "model.hidden=[128, 128, 128, 128, 128, 128, 128, 128, 128, 128, "
    "128, 128, 128, 128, 128, 128, 128, 128, 128, 128]"
)


@pytest.fixture(scope="module")
def small_syn():
    """A smaller synthetic set than conftest's `syn` (1000 training, 100 test images)."""
    runtime.tensorflow()
    return sources.synthetic(n_train=1000, n_test=100)


def act_stds(result):
    return np.array([r["activation_std"] for r in result["layers"][:-1]])


def per_layer_factor(result) -> float:
    """The geometric-mean change of the activation std from one hidden layer to the next."""
    stds = act_stds(result)
    return float((stds[-1] / stds[0]) ** (1 / (len(stds) - 1)))


@pytest.fixture(scope="module")
def deep(small_syn):
    return {
        name: diagnose.inspect(synthetic_config(name, DEEP), small_syn, batch=256)
        for name in ("he", "glorot", "random")
    }


def test_depth_20_relu_he_keeps_the_signal(deep):
    he = deep["he"]
    assert len(he["layers"]) == 21 and he["layers"][-1]["name"] == "logits"
    assert 0.9 < per_layer_factor(he) < 1.1
    stds = act_stds(he)
    assert stds.max() / stds.min() < 3
    assert any("keeps its size" in f for f in he["findings"])


def test_depth_20_relu_glorot_halves_the_variance_at_every_layer(deep):
    glorot = deep["glorot"]
    # Var(W) = 2 / (128 + 128) = 1 / 128; a ReLU layer keeps fan_in * Var(W) / 2 = 1/2 of
    # the variance, so the std shrinks by sqrt(1/2) = 0.707 per layer.
    assert per_layer_factor(glorot) == pytest.approx(math.sqrt(0.5), abs=0.05)
    assert act_stds(glorot)[-1] / act_stds(glorot)[0] < 0.01
    assert any("vanishes" in f for f in glorot["findings"])


def test_depth_20_relu_standard_normal_explodes(deep):
    random = deep["random"]
    # Var(W) = 1: each layer multiplies the variance by fan_in / 2 = 64, the std by 8.
    assert per_layer_factor(random) == pytest.approx(8.0, rel=0.15)
    assert act_stds(random)[-1] > 1e12
    assert any("explodes" in f for f in random["findings"])
    assert any("logits" in f and "saturated" in f for f in random["findings"])


def test_two_glorot_layers_get_the_verdict_of_their_factor_not_keeps_its_size(small_syn):
    # Glorot's x0.7 per ReLU layer is harmless across 2 layers and fatal across 20 (the
    # test above): the same factor gets the same verdict, and the sentence says both.
    result = diagnose.inspect(
        synthetic_config("glorot", "model.hidden=[256, 256]"), small_syn, batch=128
    )
    (signal,) = [f for f in result["findings"] if "per layer" in f]
    assert "keeps its size" not in signal
    assert "would vanish by 20 layers" in signal and "though not across these 2" in signal


def test_inf_and_nan_are_reported_not_raised(small_syn):
    # stddev 1e4 at depth 20: the activations pass float32's 3.4e38 and become inf.
    result = diagnose.inspect(
        synthetic_config("random", DEEP, "init.stddev=10000.0"), small_syn, batch=64
    )
    stds = act_stds(result)
    assert np.isinf(stds).any() and np.isfinite(stds[0])
    assert any("overflow" in f for f in result["findings"])
    out = diagnose.to_json([result])
    text = json.dumps(out, allow_nan=False)  # strict JSON: inf and nan became strings
    values = {r["activation_std"] for r in json.loads(text)["layers"]}
    assert values & {"inf", "nan"}


def test_weight_std_matches_the_formula_for_every_initializer(small_syn):
    extras = {
        "glorot": ["init.gain=sigmoid"],
        "he": ["init.mode=fan_out"],
        "orthogonal": ["init.gain=tanh"],
    }
    for name in registry.REGISTRY:
        if name in ("lsuv", "zeros"):
            continue
        cfg = synthetic_config(name, "model.hidden=[512, 256]", *extras.get(name, []))
        for row in diagnose.inspect(cfg, small_syn, batch=8)["layers"]:
            assert row["weight_std"] == pytest.approx(row["expected_weight_std"], rel=0.05), (
                name,
                row["name"],
            )


def test_gain_and_mode_defaults_give_kerass_own_weights_bit_for_bit(small_syn):
    import keras

    for name, params, own in (
        ("glorot", {"gain": 1.0}, keras.initializers.GlorotUniform),
        ("glorot_normal", {"gain": 1.0}, keras.initializers.GlorotNormal),
        ("he", {"mode": "fan_in"}, keras.initializers.HeUniform),
        ("he_normal", {"mode": "fan_in"}, keras.initializers.HeNormal),
    ):
        seed = registry.layer_seed(0, 1)
        ours = registry.build(name, params, seed=0, layer=1)((300, 200))
        assert np.array_equal(np.asarray(ours), np.asarray(own(seed=seed)((300, 200)))), name


def test_gain_by_activation_name():
    assert registry.gain("sigmoid") == 4.0 and registry.gain(2) == 2.0
    assert registry.expected_std("glorot", {"gain": "sigmoid"}, 100, 100) == pytest.approx(
        4 * math.sqrt(2 / 200)
    )
    assert registry.expected_std("he", {"mode": "fan_out"}, 100, 50) == pytest.approx(
        math.sqrt(2 / 50)
    )


def test_dead_relu_units_and_saturated_sigmoid_units(small_syn):
    cfg = synthetic_config("he", "model.hidden=[64, 64]")
    model = models.build_model(cfg)
    models.dense_layers(model)[1].bias.assign(np.full(64, -100.0, np.float32))
    x, y = batches.first_rows(small_syn, 0, 32)
    rows, _ = measure.measure(model, cfg, x, y)
    assert rows[0]["dead_fraction"] < 0.5 and rows[1]["dead_fraction"] == 1.0
    assert rows[2]["dead_fraction"] is None  # logits
    findings = diagnose.findings(rows, "relu")
    assert any("hidden_1: 100% of its ReLU units are dead" in f for f in findings)

    sig = diagnose.inspect(
        synthetic_config("random", "model.hidden=[64, 64]", "model.activation=sigmoid"),
        small_syn,
        batch=32,
    )
    assert sig["layers"][0]["saturated_fraction"] > 0.5
    assert sig["layers"][0]["dead_fraction"] is None
    assert any("saturated" in f for f in sig["findings"])


def test_lsuv_reaches_unit_variance_deterministically(small_syn):
    cfg = synthetic_config("lsuv", "model.hidden=[64, 64, 64]", "init.tol=0.01", "init.batch=200")
    model = models.build_model(cfg)
    orthogonal = [w.numpy().copy() for w in model.weights]
    log = lsuv.apply(model, cfg, small_syn)
    assert [e["layer"] for e in log] == ["hidden_0", "hidden_1", "hidden_2", "logits"]
    assert any(e["iterations"] >= 1 for e in log)
    x, _ = batches.first_rows(small_syn, 0, 200)
    for pre, _ in models.forward(model, cfg.model.activation, x):
        assert abs(np.var(pre.numpy().astype(np.float64)) - 1.0) < 0.01
    assert not np.array_equal(model.weights[0].numpy(), orthogonal[0])
    again = models.build_model(cfg)
    assert lsuv.apply(again, cfg, small_syn) == log
    for a, b in zip(model.weights, again.weights):
        assert np.array_equal(a.numpy(), b.numpy())


def test_lsuv_in_inspect_has_no_formula_and_unit_variance(small_syn):
    result = diagnose.inspect(
        synthetic_config("lsuv", "model.hidden=[64, 64]"), small_syn, batch=64
    )
    assert result["lsuv"] and all(r["expected_weight_std"] is None for r in result["layers"])
    assert all(abs(e["variance"] - 1) < 0.1 for e in result["lsuv"])


def test_plot_writes_a_png_with_inf_values(deep, tmp_path, small_syn):
    broken = diagnose.inspect(
        synthetic_config("random", DEEP, "init.stddev=10000.0"), small_syn, batch=16
    )
    path = plots.signal([deep["he"], deep["glorot"], broken], tmp_path / "sub" / "x.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _tags_by_step(log_dir) -> dict[int, set[str]]:
    import tensorflow as tf

    out: dict[int, set[str]] = {}
    for path in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(event.step, set()).add(value.tag)
    return out


def test_histograms_log_the_signal_and_leave_training_unchanged(small_syn, tmp_path):
    results = {}
    for on in (False, True):
        cfg = synthetic_config("he", "model.hidden=[32, 32]", f"log.histograms={str(on).lower()}")
        results[on] = train.run(
            cfg, small_syn, checkpoint_root=tmp_path / f"ck{on}", log_root=tmp_path / f"logs{on}"
        )
    assert results[True]["weights_sha256"] == results[False]["weights_sha256"]
    assert results[True]["test_accuracy"] == results[False]["test_accuracy"]
    steps = results[True]["step"]
    tags = _tags_by_step(tmp_path / "logsTrue" / "mnist_mlp" / "he-s0")
    for step in (0, steps):
        assert {
            "weights/hidden_0",
            "activations/logits",
            "signal/activation_std/hidden_1",
            "signal/gradient_std/hidden_0",
        } <= tags[step]
    plain = _tags_by_step(tmp_path / "logsFalse" / "mnist_mlp" / "he-s0")
    assert not any(t.startswith("signal/") for tags in plain.values() for t in tags)


def test_lsuv_run_is_logged_and_trains_fused_as_alone(small_syn, tmp_path):
    cfgs = [synthetic_config(name, "model.hidden=[32, 32]") for name in ("he", "lsuv")]
    alone = train.run(cfgs[1], small_syn, checkpoint_root=tmp_path / "a", log_root=tmp_path / "al")
    fused = train.run_many(
        cfgs, small_syn, checkpoint_root=tmp_path / "f", log_root=tmp_path / "fl"
    )
    assert fused[1]["trained_with"] == 2
    assert fused[1]["weights_sha256"] == alone["weights_sha256"]
    log = json.loads((tmp_path / "al" / "mnist_mlp" / "lsuv-s0" / "lsuv.json").read_text())
    assert [e["layer"] for e in log] == ["hidden_0", "hidden_1", "logits"]
    assert all(abs(e["variance"] - 1) < 0.1 for e in log)


def test_findings_never_raise_whatever_the_numbers():
    from hypothesis import given, settings, strategies as st

    number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0))
    fraction = st.one_of(st.none(), st.floats(0, 1))
    row = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["hidden_0", "hidden_1", "logits"]),
            "weight_std": st.floats(0, 1e30),
            "expected_weight_std": st.one_of(st.none(), st.floats(0, 10)),
            "activation_std": number,
            "gradient_std": number,
            "dead_fraction": fraction,
            "saturated_fraction": fraction,
        }
    )

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.lists(row, min_size=1, max_size=6), st.sampled_from(["relu", "tanh"]))
    def check(layers, activation):
        assert all(isinstance(line, str) for line in diagnose.findings(layers, activation))

    check()


def test_zeros_and_saturation_findings(small_syn):
    zeros = diagnose.inspect(
        synthetic_config("zeros", "model.hidden=[16, 16]"), small_syn, batch=16
    )
    assert any("stay copies" in f for f in zeros["findings"])
    flat = diagnose.inspect(
        synthetic_config(
            "random", "model.hidden=[16, 16]", "init.stddev=1e30", "model.activation=tanh"
        ),
        small_syn,
        batch=16,
    )
    assert any("exactly 0" in f for f in flat["findings"])
