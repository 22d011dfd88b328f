"""Memory (initcmp/engine/memory.py): a config that cannot fit is refused at once in one line
naming the numbers and what to reduce, running out on the way is one line too, and the
estimate is a floor close to a real command's peak."""

from __future__ import annotations

import json
import textwrap

import pytest

from initcmp.experiments import compare
from initcmp.engine import memory
from initcmp.errors import OutOfMemoryError
from helpers import SYNTHETIC, SYNTHETIC_ARGS, error_line, initcmp, load_config, python, run_cli_in

DEFAULT_PARAMETERS = 269_322  # 784*256+256 + 256*256+256 + 256*10+10


def config(*sets):
    return load_config(init="he", overrides=SYNTHETIC + sets)


def free(monkeypatch, nbytes):
    """This process, and the commands it runs, told that `nbytes` are free (None: not
    known), through memory.available's $INITCMP_FREE_MEMORY."""
    monkeypatch.setenv("INITCMP_FREE_MEMORY", "unknown" if nbytes is None else str(nbytes))


def test_the_default_compares_need_is_its_tensors(syn):
    """9 runs fused, Adam: every run's weights and two slots, their stack, and (the
    largest transient) one evaluation call through the widest pair of layers: 1,112 of
    the 10,000 test images for each run (fused.EVAL_ROWS: 10,000 rows a call)."""
    need = memory.training(compare.plan(config()), True, syn)
    parts = {text: nbytes for nbytes, text, _ in need.parts}
    state = DEFAULT_PARAMETERS * 4 * 3
    each = f"{DEFAULT_PARAMETERS:,} parameters each"
    assert parts[f"the models and optimizer state of 9 runs ({each})"] == 9 * state
    assert parts["the stack of the 9 trained together"] == 9 * state
    assert parts["evaluating 1112 images at once"] == 9 * 1_112 * (784 + 4 * (784 + 256))
    assert need.what == "training 9 runs"


def test_a_lone_tanh_run_counts_its_twin_and_sgd_keeps_no_slots(syn):
    need = memory.training([config("model.activation=tanh", "train.optimizer=sgd")], True, syn)
    parts = {text: nbytes for nbytes, text, _ in need.parts}
    assert parts["its stacked copy and twin"] == 2 * DEFAULT_PARAMETERS * 4


def test_what_cannot_fit_is_refused_naming_the_numbers_and_what_to_reduce(monkeypatch, syn):
    free(monkeypatch, 16e9)
    with pytest.raises(OutOfMemoryError) as info:
        memory.check(memory.training([config("model.hidden=[30000, 30000]")], True, syn))
    message = str(info.value)
    assert message.startswith("training 1 run needs at least 33.4 GB of memory and 16.0 GB")
    assert "(923,880,010 parameters)" in message and message.endswith("; reduce model.hidden")
    assert "--seeds" not in message and "compare.fuse" not in message  # one run: no such knob


def test_a_wide_evaluation_names_eval_batch_size_and_fusion(monkeypatch, syn):
    free(monkeypatch, 0.3e9)
    sets = ("model.hidden=[1024, 1024]", "train.optimizer=sgd", "eval.batch_size=1000")
    cfgs = compare.plan(config(*sets))
    with pytest.raises(OutOfMemoryError) as info:
        memory.check(memory.training(cfgs, True, syn))
    assert "0.08 GB for evaluating 1000 images at once" in str(info.value)
    assert str(info.value).endswith(
        "reduce eval.batch_size or the runs trained together (--set compare.fuse=false)"
    )


def test_a_large_evaluation_is_cut_into_calls_and_names_the_width(monkeypatch, syn):
    """eval.batch_size=60000 would hold 60,000 rows in one call; calls are cut to
    fused.EVAL_ROWS rows (10,000 images for a lone run), and what still does not fit
    names model.hidden first."""
    free(monkeypatch, 0.3e9)
    with pytest.raises(OutOfMemoryError) as info:
        cfg = config("model.hidden=[4096]", "eval.batch_size=60000")
        memory.check(memory.training([cfg], True, syn))
    assert "for evaluating 10000 images at once" in str(info.value)
    assert str(info.value).endswith("reduce model.hidden or eval.batch_size")


