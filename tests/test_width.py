"""Width parametrizations (inits/parametrizations.py), the counting theory beside them
(analysis/width_theory.py) and the coordinate check (`initcmp coord-check`).

The papers' table is written out here on its own, as exponents of the width, and the
implementation's factors are measured against it at two widths."""

import math

import numpy as np
import pytest

from initcmp.analysis import width_theory
from initcmp.config import schema
from initcmp.errors import ConfigError
from initcmp.inits import parametrizations
from helpers import SYNTHETIC_ARGS, error_line, run_cli, synthetic_config

# Exponents of the width n of each factor, per role: (init std, multiplier, kernel lr,
# bias lr). Tensor Programs V's μP in its form with a 1/fan_in readout multiplier (as
# microsoft/mup), Yang & Hu 2021's NTK parametrization (SGD; for Adam its kernel-regime
# counterpart, inits/parametrizations.py), and the standard network (all 0).
TABLE = {
    ("mup", "adam"): {
        "input": (0, 0, 0, 0),
        "hidden": (0, 0, -1, 0),
        "readout": (0.5, -1, 0, 0),
    },
    ("mup", "sgd"): {
        "input": (0, 0, 1, 1),
        "hidden": (0, 0, 0, 1),
        "readout": (0.5, -1, 1, 0),
    },
    ("ntk", "sgd"): {
        "input": (0, 0, 0, 0),
        "hidden": (0.5, -0.5, 0, 0),
        "readout": (0.5, -0.5, 0, 0),
    },
    ("ntk", "adam"): {
        "input": (0, 0, -0.5, -0.5),
        "hidden": (0.5, -0.5, -1, -0.5),
        "readout": (0.5, -0.5, -0.5, 0),
    },
}


def _exponents(name, optimizer, base=64, width=128):
    """Each role's factors' exponents, from the factors at `width` and 4x it."""
    out = {}
    small, large = (
        parametrizations.scalings(name, [784, n, n, 10], base, optimizer)
        for n in (width, 4 * width)
    )
    for a, b in zip(small, large):
        out[a.role] = tuple(
            math.log(getattr(b, f) / getattr(a, f), 4)
            for f in ("init_std", "multiplier", "kernel_lr", "bias_lr")
        )
    return out


@pytest.mark.parametrize("name, optimizer", sorted(TABLE))
def test_scalings_follow_the_papers_table(name, optimizer):
    measured = _exponents(name, optimizer)
    for role, expected in TABLE[(name, optimizer)].items():
        assert measured[role] == pytest.approx(expected, abs=1e-12), role


def test_rmsprop_is_scaled_like_adam_and_standard_not_at_all():
    for name in ("mup", "ntk"):
        assert _exponents(name, "rmsprop") == _exponents(name, "adam")
    for optimizer in ("adam", "sgd"):
        for s in parametrizations.scalings("standard", [784, 2048, 2048, 10], 64, optimizer):
            assert (s.init_std, s.multiplier, s.kernel_lr, s.bias_lr) == (1, 1, 1, 1)


def test_at_the_base_width_every_factor_is_one():
    for name in parametrizations.PARAMETRIZATIONS:
        for optimizer in ("adam", "sgd", "rmsprop"):
            for s in parametrizations.scalings(name, [784, 96, 96, 96, 10], 96, optimizer):
                assert (s.init_std, s.multiplier, s.kernel_lr, s.bias_lr) == (1, 1, 1, 1)


def test_zero_readout_and_the_readouts_lr_base_is_its_fan_in():
    s = parametrizations.scalings("mup", [784, 256, 10], 64, "sgd", zero_readout=True)
    assert [x.role for x in s] == ["input", "readout"]
    assert s[1].init_std == 0.0 and s[1].multiplier == 0.25 and s[1].kernel_lr == 4.0


# --- the engine: weights and the first step ----------------------------------------------


def _first_step(cfg, tmp_path):
    from initcmp.engine import models, train

    initial = models.weights_sha256(models.build_model(cfg))
    result = train.run(
        cfg, _syn(), checkpoint_root=tmp_path / "ck", log_root=tmp_path / "logs", fresh=True
    )
    return initial, result["weights_sha256"]


_DATA = []


def _syn():
    from initcmp.data import sources

    if not _DATA:
        _DATA.append(sources.synthetic())
    return _DATA[0]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_at_the_base_width_the_three_give_the_same_weights_and_first_step(tmp_path, optimizer):
    steps = []
    for name in parametrizations.PARAMETRIZATIONS:
        cfg = synthetic_config(
            "he",
            "model.width=48",
            "model.base_width=48",
            f"model.parametrization={name}",
            f"train.optimizer={optimizer}",
            "train.steps=1",
            "eval.train_images=0",
        )
        steps.append(_first_step(cfg, tmp_path / name))
    assert steps[0] == steps[1] == steps[2]
    assert steps[0][0] != steps[0][1]  # the step did change the weights


