"""Data sources: IDX files, the CIFAR-10 archive and image folders, through ``load_splits``."""

from __future__ import annotations

import collections
import logging

import numpy as np
import pytest

from edgewise.runtime.errors import InputError
from edgewise.runtime.preprocess import load_image
from edgewise.runtime.sampling import fraction_per_class
from edgewise.train.data import Split, load_splits, stratified_split
from edgewise.train.sources import cifar, folder, idx
from tests.train.helpers import (
    write_cifar_tarball,
    write_exif_rotated_jpeg,
    write_idx,
    write_idx_dataset,
    write_photo_folder,
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEWISE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


# -- IDX -----------------------------------------------------------------------------------------------


def test_read_idx_gz_and_plain(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(idx.read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert np.array_equal(idx.read_idx(write_idx(tmp_path / "a", a, compress=False)), a)


def test_read_idx_rejects_truncated_and_foreign(tmp_path):
    a = np.zeros((5, 4, 4), dtype=np.uint8)
    path = write_idx(tmp_path / "t", a, compress=False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(InputError, match="truncated"):
        idx.read_idx(path)
    (tmp_path / "x").write_bytes(b"hello world")
    with pytest.raises(InputError, match="not an IDX"):
        idx.read_idx(tmp_path / "x")


def test_idx_dataset_from_data_dir(tmp_path):
    arrays = write_idx_dataset(tmp_path / "fm", n_train=50, n_test=20)
    splits = load_splits("fashion_mnist", data_dir=tmp_path / "fm", val_fraction=0.2, seed=3)
    assert splits.class_names[0] == "T-shirt/top" and splits.num_classes == 10
    assert splits.train.images.shape == (40, 28, 28, 1) and splits.train.images.dtype == np.uint8
    assert splits.val.images.shape == (10, 28, 28, 1)
    assert splits.train.labels.dtype == np.int64
    assert np.array_equal(splits.test.images[..., 0], arrays["t10k-images-idx3-ubyte"])
    # stratified: each of the 10 classes (5 images each) gives exactly one image to validation
    assert sorted(splits.val.labels.tolist()) == list(range(10))
    again = load_splits("fashion_mnist", data_dir=tmp_path / "fm", val_fraction=0.2, seed=3)
    assert np.array_equal(again.val.images, splits.val.images)


def test_idx_resized_and_rgb_through_shared_preprocessing(tmp_path):
    arrays = write_idx_dataset(tmp_path / "fm", n_train=20, n_test=10)
    splits = load_splits("fashion_mnist", data_dir=tmp_path / "fm", image_size=32, channels=3)
    assert splits.test.images.shape == (10, 32, 32, 3)
    expected = load_image(arrays["t10k-images-idx3-ubyte"][0][..., None], (32, 32), 3)
    assert np.array_equal(splits.test.images[0], expected)


def test_mnist_npz_in_keras_cache(tmp_path, monkeypatch):
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        cache / "mnist.npz",
        x_train=rng.integers(0, 255, (30, 28, 28), dtype=np.uint8),
        y_train=np.arange(30) % 10,
        x_test=rng.integers(0, 255, (10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10),
    )
    monkeypatch.setitem(idx.DEBIAN_DIRS, "mnist", str(tmp_path / "nowhere"))
    splits = load_splits("mnist")
    assert splits.class_names == [str(d) for d in range(10)]
    assert len(splits.train) + len(splits.val) == 30


def test_idx_missing_everywhere_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(idx.DEBIAN_DIRS, "mnist", str(tmp_path / "nowhere"))

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(idx.urllib.request, "urlopen", offline)
    with pytest.raises(InputError, match="download failed"):
        load_splits("mnist")
    with pytest.raises(InputError, match="no such directory"):
        load_splits("mnist", data_dir=tmp_path / "missing")


# -- CIFAR-10 ------------------------------------------------------------------------------------------


def test_cifar_tarball(tmp_path):
    batches = write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", per_batch=12)
    for where in (tmp_path / "cifar-10-python.tar.gz", tmp_path):
        splits = load_splits("cifar10", data_dir=where, val_fraction=0.1)
        assert splits.class_names[0] == "airplane" and splits.num_classes == 10
        assert len(splits.train) + len(splits.val) == 60
        assert splits.test.images.shape == (12, 32, 32, 3)
        data, labels = batches["test_batch"]
        # CIFAR stores channel planes (R, G, B) of 32x32 each
        assert np.array_equal(splits.test.images[0, :, :, 0], data[0, :1024].reshape(32, 32))
        assert np.array_equal(splits.test.images[0, :, :, 2], data[0, 2048:].reshape(32, 32))
        assert np.array_equal(splits.test.labels, labels)


def test_cifar_refuses_foreign_pickles(tmp_path):
    import io
    import pickle
    import tarfile

    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        payload = pickle.dumps({b"data": collections.OrderedDict()})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(InputError, match="not a CIFAR-10 batch"):
        load_splits("cifar10", data_dir=tmp_path)


def test_cifar_missing(tmp_path):
    with pytest.raises(InputError, match="cifar-10-python.tar.gz"):
        cifar.load(data_dir=tmp_path)


# -- image folders -------------------------------------------------------------------------------------


def test_image_folder_all_formats_modes_and_a_corrupt_file(tmp_path, caplog):
    root = tmp_path / "photos"
    files = write_photo_folder(root, classes=("cat", "dog", "fox"), per_class=8)
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "fox" / "empty.png").write_bytes(b"")
    rotated = write_exif_rotated_jpeg(root / "fox" / "rotated.jpg")
    with caplog.at_level(logging.WARNING):
        splits = load_splits(root, image_size=(24, 20), channels=3, val_fraction=0.25)
    assert "skipped 3 unreadable file(s)" in caplog.text
    for name in ("broken.jpg", "notes.txt", "empty.png"):
        assert name in caplog.text
    assert splits.class_names == ["cat", "dog", "fox"]
    n = len(splits.train) + len(splits.val) + len(splits.test)
    assert n == len(files) + 1
    assert splits.train.images.shape[1:] == (24, 20, 3) and splits.train.images.dtype == np.uint8
    assert {len(splits.val), len(splits.test)} == {6}  # 25% of each class of 8 (9 for fox) twice
    assert rotated.exists()


def test_image_folder_pixels_equal_load_image(tmp_path):
    root = tmp_path / "photos"
    files = write_photo_folder(root / "train", per_class=8)
    write_photo_folder(root / "test", per_class=2)
    splits = load_splits(root, image_size=16, channels=1, val_fraction=0.0001)
    ordered = sorted(p for p in files if p.parent.name == "cat") + sorted(
        p for p in files if p.parent.name == "dog"
    )
    everything = np.concatenate([splits.train.images, splits.val.images])
    for path in ordered:
        expected = load_image(path, (16, 16), 1)
        assert any(np.array_equal(expected, got) for got in everything), path


def test_image_folder_split_folders_and_cache(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    write_photo_folder(root / "train", per_class=6)
    write_photo_folder(root / "val", per_class=2)
    write_photo_folder(root / "test", per_class=3)
    first = load_splits(root, image_size=12)
    assert (len(first.train), len(first.val), len(first.test)) == (12, 4, 6)
    assert list((tmp_path / "cache" / "edgewise" / "folders").glob("*.npz"))

    def no_decoding(*a, **k):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(folder.preprocess, "load_image", no_decoding)
    second = load_splits(root, image_size=12)
    assert np.array_equal(first.train.images, second.train.images)
    with pytest.raises(AssertionError, match="decoded again"):
        load_splits(root, image_size=13)  # another size is another cache entry


def test_image_folder_class_errors(tmp_path):
    one = tmp_path / "one"
    write_photo_folder(one, classes=("only",), per_class=3)
    with pytest.raises(InputError, match="at least two"):
        load_splits(one)
    empty = tmp_path / "empty"
    write_photo_folder(empty, classes=("full",), per_class=3)
    (empty / "hollow").mkdir()
    with pytest.raises(InputError, match="no training images: hollow"):
        load_splits(empty)
    extra = tmp_path / "extra"
    write_photo_folder(extra / "train", per_class=2)
    write_photo_folder(extra / "test", classes=("cat", "dog", "cow"), per_class=1)
    with pytest.raises(InputError, match="cow"):
        load_splits(extra)


def test_unknown_and_missing_sources(tmp_path):
    with pytest.raises(InputError, match="unknown dataset 'imagenet'"):
        load_splits("imagenet")
    with pytest.raises(InputError, match="no such directory"):
        load_splits(str(tmp_path / "nope"))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        load_splits(str(tmp_path / "file.txt"))
    with pytest.raises(InputError, match="val-fraction"):
        load_splits("mnist", val_fraction=1.5)


def test_stratified_split_keeps_every_class():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2, dtype=np.int64)
    split = Split(np.zeros((15, 2, 2, 1), np.uint8), labels)
    train, val = stratified_split(split, 0.2, seed=1)
    assert sorted(val.labels.tolist()) == [0, 0, 1, 2]
    assert len(train) == 11 and set(train.labels.tolist()) == {0, 1, 2}


def test_stratified_split_is_the_shared_per_class_sample():
    labels = np.random.default_rng(4).integers(0, 5, 300)
    split = Split(np.arange(300).reshape(300, 1, 1, 1), labels)
    _, val = stratified_split(split, 0.25, seed=9)
    assert np.array_equal(val.images[:, 0, 0, 0], fraction_per_class(labels, 0.25, seed=9))


@pytest.mark.parametrize(
    "files, given, hint",
    [
        (["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"], ".", "--data fashion_mnist --data-dir"),
        (["train-images-idx3-ubyte"], "train-images-idx3-ubyte", "--data fashion_mnist --data-dir"),
        (["cifar-10-python.tar.gz"], ".", "--data cifar10 --data-dir"),
        (["cifar-10-python.tar.gz"], "cifar-10-python.tar.gz", "--data cifar10 --data-dir"),
    ],
)
def test_a_datasets_own_files_given_as_data_say_how_to_name_them(tmp_path, files, given, hint):
    for name in files:
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(InputError, match=hint) as caught:
        load_splits(str(tmp_path / given))
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)