@pytest.mark.parametrize(
    "sets",
    [
        (),
        (
            f"model.hidden={[256] * 20}",
            "train.optimizer=sgd",
            "compare.inits=[random, glorot, he, orthogonal, lsuv]",
        ),
    ],
    ids=["default", "deep"],
)
def test_what_fits_is_never_refused(monkeypatch, syn, sets):
    """The default compare (1.45-1.56 GB peak in all, 0.69 GB of it TensorFlow) and the
    deep one (15 runs of 20 x 256; 1.9 GB) pass with the memory their process had left."""
    free(monkeypatch, 1.2e9)
    need = memory.training(compare.plan(config(*sets)), True, syn)
    memory.check(need)  # no error
    assert need.total < 1.2e9


def test_unknown_free_memory_refuses_nothing(monkeypatch, syn):
    free(monkeypatch, None)
    memory.check(memory.training([config("model.hidden=[100000, 100000]")], True, syn))


def test_free_memory_is_meminfo_or_the_cgroups_room_if_less(monkeypatch, tmp_path):
    assert memory.available() > 0  # /proc/meminfo: this is Linux
    (tmp_path / "max").write_text("1000000000\n")
    (tmp_path / "current").write_text("400000000\n")
    cgroup = [(tmp_path / "max", tmp_path / "current")]
    assert memory.available(cgroup) == 600_000_000
    (tmp_path / "max").write_text("max\n")  # cgroup v2: no limit
    assert memory.available(cgroup) > 600_000_000


def test_running_out_on_the_way_is_one_line():
    import tensorflow as tf

    exc = tf.errors.ResourceExhaustedError(
        None,
        None,
        "{{function_node __wrapped__Mul_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
        " OOM when allocating tensor with shape[30000,30000] and type float on "
        "/job:localhost/replica:0/task:0/device:CPU:0 by allocator mklcpu [Op:Mul] name: ",
    )
    message = str(memory.as_error(exc))
    assert message.startswith(
        "out of memory: could not allocate a float tensor of shape [30000, 30000] (3.6 GB) on "
        "the CPU; reduce model.hidden, train.batch_size or eval.batch_size"
    )
    numpy_says = "Unable to allocate 3.35 GiB for an array with shape (30000, 30000)"
    assert numpy_says in str(memory.as_error(MemoryError(numpy_says)))
    assert memory.as_error(ValueError("a bug")) is None


@pytest.mark.parametrize("command", [["train", "--init", "he"], ["compare", "--seeds", "1"]])
def test_the_cli_refuses_at_once_and_builds_nothing(tmp_path, monkeypatch, command):
    free(monkeypatch, 16e9)
    result = run_cli_in(
        tmp_path, monkeypatch, *command, *SYNTHETIC_ARGS, "--set", "model.hidden=[30000,30000]"
    )
    line = error_line(result, code=2, alone=False)
    assert "needs at least" in line and "16.0 GB is free" in line and "model.hidden" in line
    assert not list(tmp_path.glob("checkpoints/mnist_mlp/*/ckpt-*"))


def test_inspect_refuses_at_once(tmp_path, monkeypatch):
    free(monkeypatch, 16e9)
    line = error_line(
        run_cli_in(
            tmp_path, monkeypatch, "inspect", *SYNTHETIC_ARGS, "--set", "model.hidden=[30000,30000]"
        ),
        code=2,
        alone=False,
    )
    assert line.startswith("initcmp: error: inspect needs at least 22.0 GB of memory")


def test_an_impossible_config_is_refused_with_the_real_free_memory(tmp_path):
    """No mock: a terabyte model against this machine's /proc/meminfo."""
    out = initcmp(
        tmp_path, "train", *SYNTHETIC_ARGS, "--set", "model.hidden=[1000000,1000000]", timeout=300
    )
    assert out.returncode == 2, out.stderr[-2000:]
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("initcmp: error: training 1 run needs at least "), line
    assert "GB of memory and" in line and line.endswith("; reduce model.hidden"), line


# Training in a process whose address space is capped at 4 GB, with the estimate off
# (free memory not known), so that TensorFlow itself runs out (CUDA_VISIBLE_DEVICES="":
# no GPU's reservations).
OUT_OF_MEMORY = textwrap.dedent("""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (4 * 10**9, 4 * 10**9))
    from initcmp.cli.main import main
    main(["train", "--set", "data.name=synthetic", "--set", "model.hidden=[12000,12000]"])
""")


