"""TensorBoard: test curves start at initialization (step 0, evaluated before the first
step and written to TensorBoard only), training is unchanged to the bit, and a sweep's
axes are HParams columns with their real values beside test and train-set metrics, with
no empty run. Read from the event files themselves."""

from __future__ import annotations

import pytest

from initcmp.engine import train
from initcmp.errors import Interrupted
from initcmp.engine.reporter import Reporter
from helpers import initcmp, metrics_without_time, synthetic_config

TEST_TAGS = {"test/accuracy", "test/loss"}


def scalars(folder) -> dict[str, dict[int, list[float]]]:
    """tag -> step -> every value written (a step written twice shows twice)."""
    import tensorflow as tf

    out: dict[str, dict[int, list[float]]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.HasField("tensor") and value.tag in TEST_TAGS:
                    number = float(tf.make_ndarray(value.tensor))
                    out.setdefault(value.tag, {}).setdefault(event.step, []).append(number)
    return out


def experiment_configs(folder) -> list:
    """The HParams experiment protos written in `folder` itself (not its runs')."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import metadata

    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == metadata.EXPERIMENT_TAG:
                    content = value.metadata.plugin_data.content
                    found.append(metadata.parse_experiment_plugin_data(content))
    return found


def run_folder(root, cfg):
    return root / "logs" / cfg.name / cfg.run_name


def train_in(root, cfgs, syn, **kw):
    return train.run_many(cfgs, syn, checkpoint_root=root / "ck", log_root=root / "logs", **kw)


def test_test_curves_start_at_initialization(syn, tmp_path):
    cfgs = [synthetic_config("he"), synthetic_config("random")]
    results = train_in(tmp_path, cfgs, syn)
    for cfg, result in zip(cfgs, results):
        written = scalars(run_folder(tmp_path, cfg))
        rows = metrics_without_time(tmp_path, cfg)
        assert [row["step"] for row in rows] == [24]  # no row at step 0 in metrics.jsonl
        for tag in TEST_TAGS:
            assert sorted(written[tag]) == [0, 24], tag  # one point at init, one at the end
            assert len(written[tag][0]) == 1
        assert written["test/accuracy"][24] == [pytest.approx(result["test_accuracy"])]
        assert 0 <= written["test/accuracy"][0][0] < result["test_accuracy"]
        assert written["test/loss"][0][0] > result["test_loss"]


def test_the_step_0_evaluation_changes_no_weight_and_no_record(syn, tmp_path):
    """The same runs with and without it: a fused pair, and a lone tanh run (which trains
    beside a twin of itself): identical weights, results and metrics rows."""
    cases = {
        "fused": [synthetic_config("he", "eval.every_steps=10"), synthetic_config("random")],
        "twin": [synthetic_config("glorot", "model.activation=tanh", "eval.every_steps=10")],
    }
    runs = {}
    for without in (True, False):
        for case, cfgs in cases.items():
            root = tmp_path / f"{case}-{without}"
            results = train_in(root, cfgs, syn, evaluate_at_start=not without)
            runs[case, without] = [
                (r["weights_sha256"], r["test_accuracy"], metrics_without_time(root, cfg))
                for cfg, r in zip(cfgs, results)
            ]
            assert (0 in scalars(run_folder(root, cfgs[0]))["test/loss"]) is not without
    for case in cases:
        assert runs[case, True] == runs[case, False], case


class StopAt(Reporter):
    def __init__(self, step):
        self.step = step

    def progress(self, step, metrics):
        if step == self.step:
            raise KeyboardInterrupt


def test_a_resumed_run_does_not_evaluate_step_0_again(syn, tmp_path):
    cfg = synthetic_config("he", "log.every_steps=1", "checkpoint.every_steps=5")
    with pytest.raises(Interrupted):
        train_in(tmp_path, [cfg], syn, reporter=StopAt(7))
    train_in(tmp_path, [cfg], syn)
    written = scalars(run_folder(tmp_path, cfg))
    assert {tag: len(written[tag][0]) for tag in TEST_TAGS} == {tag: 1 for tag in TEST_TAGS}


def session_hparams(folder) -> dict:
    """The HParams a run logged (its session start info), as plain values."""
    import tensorflow as tf
    from google.protobuf.json_format import MessageToDict
    from tensorboard.plugins.hparams import metadata

    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == metadata.SESSION_START_INFO_TAG:
                    content = value.metadata.plugin_data.content
                    info = metadata.parse_session_start_info_plugin_data(content)
                    return MessageToDict(info)["hparams"]
    return {}


def test_a_sweeps_axes_are_hparams_with_their_values_and_no_run_is_empty(syn, tmp_path):
    grid = "sweep.grid={model.depth: [1, 2], init.name: [he]}"
    cfgs = [
        synthetic_config("he", grid, f"model.depth={d}", "eval.train_images=100") for d in (1, 2)
    ]
    train_in(tmp_path, cfgs, syn)
    for cfg, depth in zip(cfgs, (1, 2)):
        logged = session_hparams(run_folder(tmp_path, cfg))
        assert logged["model.depth"] == depth and logged["model.width"] == 256  # numbers
        assert logged["init.name"] == "he" and logged["seed"] == 0
        assert not any(k.startswith(("sweep.", "compare.", "ray.")) for k in logged)
        tags = set(all_tags(run_folder(tmp_path, cfg)))
        assert {"test/accuracy", "train_set/accuracy", "train_set/loss"} <= tags
    # no events file in the experiment's own folder: TensorBoard lists no empty run
    assert not list((tmp_path / "logs" / cfgs[0].name).glob("events.out.tfevents.*"))
    assert experiment_configs(run_folder(tmp_path, cfgs[0])) == []  # columns from the runs


def all_tags(folder) -> list[str]:
    import tensorflow as tf

    return [
        value.tag
        for path in sorted(folder.glob("events.out.tfevents.*"))
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
    ]


def test_a_command_that_ends_without_teardown_has_written_every_evaluation(tmp_path):
    """`initcmp` ends with os._exit (cli._quick_exit): the event file still holds every
    evaluation in metrics.jsonl, and the result the command printed."""
    import json

    args = ["train", "--init", "he", "--set", "data.name=synthetic", "--set", "name=quick"]
    out = initcmp(tmp_path, *args, "--epochs", "2", "--json", timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    folder = tmp_path / "logs" / "quick" / "he-s0"
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    written = scalars(folder)["test/accuracy"]
    assert sorted(written) == [0] + [row["step"] for row in rows]
    assert written[result["step"]] == [pytest.approx(result["test_accuracy"])]
