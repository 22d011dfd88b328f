"""What the tests compare between runs, and configs made as the CLI makes them:
importable by any test module (tests/ is on sys.path under pytest's default import
mode)."""

from __future__ import annotations

import json


def finished_runs(root) -> dict:
    """Per finished run under `root/logs`: its result's numbers and weights fingerprint,
    and its metrics rows without the wall-clock seconds."""
    out = {}
    for result in sorted((root / "logs").rglob("result.json")):
        row = json.loads(result.read_text())
        metrics = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                   for line in (result.parent / "metrics.jsonl").read_text().splitlines()]
        out[result.parent.name] = ({k: row[k] for k in ("weights_sha256", "test_accuracy",
                                                         "test_loss", "step", "diverged")},
                                   metrics)
    return out


def load_config(path=None, *, init=None, seed=None, epochs=None, overrides=()):
    """A config as the command line makes it from `--config PATH --init INIT --seed SEED
    --epochs EPOCHS --set ITEM...` (None: that flag not given)."""
    from initcmp.config_load import Override, load, parse_set

    flags = [("--init", "init.name", init), ("--seed", "seed", seed),
             ("--epochs", "train.epochs", epochs)]
    given = [Override(key, value, flag) for flag, key, value in flags if value is not None]
    return load(path, given + [parse_set(item) for item in overrides])
