"""One run on disk, without TensorFlow: its folders and lock, its plain-file records
(`config.yaml`, `metrics.jsonl`, `result.json`) in `records`; the experiment's runs
and their status in `inventory`; atomic file replacement, the one way a file is written,
in `atomic`."""
