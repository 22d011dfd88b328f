"""The fused step: runs trained together in one stack give the same bits as alone, and
keep their own records, checkpoints, divergence and resume. Synthetic data throughout
(3000 training images: 24 steps an epoch, the last one of 56, so padding is exercised)."""

import weakref

import numpy as np
import pytest

from initcmp.engine import batches
from initcmp.engine import runtime
from initcmp.engine import fused
from initcmp.engine import train
from initcmp.engine.reporter import Reporter
from initcmp.errors import Interrupted
from helpers import metrics_without_time, run_alone, same, synthetic_config


SCALES = (0.5, 1.0, 2.0, 3.0, 4.0)


def cfgs(*extra, runs=(("random", 0), ("glorot", 1), ("he", 0), ("he", 2))):
    return [synthetic_config(i, *extra, seed=s) for i, s in runs]


def many(tmp, runs, dataset, **kw):
    return train.run_many(runs, dataset, checkpoint_root=tmp / "ck", log_root=tmp / "logs", **kw)


@pytest.mark.parametrize(
    "extra",
    [
        (),
        (
            "train.batch_size=100",
            "eval.batch_size=300",
            "model.hidden=[64, 32, 16]",
            "model.activation=tanh",
            "train.optimizer=rmsprop",
        ),
        # Width parametrizations: forward multipliers, per-layer learning rates, scaled
        # and zero readouts (inits/parametrizations.py), away from the base width.
        ("model.parametrization=mup", "model.base_width=16", "model.hidden=[64, 32]"),
        (
            "model.parametrization=mup",
            "model.base_width=16",
            "init.readout=zero",
            "train.optimizer=sgd",
            "train.learning_rate=0.05",
        ),
        (
            "model.parametrization=ntk",
            "model.base_width=32",
            "model.hidden=[64, 48]",
            "model.activation=tanh",
            "train.optimizer=rmsprop",
        ),
        ("model.parametrization=ntk", "model.base_width=64", "train.optimizer=sgd"),
    ],
)
def test_fused_runs_are_bit_identical_to_runs_alone(tmp_path, syn, extra):
    runs = cfgs("eval.every_steps=7", *extra)
    together = many(tmp_path / "fused", runs, syn)
    assert [r["trained_with"] for r in together] == [4] * 4
    for cfg, fused_result in zip(runs, together):
        alone = run_alone(tmp_path / "alone", cfg, syn)
        assert alone["trained_with"] == 1
        assert same(fused_result) == same(alone)
        assert metrics_without_time(tmp_path / "fused", cfg) == metrics_without_time(
            tmp_path / "alone", cfg
        )


@pytest.mark.parametrize("extra", [(), ("model.activation=tanh", "train.optimizer=rmsprop")])
def test_a_block_of_steps_gives_the_bits_of_a_call_per_step(tmp_path, syn, extra):
    """Blocks of up to 16 steps in one compiled call (an XLA while loop), against one
    call per step: the same weights and metrics, over 2 epochs (the block that ends an
    epoch is shorter, its last batch padded)."""
    from initcmp.engine import fused

    runs = cfgs("train.epochs=2", "log.every_steps=50", "eval.every_steps=null", *extra)
    blocks = many(tmp_path / "blocks", runs, syn)
    steps = many(tmp_path / "steps", runs, syn, engine=fused.Engine(block_steps=1))
    assert [same(r) for r in blocks] == [same(r) for r in steps]
    for cfg in runs:
        assert metrics_without_time(tmp_path / "blocks", cfg) == metrics_without_time(
            tmp_path / "steps", cfg
        )


def test_a_diverging_run_leaves_its_stack_and_the_others_are_untouched(tmp_path, syn):
    runs = [
        synthetic_config("random", "init.stddev=1.0e+30", seed=0),
        *cfgs(runs=(("he", 0), ("glorot", 1))),
    ]
    together = many(tmp_path / "fused", runs, syn)
    assert [r["diverged"] for r in together] == [True, False, False]
    for cfg, fused_result in zip(runs, together):
        alone = run_alone(tmp_path / "alone", cfg, syn)
        assert same(fused_result) == same(alone)


def test_ctrl_c_saves_every_run_of_the_stack_and_the_rerun_matches(tmp_path, syn):
    runs = cfgs("train.epochs=2", "checkpoint.every_steps=5", "log.every_steps=1")
    whole = many(tmp_path / "whole", runs, syn)

    class CtrlC(Reporter):
        def progress(self, step, metrics):
            if step == 31:
                raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        many(tmp_path / "cut", runs, syn, reporter=CtrlC())
    resumed = many(tmp_path / "cut", runs, syn)
    assert {r["resumed_from_step"] for r in resumed} == {31}
    assert [same(r) for r in resumed] == [same(r) for r in whole]
    for cfg in runs:
        assert metrics_without_time(tmp_path / "cut", cfg) == metrics_without_time(
            tmp_path / "whole", cfg
        )


def test_one_by_one_when_fuse_is_off(tmp_path, syn):
    results = many(tmp_path, cfgs(runs=(("he", 0), ("glorot", 0))), syn, fuse=False)
    assert [r["trained_with"] for r in results] == [1, 1]


