"""Images: the IDX reader, Fashion-MNIST, emoji-test.txt and emoji rendering."""

import gzip

import numpy as np
import pytest

from tomclip_lib.data import images
from tomclip_lib.errors import TomclipError


def write_idx(path, array, dtype_code=0x08):
    header = bytes([0, 0, dtype_code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(">u1" if dtype_code == 0x08 else ">i4").tobytes())


def test_idx_round_trip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(images.read_idx(tmp_path / "a.gz"), array)
    ints = np.array([1, -2, 300000], dtype=np.int32)
    write_idx(tmp_path / "b.gz", ints, dtype_code=0x0C)
    assert images.read_idx(tmp_path / "b.gz").tolist() == ints.tolist()


def test_bad_idx_files_get_clear_errors(tmp_path):
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(TomclipError, match="bad magic"):
        images.read_idx(tmp_path / "magic.idx")
    array = np.zeros((4, 4), dtype=np.uint8)
    write_idx(tmp_path / "short.gz", array)
    blob = gzip.decompress((tmp_path / "short.gz").read_bytes())
    (tmp_path / "short.idx").write_bytes(blob[:-3])
    with pytest.raises(TomclipError, match="truncated"):
        images.read_idx(tmp_path / "short.idx")
    (tmp_path / "broken.gz").write_bytes(b"not gzip at all")
    with pytest.raises(TomclipError, match="Cannot read IDX"):
        images.read_idx(tmp_path / "broken.gz")


def test_fashion_mnist_is_complete_and_balanced():
    train, train_labels = images.load_fashion_mnist("train")
    test, test_labels = images.load_fashion_mnist("test")
    assert train.shape == (60000, 28, 28) and test.shape == (10000, 28, 28)
    assert np.bincount(test_labels).tolist() == [1000] * 10
    assert np.bincount(train_labels).tolist() == [6000] * 10
    with pytest.raises(TomclipError, match="splits"):
        images.load_fashion_mnist("validation")


def test_grey_images_become_dark_on_white_rgb():
    grey = np.zeros((2, 28, 28), dtype=np.uint8)
    grey[:, 10:18, 10:18] = 255
    rgb = images.grey_to_rgb(grey, 32)
    assert rgb.shape == (2, 32, 32, 3)
    assert rgb[0, 0, 0].tolist() == [255, 255, 255] and rgb[0, 16, 16].tolist() == [0, 0, 0]


def test_emoji_test_gives_groups_and_subgroups():
    entries = {e.emoji: e for e in images.load_emoji_test()}
    assert entries["😀"].group == "Smileys & Emotion" and entries["😀"].subgroup == "face-smiling"
    assert entries["🐈"].group == "Animals & Nature"
    assert entries["❤️"].key == "❤"


def test_rendered_emoji_are_rgb_on_white_and_cached(isolated_cache):
    rendered = images.render_emoji(["🍎", "🐳"], 32)
    assert rendered.shape == (2, 32, 32, 3) and rendered.dtype == np.uint8
    assert rendered[:, 0, 0].tolist() == [[255, 255, 255], [255, 255, 255]]
    apple_centre = rendered[0, 12:20, 12:20].reshape(-1, 3).mean(0)
    assert apple_centre[0] > apple_centre[2] + 50, "the apple is red"
    assert list(isolated_cache.rglob("*.npy")), "rendering is cached"
    assert np.array_equal(images.render_emoji(["🍎", "🐳"], 32), rendered)