def test_tensorflow_running_out_is_one_line(tmp_path):
    out = python(
        "-c",
        OUT_OF_MEMORY,
        cwd=tmp_path,
        timeout=300,
        env={"CUDA_VISIBLE_DEVICES": "", "INITCMP_FREE_MEMORY": "unknown"},
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    # Which tensor fails first is TensorFlow's business; that it is named is ours.
    assert line.startswith("initcmp: error: out of memory: could not allocate a float tensor")
    assert " on the CPU; reduce model.hidden" in line, line


# A command's real peak above the process it starts in (TensorFlow loaded, data read),
# beside the estimate made at that moment. The peak is VmHWM, reset to the current size
# first ("5" to clear_refs): ru_maxrss would count the pytest process it was forked from,
# or loading the data.
PEAK = textwrap.dedent("""
    import json, sys, tempfile
    from initcmp.experiments import compare
    from initcmp.config import resolve
    from initcmp.data import sources
    from initcmp.engine import memory
    from initcmp.engine import runtime
    from initcmp.engine import train

    def kb(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    runtime.tensorflow()
    cfg = resolve.load(None, [resolve.parse_set(s) for s in sys.argv[2:]])
    dataset = sources.load(cfg.data)
    cfgs = compare.plan(cfg) if sys.argv[1] == "compare" else [cfg]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = kb("VmRSS") * 1024
    need = memory.training(cfgs, True, dataset)
    root = tempfile.mkdtemp()
    train.run_many(cfgs, dataset, checkpoint_root=root + "/ck", log_root=root + "/logs")
    print(json.dumps({"estimate": need.total, "measured": kb("VmHWM") * 1024 - before}))
""")


def peak(tmp_path, *args, env=None):
    out = python("-c", PEAK, *args, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_estimate_of_the_default_compare_is_a_floor_near_its_peak(
    tmp_path, mnist, mnist_cache_dir
):
    """Measured: 0.31 GB estimated, 0.36 GB used (0.87; 0.46 GB when it compiles)."""
    got = peak(tmp_path, "compare", env={"INITCMP_CACHE": str(mnist_cache_dir)})
    assert 0.6 * got["measured"] <= got["estimate"] <= got["measured"], got


def test_the_estimate_of_a_wide_run_is_a_floor_near_its_peak(tmp_path):
    """Measured: 0.97 GB estimated, 1.09 GB used (0.89): the floor leaves out what Keras
    and XLA allocate beside the tensors counted (initializers' and Adam's temporaries)."""
    got = peak(tmp_path, "train", "data.name=synthetic", "model.hidden=[4096, 4096]")
    assert 0.5 * got["measured"] <= got["estimate"] <= got["measured"], got


def test_tensorflows_objects_are_frozen_and_the_collector_stays_on():
    """runtime.tensorflow() pauses the cyclic collector while TensorFlow imports and
    freezes what the import made (runtime._collector_paused), in a fresh process."""
    probe = "import gc; from initcmp.engine import runtime; runtime.tensorflow(); "
    probe += "print(gc.isenabled(), gc.get_freeze_count())"
    out = python("-c", probe)
    enabled, frozen = out.stdout.split()
    assert enabled == "True" and int(frozen) > 100_000, out.stdout


def test_stacks_trained_in_turn_leave_only_the_last_ones_traced_graphs(tmp_path, syn):
    """Runs of three shapes trained in turn, with runtime.release() between them, as a
    sweep does, with one engine: only the last stack's traced steps are alive at the end
    (the engine keeps it for runs of its shape). TensorFlow's registry of custom gradients held
    every stack's graphs until release() dropped its entries."""
    import gc
    import weakref

    from tensorflow.python.framework.func_graph import FuncGraph

    from initcmp.engine import fused, runtime, train

    runtime.tensorflow()
    engine = fused.Engine()

    def traced() -> list:
        return [g for g in gc.get_objects() if isinstance(g, FuncGraph)]

    before, alive = weakref.WeakSet(traced()), []  # weak: a freed graph's id is reused
    for width in (8, 16, 24):
        cfg = config("train.steps=3", f"model.hidden=[{width}]", f"name=w{width}")
        roots = {"checkpoint_root": tmp_path / "ck", "log_root": tmp_path / "logs"}
        train.run_many([cfg], syn, **roots, engine=engine)
        runtime.release()
        alive.append(len([g for g in traced() if g not in before]))
    assert alive[0] > 0 and alive == [alive[0]] * 3, alive
