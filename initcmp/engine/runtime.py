"""TensorFlow start-up: quiet, deterministic, with XLA's persistent compilation cache.

Every command that needs TensorFlow calls `tensorflow()` first; nothing else in initcmp
imports TensorFlow at module level, so `--help`, `inits` and config errors stay instant.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path

from initcmp.data import sources

# The XLA cache keeps its newest entries (about 60 kB each; a config's train and
# evaluation steps are two): TensorFlow itself never deletes any.
XLA_CACHE_ENTRIES = 400

# Packages `import tensorflow` loads only because they are installed, for features initcmp
# never uses: TFLite's JAX converter imports jax (tensorflow/lite/python/util.py, in a
# try/except ImportError). Hidden while TensorFlow loads, they cost nothing; imported,
# jax adds about 0.3 s to every start (docs/performance.md).
NOT_FOR_TENSORFLOW = ("jax",)


def tensorflow():
    """Import TensorFlow quietly, with deterministic ops (idempotent).

    TF 2.21 writes start-up lines (oneDNN, CUDA probing) from C++ before its log level
    applies, so stderr is closed at the descriptor level while it loads and looks for
    devices. Set INITCMP_TF_LOGS=1 to see them. Its C++ log lines are off too (level 3):
    loading a step from the XLA cache logs alarming but harmless "E0000 ... Error parsing
    text-format" and "Target machine feature +prefer-no-scatter" lines; TensorFlow's real
    errors reach initcmp as Python exceptions and are reported as such.
    """
    if not os.environ.get("INITCMP_TF_LOGS"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _use_xla_cache()
    first = "tensorflow" not in sys.modules
    with _collector_paused(first):
        if first and not os.environ.get("INITCMP_TF_LOGS"):
            with _stderr_silenced(), _hidden(NOT_FOR_TENSORFLOW):
                import tensorflow as tf

                tf.config.list_physical_devices()
        else:
            with _hidden(NOT_FOR_TENSORFLOW):
                import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # each run traces its own steps: retracing is expected
    return tf


def release() -> None:
    """Free what trained runs held once nothing refers to them: Keras' global state (its
    graphs, the models' traced functions), TensorFlow's registered custom gradients,
    then Python's cycles. A process that trains stacks in turn (a sweep, a compare one by
    one) otherwise keeps every stack's graphs, and its memory grows with every stack
    (docs/performance.md). Weights are unaffected: every layer has its own explicit seed."""
    import keras
    from tensorflow.python.framework import ops

    keras.backend.clear_session()
    # TensorFlow registers the gradient of every traced `tf.custom_gradient` call
    # (fused.dense) in a global registry and never removes it, and each entry holds
    # its graph: every stack's traced steps stayed in memory (tensorflow/tensorflow
    # issues 27492 and 97697; tf-keras PR 898 drops them in clear_session the same way).
    # Between stacks no graph traced before is differentiated again.
    registry = ops._gradient_registry._registry  # noqa: SLF001 - no public way to drop one
    for name in [name for name in registry if name.startswith("CustomGradient-")]:
        del registry[name]
    gc.collect()


def _use_xla_cache() -> None:
    """XLA's persistent compilation cache (TF's --tf_xla_persistent_cache_directory), in
    `<initcmp cache>/xla/` (about 0.4 MB per model shape): a step compiled once is loaded
    from disk by later processes instead of compiled again, about 2.5 s of every start.
    Its key is the compiled program, so a hit is the same executable: the same bits.
    INITCMP_XLA_CACHE=off turns it off; INITCMP_XLA_CACHE=<folder> moves it."""
    setting = os.environ.get("INITCMP_XLA_CACHE", "")
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if setting.lower() in ("0", "off", "false", "no") or "persistent_cache_directory" in flags:
        return
    folder = Path(setting) if setting else sources.cache_path().parent / "xla"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        prune(folder, XLA_CACHE_ENTRIES)
    except OSError:
        return  # no cache, no harm: the steps are compiled as before
    os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()


def prune(folder: Path, keep: int) -> None:
    """Delete all but the `keep` newest files of `folder` (an entry used again after its
    deletion is compiled and written again)."""
    entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in entries[keep:]:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _collector_paused(importing: bool):
    """Python's cyclic garbage collector off while TensorFlow imports, and what the import
    made (TensorFlow, Keras, matplotlib: about 320,000 objects that live as long as the
    process) frozen after it: the collector no longer walks them (gc.freeze, the
    pattern the gc docs give): a full collection over them costs a fifth of a second,
    and tracing the steps triggers several (docs/performance.md). It changes when garbage is
    freed, never a number."""
    if not importing or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


@contextlib.contextmanager
def _hidden(names):
    """Inside, `import name` fails with ImportError for each of `names` not yet imported
    (a None in sys.modules); after, they import as usual."""
    hidden = [name for name in names if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