def test_away_from_the_base_width_each_scales_its_layers(tmp_path):
    """At 4x the base width: μP's readout is drawn sqrt(4) = 2x wider and multiplied by
    1/4, NTK's hidden kernel 2x wider and multiplied by 1/2; the Keras model's own call
    is the layer-by-layer forward that measurements use; the first step differs."""
    from initcmp.engine import models

    common = ("model.width=128", "model.base_width=32", "train.steps=1", "eval.train_images=0")
    cfgs = {
        name: synthetic_config("he", f"model.parametrization={name}", *common)
        for name in parametrizations.PARAMETRIZATIONS
    }
    built = {name: models.build_model(cfg) for name, cfg in cfgs.items()}
    kernels = {
        name: [layer.kernel.numpy() for layer in models.dense_layers(m)]
        for name, m in built.items()
    }
    sp, mup, ntk = kernels["standard"], kernels["mup"], kernels["ntk"]
    np.testing.assert_array_equal(mup[0], sp[0])
    np.testing.assert_array_equal(mup[1], sp[1])
    np.testing.assert_allclose(mup[2], 2 * sp[2], rtol=1e-6)
    np.testing.assert_array_equal(ntk[0], sp[0])
    np.testing.assert_allclose(ntk[1], 2 * sp[1], rtol=1e-6)
    layers = models.dense_layers(built["mup"])
    assert [models.multiplier(x) for x in layers] == [1.0, 1.0, 0.25]
    assert [models.multiplier(x) for x in models.dense_layers(built["ntk"])] == [1.0, 0.5, 0.5]
    x = _syn().x_train[:8].astype(np.float32) / 255.0
    for model, cfg in zip(built.values(), cfgs.values()):
        layerwise = models.forward(model, cfg.model.activation, x)[-1][1].numpy()
        np.testing.assert_allclose(model(x).numpy(), layerwise, rtol=1e-5, atol=1e-6)
    # NTK's effective network at init is the standard one (2x wider, multiplied by 1/2)
    np.testing.assert_allclose(
        models.forward(built["ntk"], "relu", x)[-1][1].numpy(),
        models.forward(built["standard"], "relu", x)[-1][1].numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    after = {name: _first_step(cfg, tmp_path / name)[1] for name, cfg in cfgs.items()}
    assert len(set(after.values())) == 3


def test_zero_readout_starts_at_zero():
    from initcmp.engine import models

    cfg = synthetic_config(
        "he",
        "model.parametrization=mup",
        "model.base_width=32",
        "init.readout=zero",
        "init.bias_variance=0.1",
    )
    logits = models.dense_layers(models.build_model(cfg))[-1]
    assert not logits.kernel.numpy().any() and not logits.bias.numpy().any()


def test_the_optimizer_applies_each_variables_factor():
    """SGD with factors (1, 3): the second variable moves 3x what plain SGD moves it, the
    first exactly as plain SGD."""
    import keras

    from initcmp.engine import models

    plain = keras.optimizers.SGD(learning_rate=0.1)
    scaled = models.per_variable(keras.optimizers.SGD)([1.0, 3.0], learning_rate=0.1)
    results = []
    for opt in (plain, scaled):
        a, b = keras.Variable(np.ones(3, np.float32)), keras.Variable(np.ones(3, np.float32))
        opt.build([a, b])
        opt.apply_gradients([(np.full(3, 0.5, np.float32), a), (np.full(3, 0.5, np.float32), b)])
        results.append((a.numpy(), b.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(1 - results[1][1], 3 * (1 - results[0][1]), rtol=1e-6)


# --- theory ------------------------------------------------------------------------------


def _theory(name, optimizer, readout="init"):
    cfg = synthetic_config(
        "he",
        f"model.parametrization={name}",
        "model.base_width=64",
        "model.depth=3",
        f"train.optimizer={optimizer}",
        f"init.readout={readout}",
    )
    return [(r["init"], r["update"]) for r in width_theory.predict(cfg)]


def test_theory_mup_keeps_every_layer_and_update_at_width_to_the_zero():
    for optimizer in ("adam", "sgd", "rmsprop"):
        rows = _theory("mup", optimizer)
        assert all(update == 0 for _, update in rows)
        assert [init for init, _ in rows] == [0, 0, 0, -0.5]  # the logits start as n^(-1/2)


def test_theory_standard_adam_logits_update_grows_like_width():
    assert _theory("standard", "adam") == [(0, 0), (0, 1), (0, 1), (0, 1)]
    # SGD at a fixed learning rate: hidden updates as n^(1/2), the logits' as n
    assert _theory("standard", "sgd") == [(0, -0.5), (0, 0.5), (0, 0.5), (0, 1)]


def test_theory_ntk_is_the_kernel_regime_for_both_optimizers():
    for optimizer in ("sgd", "adam"):
        assert _theory("ntk", optimizer) == [(0, -0.5), (0, -0.5), (0, -0.5), (0, 0)]


def test_theory_zero_readout_first_step_moves_only_the_logits():
    rows = _theory("mup", "adam", readout="zero")
    assert rows[-1] == (-math.inf, 0)
    assert all(update == -math.inf for _, update in rows[:-1])


def test_slope_and_verdicts():
    widths = [128, 256, 512, 1024]
    assert width_theory.slope(widths, [3.0 * w**0.5 for w in widths]) == pytest.approx(0.5)
    assert width_theory.verdict(1.02, None) == "grows as width^+1.02"
    assert width_theory.verdict(-0.6, None) == "shrinks as width^-0.60"
    assert width_theory.verdict(0.1, None) == "stable (width^+0.10)"
    assert width_theory.slope(widths, [0, 0, 0, 0]) is None
    assert width_theory.verdict(None, [0, 0, 0, 0]) == "zero at every width"
    assert width_theory.exponent_words(-0.5) == "-1/2"
    assert width_theory.exponent_words(1.0) == "+1"
    assert width_theory.exponent_words(-math.inf) == "zero"


# --- config ------------------------------------------------------------------------------


def test_bad_parametrization_is_one_line():
    result = run_cli("coord-check", *SYNTHETIC_ARGS, "--set", "model.parametrization=mupp")
    error_line(result, "'model.parametrization' must be one of standard, ntk, mup", "'mupp'")


@pytest.mark.parametrize(
    "items, needle",
    [
        (("model.parametrization=mup",), "needs 'model.base_width'"),
        (
            ("model.parametrization=ntk", "model.base_width=0"),
            "'model.base_width' must be at least 1",
        ),
        (("init.readout=half",), "'init.readout' must be one of init, zero"),
        (
            ("model.parametrization=mup", "model.base_width=8", "init.name=lsuv"),
            "lsuv takes the standard parametrization only",
        ),
        (("coord_check.widths=[]",), "'coord_check.widths' must be a non-empty list"),
    ],
)
def test_bad_width_settings_are_refused_at_the_door(items, needle):
    with pytest.raises(ConfigError) as info:
        synthetic_config("he", *items)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_a_standard_runs_identity_has_no_width_keys_and_others_do():
    standard = schema.run_identity(synthetic_config("he", "model.base_width=64"))
    assert not any(k.startswith("model.parametrization") for k in standard)
    assert "model.base_width" not in standard
    mup = schema.run_identity(
        synthetic_config("he", "model.parametrization=mup", "model.base_width=64")
    )
    assert mup["model.parametrization"] == "mup" and mup["model.base_width"] == 64


def test_the_readout_is_kept_when_the_initializer_changes():
    cfg = synthetic_config("he", "init.readout=zero", "init.name=glorot")
    assert cfg.init.readout == "zero" and cfg.init.as_dict()["readout"] == "zero"
    assert "readout" not in synthetic_config("he").init.as_dict()


# --- the coordinate check ----------------------------------------------------------------


def test_coord_check_json_carries_measurements_slopes_and_theory():
    import json

    result = run_cli(
        "coord-check",
        *SYNTHETIC_ARGS,
        "--parametrization",
        "standard",
        "--parametrization",
        "mup",
        "--set",
        "model.base_width=32",
        "--widths",
        "32,64,128,256",
        "--steps",
        "2",
        "--seeds",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    sp, mup = json.loads(result.output)
    for r in (sp, mup):
        size, change = np.array(r["size"]), np.array(r["change"])
        assert size.shape == change.shape == (3, 4, 2, 3)  # t, width, seed, layer
        assert not change[0].any() and (change[1:] > 0).all()
        assert {(row["layer"], row["step"], row["quantity"]) for row in r["slopes"]} >= {
            ("logits", 1, "change"),
            ("hidden_0", 0, "size"),
        }
    first = {
        r["parametrization"]: next(
            row
            for row in r["slopes"]
            if (row["layer"], row["step"], row["quantity"]) == ("logits", 1, "change")
        )
        for r in (sp, mup)
    }
    assert first["standard"]["theory"] == 1 and first["mup"]["theory"] == 0
    # the logits' first Adam update grows with width under SP, far less under μP
    assert first["standard"]["slope"] > first["mup"]["slope"] + 0.4


# --- learning-rate transfer --------------------------------------------------------------


def _cell(par, width, rate, train, test=None):
    return {
        "values": {
            "model.parametrization": par,
            "model.width": width,
            "train.learning_rate": rate,
        },
        "mean_train_loss": train,
        "mean_loss": train if test is None else test,
    }


def test_lr_transfer_finds_each_widths_best_and_the_drift():
    rates = [2.0**-k for k in (12, 11, 10, 9, 8)]
    axes = {
        "model.parametrization": ["standard", "mup"],
        "model.width": [128, 512, 2048],
        "train.learning_rate": rates,
    }
    # standard: the best moves one grid step down per 4x width; mup: it stays at 2^-10.
    # A diverged cell (None) is never best; nor is inf.
    losses = {
        ("standard", 128): [0.9, 0.7, 0.5, 0.3, None],
        ("standard", 512): [0.8, 0.6, 0.2, 0.4, math.inf],
        ("standard", 2048): [0.7, 0.1, 0.3, 0.5, None],
        ("mup", 128): [0.9, 0.7, 0.3, 0.5, 0.8],
        ("mup", 512): [0.8, 0.6, 0.2, 0.4, 0.9],
        ("mup", 2048): [0.7, 0.5, 0.1, 0.3, 0.9],
    }
    cells = [
        _cell(p, w, r, loss, test=1.0 + (r == rates[0]) * -0.5)
        for (p, w), row in losses.items()
        for r, loss in zip(rates, row)
    ]
    transfer = width_theory.lr_transfer(axes, cells)
    sp, mup = transfer["groups"]
    assert sp["values"] == {"model.parametrization": "standard"}
    assert sp["best_train"] == [2.0**-9, 2.0**-10, 2.0**-11]
    assert sp["drift_train_steps"] == -2 and sp["drift_train_ratio"] == 0.25
    assert mup["best_train"] == [2.0**-10] * 3 and mup["drift_train_steps"] == 0
    assert mup["best_test"] == [rates[0]] * 3 and mup["best_test_at_edge"] == [True] * 3
    assert "moves x0.25 (2 grid steps down)" in width_theory.drift_words(sp, "train", rates)
    assert "stays at" in width_theory.drift_words(mup, "train", rates)
    assert "grid's edge" in width_theory.drift_words(mup, "test", rates)
    assert (
        width_theory.lr_transfer({"model.depth": [1, 2], "train.learning_rate": [0.1]}, []) is None
    )


def test_a_width_by_learning_rate_sweep_draws_and_states_the_transfer(tmp_path, monkeypatch):
    import json

    from helpers import run_cli_in

    result = run_cli_in(
        tmp_path,
        monkeypatch,
        "sweep",
        *SYNTHETIC_ARGS,
        "--set", "model.parametrization=mup",
        "--set", "model.base_width=16",
        "--grid", "model.width=16:32:*2",
        "--grid", "train.learning_rate=1e-3:1e-1:*10",
        "--steps", "4",
        "--seeds", "1",
        "--set", "eval.every_steps=null",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "learning-rate transfer" in result.output
    assert "from width 16 to 32" in result.output
    (folder,) = (tmp_path / "logs" / "mnist_mlp" / "sweeps").iterdir()
    summary = json.loads((folder / "sweep.json").read_text())
    transfer = summary["lr_transfer"]
    assert transfer["widths"] == [16, 32] and len(transfer["learning_rates"]) == 3
    (group,) = transfer["groups"]
    assert all(b in transfer["learning_rates"] for b in group["best_train"])
    assert (folder / "sweep.png").stat().st_size > 0
    assert "best lr (train-set loss)" in (folder / "sweep.md").read_text()


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--widths", "12x"), "--widths must be whole numbers separated by commas"),
        (("--widths", "0,4"), "--widths: 'coord_check.widths[0]' must be at least 1"),
        (("--steps", "0"), "--steps: 'coord_check.steps' must be at least 1"),
        (("--seeds", "0"), "--seeds must be at least 1, not 0"),  # as compare's --seeds
    ],
)
def test_bad_coord_check_flags_are_one_line(args, needle):
    error_line(run_cli("coord-check", *SYNTHETIC_ARGS, *args), needle)
