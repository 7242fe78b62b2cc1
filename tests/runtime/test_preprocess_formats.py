"""The shared preprocessing: every colour mode and format becomes the same uint8 HxWxC pixels."""

import io

import numpy as np
import pytest
from PIL import Image

from edgewise.runtime.errors import ImageError
from edgewise.runtime.preprocess import load_image


def gradient(w=120, h=80) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1))


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F", "1"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_mode_gives_uint8_hwc(mode, channels):
    img = (
        gradient().convert("L").convert(mode) if mode in ("I;16", "I", "F", "1") else gradient().convert(mode)
    )
    out = load_image(img, (32, 24), channels)
    assert out.dtype == np.uint8 and out.shape == (32, 24, channels)
    assert out.max() > 0


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    a = np.full((8, 8), 40000, dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    out = load_image(path, (8, 8), 1)
    assert int(out[0, 0, 0]) == round(40000 * 255 / 65535)


def test_alpha_is_dropped_not_blended():
    rgba = Image.new("RGBA", (4, 4), (200, 100, 50, 0))
    assert load_image(rgba, (4, 4), 3)[0, 0].tolist() == [200, 100, 50]


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 30), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 30, 30))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    out = load_image(path, (60, 30), 3)  # displayed image is 30 wide, 60 tall
    assert out[5, 15, 2] > 200 and out[55, 15, 0] > 200  # blue on top after rotation


def test_large_jpeg_uses_draft_and_stays_deterministic(tmp_path):
    path = tmp_path / "big.jpg"
    gradient(1000, 650).save(path, quality=90)
    a = load_image(path, (64, 64), 3)
    b = load_image(path.read_bytes(), (64, 64), 3)
    assert np.array_equal(a, b)
    naive = np.asarray(Image.open(path).convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
    assert np.abs(a.astype(int) - naive.astype(int)).mean() < 3  # draft decode is close to a full decode


def test_center_crop_keeps_the_middle():
    img = Image.new("RGB", (90, 30), (0, 0, 0))
    img.paste((255, 255, 255), (30, 0, 60, 30))
    out = load_image(img, (10, 10), 3, fit="center_crop")
    assert out.min() == 255


def test_preprocessed_array_passes_through_untouched():
    a = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    assert load_image(a, (16, 16), 3) is a


@pytest.mark.parametrize(
    "payload, message",
    [(b"", "empty file"), (b"hello, I am text", "not an image"), (None, "cannot (open|decode)")],
)
def test_bad_files_raise_one_line_image_error_naming_the_file(tmp_path, payload, message):
    path = tmp_path / "bad.jpg"
    if payload is None:
        buf = io.BytesIO()
        gradient().save(buf, "JPEG")
        payload = buf.getvalue()[: len(buf.getvalue()) // 3]
    path.write_bytes(payload)
    with pytest.raises(ImageError, match=message) as info:
        load_image(path, (8, 8), 3)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png", (8, 8), 3)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    import edgewise.runtime.preprocess as pp

    monkeypatch.setattr(pp, "MAX_PIXELS", 10_000)
    path = tmp_path / "bomb.png"
    Image.new("L", (1000, 1000)).save(path)
    with pytest.raises(ImageError, match="too large"):
        load_image(path, (8, 8), 1)
