"""What the test modules share that is not a fixture (those are in conftest.py): the
synthetic-data overrides, configs made as the CLI makes them, the command line run in
this process, and what the tests compare between runs. Importable by any test module
(tests/ is on sys.path under pytest's default import mode): `from helpers import ...`."""

from __future__ import annotations

import json

# The synthetic set (3000 training images, 24 steps an epoch) instead of MNIST...
SYNTHETIC = ("data.name=synthetic",)  # ...as `overrides` of load_config
SYNTHETIC_ARGS = ["--set", "data.name=synthetic"]  # ...on the command line


def load_config(path=None, *, init=None, seed=None, epochs=None, overrides=()):
    """A config as the command line makes it from `--config PATH --init INIT --seed SEED
    --epochs EPOCHS --set ITEM...` (None: that flag not given)."""
    from initcmp.config.resolve import Override, load, parse_set

    flags = [
        ("--init", "init.name", init),
        ("--seed", "seed", seed),
        ("--epochs", "train.epochs", epochs),
    ]
    given = [Override(key, value, flag) for flag, key, value in flags if value is not None]
    return load(path, given + [parse_set(item) for item in overrides])


def synthetic_config(init="he", *extra, seed=0):
    """`--init INIT --seed SEED --set data.name=synthetic --set EXTRA...`."""
    return load_config(init=init, seed=seed, overrides=SYNTHETIC + tuple(extra))


def run_cli(*args):
    """`initcmp ARGS...` in this process, in the current folder; exceptions propagate."""
    from click.testing import CliRunner

    from initcmp.cli.main import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_cli_in(cwd, monkeypatch, *args):
    """`initcmp ARGS...` run from `cwd` (where ./checkpoints and ./logs land)."""
    monkeypatch.chdir(cwd)
    return run_cli(*args)


def metrics_without_time(root, cfg) -> list[dict]:
    """The metrics rows of `cfg`'s run under `root/ck` and `root/logs`, without the
    wall-clock seconds."""
    from initcmp.store import records

    rows = records.read_metrics(records.RunPaths.of(cfg, root / "ck", root / "logs"))
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def finished_runs(root) -> dict:
    """Per finished run under `root/logs`: its result's numbers and weights fingerprint,
    and its metrics rows without the wall-clock seconds."""
    out = {}
    for result in sorted((root / "logs").rglob("result.json")):
        row = json.loads(result.read_text())
        metrics = [
            {k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (result.parent / "metrics.jsonl").read_text().splitlines()
        ]
        out[result.parent.name] = (
            {
                k: row[k]
                for k in ("weights_sha256", "test_accuracy", "test_loss", "step", "diverged")
            },
            metrics,
        )
    return out


# What may differ between a run trained in a stack and the same run trained alone.
EXECUTION_KEYS = ("seconds", "trained_with", "checkpoint_dir", "log_dir", "resumed_from_step")


def same(result: dict) -> dict:
    """A result without EXECUTION_KEYS: what must be equal fused and alone."""
    return {k: v for k, v in result.items() if k not in EXECUTION_KEYS}


def run_alone(root, cfg, dataset) -> dict:
    """`cfg` trained by itself, its folders under `root/ck` and `root/logs`."""
    from initcmp.engine import train

    return train.run(cfg, dataset, checkpoint_root=root / "ck", log_root=root / "logs")
