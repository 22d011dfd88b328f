"""Training, resume and evaluation, on the synthetic set (24 steps an epoch) and one real
MNIST subset. Every run here is a real `train.run`: nothing is mocked but the data."""

import json
import os
import signal
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initcmp.engine import batches
from initcmp.config import resolve
from initcmp.config import yaml_files
from initcmp.data import sources
from initcmp.engine import evaluate
from initcmp.engine import models
from initcmp.store import records
from initcmp.engine import runtime
from initcmp.engine import train
from initcmp.engine.reporter import Reporter
from initcmp.errors import CheckpointError, Interrupted
from helpers import (
    SYNTHETIC_ARGS,
    initcmp,
    load_config,
    metrics_without_time,
    python,
    synthetic_config,
)


def run_in(tmp, cfg, dataset, **kw):
    return train.run(cfg, dataset, checkpoint_root=tmp / "ck", log_root=tmp / "logs", **kw)


class StopAt(Reporter):
    """Raises `exc` when training reports `step` (log.every_steps=1 reports every step)."""

    def __init__(self, step, exc):
        self.step, self.exc = step, exc

    def progress(self, step, metrics):
        if step == self.step:
            raise self.exc


def test_default_model_has_the_notebooks_parameter_count():
    model = models.build_model(load_config())
    assert model.count_params() == 269_322  # 784*256+256 + 256*256+256 + 256*10+10


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 500),
    steps=st.integers(0, 500),
    cadences=st.lists(st.one_of(st.none(), st.integers(1, 60)), min_size=3, max_size=3),
    most=st.integers(1, 20),
)
def test_blocks_end_at_every_step_a_stage_is_due_and_nowhere_else_early(
    start, steps, cadences, most
):
    """The compiled calls cover start..stop exactly, each of 1..most steps, and end at
    every step where a log, evaluation or checkpoint is due; a call ends early only
    there or at `stop`."""
    stop = start + steps
    lengths = train.block_lengths(start, stop, cadences, most)
    ends = list(np.cumsum([start, *lengths]))[1:]
    assert sum(lengths) == steps and all(1 <= n <= most for n in lengths)
    due = {s for s in range(start + 1, stop + 1) if any(train.due(s, c) for c in cadences)}
    assert due <= set(ends)
    for end, n in zip(ends, lengths):
        assert end in due or end == stop or n == most


def test_short_real_mnist_run_learns(tmp_path, mnist):
    cfg = load_config(init="he", overrides=("data.train_limit=4000",))
    limited = sources.Dataset(
        mnist.x_train[:4000], mnist.y_train[:4000], mnist.x_test, mnist.y_test, "mnist subset"
    )
    result = run_in(tmp_path, cfg, limited)
    assert result["step"] == 32  # ceil(4000 / 128): the last, smaller batch is used too
    assert result["test_accuracy"] > 0.85


def test_same_seed_same_numbers_and_different_seed_differs(tmp_path, syn):
    a = run_in(tmp_path / "a", synthetic_config("he"), syn)
    b = run_in(tmp_path / "b", synthetic_config("he"), syn)
    c = run_in(tmp_path / "c", synthetic_config("he", seed=1), syn)
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["test_accuracy"] == b["test_accuracy"] and a["test_loss"] == b["test_loss"]
    assert c["weights_sha256"] != a["weights_sha256"]


def test_initializer_matters_on_synthetic(tmp_path, syn):
    he = run_in(tmp_path, synthetic_config("he"), syn)
    rnd = run_in(tmp_path, synthetic_config("random"), syn)
    assert he["test_accuracy"] > rnd["test_accuracy"] + 0.2


def test_resume_after_a_crash_is_exact(tmp_path, syn):
    """Crash (no save) at step 30 of 48, in the second epoch, with checkpoints every 5:
    the rerun restarts at 25 and must end bit-identical to an uninterrupted run."""
    extra = (
        "train.epochs=2",
        "checkpoint.every_steps=5",
        "log.every_steps=1",
        "eval.every_steps=7",
    )
    cfg = synthetic_config("he", *extra)
    whole = run_in(tmp_path / "whole", cfg, syn)
    with pytest.raises(RuntimeError):
        run_in(tmp_path / "cut", cfg, syn, reporter=StopAt(30, RuntimeError("crash")))
    resumed = run_in(tmp_path / "cut", cfg, syn)
    assert resumed["resumed_from_step"] == 25
    assert resumed["weights_sha256"] == whole["weights_sha256"]
    assert (resumed["test_accuracy"], resumed["test_loss"], resumed["train_loss"]) == (
        whole["test_accuracy"],
        whole["test_loss"],
        whole["train_loss"],
    )
    assert metrics_without_time(tmp_path / "cut", cfg) == metrics_without_time(
        tmp_path / "whole", cfg
    )