class Recording(fused.Engine):
    """An engine that notes in `built` (weak references, shared between engines) every
    stack it hands out that no engine handed out before: the stacks built."""

    def __init__(self, built: list):
        super().__init__()
        self.built = built

    def stack(self, cfg, members, dataset):
        stack = super().stack(cfg, members, dataset)
        if all(ref() is not stack for ref in self.built):
            self.built.append(weakref.ref(stack))
        return stack


@pytest.mark.parametrize("extra", [(), ("model.activation=tanh", "train.optimizer=rmsprop")])
def test_runs_one_by_one_share_one_stack_with_the_bits_of_a_new_one_each(tmp_path, syn, extra):
    """One by one, each run after the first trains in the stack of the one before it
    (Engine.stack: its shape is theirs), and gives the bits it gives in a stack of its
    own; a lone tanh run trains beside its twin in both."""
    built = []
    runs = cfgs("eval.every_steps=7", *extra)
    shared = many(tmp_path / "shared", runs, syn, fuse=False, engine=Recording(built))
    assert len(built) == 1
    for cfg, result in zip(runs, shared):
        # alone, as train.run trains it: a new engine, a stack of its own
        (alone,) = many(tmp_path / "own", [cfg], syn, engine=Recording(built))
        assert same(result) == same(alone)
        assert metrics_without_time(tmp_path / "shared", cfg) == metrics_without_time(
            tmp_path / "own", cfg
        )
    assert len(built) == 1 + len(runs)


def test_ordered_sum_is_a_sum_and_keeps_its_order_for_any_stack(syn):
    tf = runtime.tensorflow()
    x = np.random.default_rng(0).standard_normal((3, 37, 5)).astype(np.float32)
    total = fused.ordered_sum(tf.constant(x), axis=1).numpy()
    np.testing.assert_allclose(total, x.sum(axis=1), rtol=1e-5, atol=1e-5)
    one = fused.ordered_sum(tf.constant(x[:1]), axis=1).numpy()
    assert one.tobytes() == total[:1].tobytes()


@pytest.mark.parametrize(
    "n, sizes", [(9, [9]), (16, [16]), (17, [9, 8]), (25, [13, 12]), (33, [11, 11, 11])]
)
def test_a_group_larger_than_a_stack_is_cut_into_equal_stacks(n, sizes):
    from initcmp.engine import fused

    items, cfg = [(i % 2, i) for i in range(2 * n)], synthetic_config()
    engine = fused.Engine(max_runs=16)
    stacks = engine.stacks(items, True, config=lambda item: cfg, start=lambda item: item[0])
    assert [len(s) for s in stacks] == sizes * 2
    assert [item for s in stacks[: len(sizes)] for item in s] == [
        (0, i) for i in range(0, 2 * n, 2)
    ]


def test_pad_marks_the_real_rows():
    idx, count = batches.pad(np.array([[5, 6, 7]]), 5)
    assert idx.tolist() == [[5, 6, 7, 0, 0]] and count == 3 and idx.dtype == np.int32


@pytest.mark.parametrize(
    "runs",
    [
        [
            ("variance_scaling", 0, "model.hidden=[100, 100, 100]", f"init.scale={s}")
            for s in SCALES
        ],
        [("variance_scaling", 0, "model.hidden=[256, 256]", f"init.scale={s}") for s in SCALES],
        [("random", seed, "init.stddev=0.3") for seed in range(5)],  # losses of 10^-6 to 10^3
    ],
)
def test_an_evaluation_gives_the_same_bits_in_any_stack_and_any_call_size(syn, runs):
    """The test-set loss and accuracy of 5 runs evaluated fused (widths as in the
    edge_of_chaos sweep, scales up to 4, and N(0, 0.3²)'s losses, 10^-6 to 10^3) equal each run's
    alone, bit for bit, also when an engine's eval_rows cut the evaluation into calls of 59
    images. (One wide first-layer matmul for all runs passed the default model's checks
    and failed this; float64 sums of each call's rows, added call after call, failed the
    N(0, 0.3²) runs: their sums were not exact, so the calls' sizes changed the last bit.)"""
    from initcmp.engine import fused
    from initcmp.engine import models

    runtime.tensorflow()
    runs = [synthetic_config(init, *extra, seed=seed) for init, seed, *extra in runs]

    def evaluate(configs, engine=None):
        members = []
        for cfg in configs:
            model, optimizer = models.build_model(cfg), models.build_optimizer(cfg)
            optimizer.build(model.trainable_variables)
            members.append((model, optimizer))
        stack = fused.StackedRuns(configs[0], members, syn, engine)
        stack.load(0)
        return stack.evaluate()

    together = evaluate(runs)
    assert together == [evaluate([cfg])[0] for cfg in runs]
    small = fused.Engine(eval_rows=300)  # 5 runs: 17 calls of 59 images
    assert fused.chunk_images(len(syn.y_test), runs[0].eval.batch_size, 5, small.eval_rows) == 59
    assert evaluate(runs, small) == together