def test_ctrl_c_saves_and_resumes_exactly(tmp_path, syn):
    cfg = synthetic_config("glorot", "log.every_steps=1", "checkpoint.every_steps=100")
    whole = run_in(tmp_path / "whole", cfg, syn)
    with pytest.raises(Interrupted) as info:
        run_in(tmp_path / "cut", cfg, syn, reporter=StopAt(7, KeyboardInterrupt()))
    assert info.value.exit_code == 130 and "rerun" in str(info.value).lower()
    resumed = run_in(tmp_path / "cut", cfg, syn)
    assert resumed["resumed_from_step"] == 7
    assert resumed["weights_sha256"] == whole["weights_sha256"]


def test_ctrl_c_after_fresh_says_rerun_without_fresh(tmp_path, syn):
    """Rerunning a call with fresh=True would start over, so the hint must not say "the
    same command"."""
    cfg = synthetic_config("he", "log.every_steps=1")
    with pytest.raises(Interrupted) as info:
        run_in(tmp_path, cfg, syn, fresh=True, reporter=StopAt(3, KeyboardInterrupt()))
    assert info.value.exit_code == 130
    assert str(info.value) == (
        "interrupted at step 3 of 24; checkpoint saved. "
        "Rerun it without --fresh to resume (with --fresh it starts over)"
    )
    assert run_in(tmp_path, cfg, syn)["resumed_from_step"] == 3


KILLER = textwrap.dedent("""
    import os, signal, sys
    from initcmp.config import resolve
    from initcmp.data import sources
    from initcmp.engine import train
    from initcmp.engine.reporter import Reporter

    class Kill(Reporter):
        def progress(self, step, metrics):
            if step == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)

    cfg = resolve.load(None, [resolve.parse_set(item) for item in (
        "init.name=he", "data.name=synthetic", "log.every_steps=1",
        "checkpoint.every_steps=4", "train.epochs=2")])
    train.run(cfg, sources.synthetic(), checkpoint_root=sys.argv[1] + "/ck",
              log_root=sys.argv[1] + "/logs", reporter=Kill())
""")


def test_kill_9_then_rerun_gives_the_same_weights(tmp_path, syn):
    cfg = synthetic_config("he", "log.every_steps=1", "checkpoint.every_steps=4", "train.epochs=2")
    whole = run_in(tmp_path / "whole", cfg, syn)
    proc = python("-c", KILLER, str(tmp_path / "cut"), "27", timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    resumed = run_in(tmp_path / "cut", cfg, syn)
    assert resumed["resumed_from_step"] == 24
    assert resumed["weights_sha256"] == whole["weights_sha256"]
    assert metrics_without_time(tmp_path / "cut", cfg) == metrics_without_time(
        tmp_path / "whole", cfg
    )


def test_finished_run_is_not_retrained(tmp_path, syn):
    cfg = synthetic_config("he")
    first = run_in(tmp_path, cfg, syn)
    again = run_in(tmp_path, cfg, syn)
    assert again["resumed_from_step"] == first["step"] == 24
    assert again["weights_sha256"] == first["weights_sha256"]


def test_more_epochs_continue_the_same_run(tmp_path, syn):
    run_in(tmp_path / "grown", synthetic_config("he"), syn)
    grown = run_in(tmp_path / "grown", synthetic_config("he", "train.epochs=2"), syn)
    straight = run_in(tmp_path / "straight", synthetic_config("he", "train.epochs=2"), syn)
    assert grown["resumed_from_step"] == 24 and grown["step"] == 48
    assert grown["weights_sha256"] == straight["weights_sha256"]


def test_resume_with_a_different_model_is_refused_by_name(tmp_path, syn):
    run_in(tmp_path, synthetic_config("he"), syn)
    with pytest.raises(CheckpointError, match=r"model\.hidden.*--fresh"):
        run_in(tmp_path, synthetic_config("he", "model.hidden=[64]"), syn)
    fresh = run_in(tmp_path, synthetic_config("he", "model.hidden=[64]"), syn, fresh=True)
    assert fresh["resumed_from_step"] == 0 and fresh["step"] == 24


def test_eval_equals_train(tmp_path, syn):
    cfg = synthetic_config("lecun_normal")
    trained = run_in(tmp_path, cfg, syn)
    evaluated = evaluate.evaluate_run(cfg, syn, checkpoint_root=tmp_path / "ck")
    for key in ("test_accuracy", "test_loss", "step", "epoch", "weights_sha256"):
        assert evaluated[key] == trained[key], key


def test_eval_without_a_checkpoint_says_how_to_train(tmp_path, syn):
    with pytest.raises(CheckpointError, match="initcmp train --init he --seed 3"):
        evaluate.evaluate_run(synthetic_config("he", seed=3), syn, checkpoint_root=tmp_path)


def test_divergence_is_recorded_not_raised(tmp_path, syn):
    cfg = synthetic_config("random", "init.stddev=1.0e+30", "log.every_steps=1")
    result = run_in(tmp_path, cfg, syn)
    assert result["diverged"] is True and result["diverged_step"] == 1
    saved = records.read_result(records.RunPaths.of(cfg, tmp_path / "ck", tmp_path / "logs"))
    assert saved["diverged"] is True and saved["train_loss"] is None  # NaN stored as null


def test_run_records_and_tensorboard(tmp_path, syn):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = synthetic_config("he", "eval.every_steps=10", "log.every_steps=5")
    run_in(tmp_path, cfg, syn)
    paths = records.RunPaths.of(cfg, tmp_path / "ck", tmp_path / "logs")
    assert paths.logs == tmp_path / "logs" / "mnist_mlp" / "he-s0"
    assert resolve.from_dict(yaml_files.read_yaml(paths.logs / "config.yaml")) == cfg
    assert [r["step"] for r in records.read_metrics(paths)] == [10, 20, 24]
    assert json.loads(paths.result.read_text())["step"] == 24
    events = EventAccumulator(str(paths.logs), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"train/loss", "train/accuracy", "test/loss", "test/accuracy"} <= tags
    # Step 0: the accuracy at initialization, to TensorBoard only (metrics.jsonl as before).
    assert [e.step for e in events.Tensors("test/accuracy")] == [0, 10, 20, 24]
    assert events.PluginTagToContent("hparams")  # the HParams dashboard has this run
    size = sum(f.stat().st_size for f in paths.checkpoints.glob("ckpt-24.*"))
    assert size < 5e6  # weights + Adam moments, no shuffle buffer


def test_importing_initcmp_does_not_import_tensorflow():
    code = (
        "import sys, initcmp, initcmp.cli.main, initcmp.config.schema, initcmp.data.sources, "
        "initcmp.inits.registry, initcmp.engine.models, initcmp.store.records, "
        "initcmp.engine.checkpoints, "
        "initcmp.engine.train; bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = python("-c", code, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_xla_cache_keeps_only_its_newest_entries(tmp_path):
    for i in range(5):
        path = tmp_path / f"entry{i}"
        path.write_text("x")
        os.utime(path, (1000 + i, 1000 + i))
    runtime.prune(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry2", "entry3", "entry4"]


def test_epoch_order_is_shared_across_initializers():
    # The paired design: the order depends on (seed, epoch) and never on the initializer.
    assert np.array_equal(batches.epoch_order(100, 3, 0), batches.epoch_order(100, 3, 0))
    assert not np.array_equal(batches.epoch_order(100, 3, 0), batches.epoch_order(100, 3, 1))


def test_the_xla_cache_is_used_by_a_second_process_with_the_same_bits(tmp_path):
    """The compiled steps go to <INITCMP_CACHE>/xla/; a second process loads them."""
    # As in a user's shell: jax, where it is installed and imported in this process,
    # sets TF_CPP_MIN_LOG_LEVEL=1 (os.environ.setdefault), which the child would keep.
    env = {"INITCMP_CACHE": str(tmp_path / "cache"), "INITCMP_XLA_CACHE": None}
    env.update(TF_XLA_FLAGS=None, TF_CPP_MIN_LOG_LEVEL=None)  # None: left out
    shas = []
    for attempt in range(2):
        out = initcmp(
            tmp_path,
            "train",
            *SYNTHETIC_ARGS,
            "--json",
            "--checkpoint-dir",
            f"ck{attempt}",
            "--log-dir",
            f"logs{attempt}",
            env=env,
        )
        assert out.returncode == 0, out.stderr
        # Loading from the cache logs "E0000 ... Error parsing text-format" in C++: hidden.
        assert "E0000" not in out.stderr and "text-format" not in out.stderr, out.stderr
        shas.append(json.loads(out.stdout)["weights_sha256"])
        if attempt == 0:
            cached = sorted(p.name for p in (tmp_path / "cache" / "xla").iterdir())
            assert cached and all(n.startswith("xla_compile_cache") for n in cached)
    assert shas[0] == shas[1]
    assert sorted(p.name for p in (tmp_path / "cache" / "xla").iterdir()) == cached  # hits


def test_hidden_modules_cannot_be_imported_until_the_block_ends(tmp_path, monkeypatch):
    """What runtime.tensorflow hides while TensorFlow loads (NOT_FOR_TENSORFLOW)."""
    (tmp_path / "initcmp_probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with runtime._hidden(["initcmp_probe_module"]):
        with pytest.raises(ImportError):
            import initcmp_probe_module  # noqa: F401
    import initcmp_probe_module

    assert initcmp_probe_module.VALUE == 1
    monkeypatch.delitem(sys.modules, "initcmp_probe_module")
