"""Classifier: inputs of every kind, top-k, model cards (sidecar, embedded, none, contradicting), threads."""

import io
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from edgewise.runtime import Classifier, ModelCard
from edgewise.runtime.errors import InputError, ModelFileError

pytestmark = pytest.mark.runtime_only


@pytest.fixture(scope="module")
def parity(tiny_bundle):
    with np.load(tiny_bundle / "parity.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module", params=["model_int8.tflite", "model_fp32.onnx"])
def clf(request, tiny_bundle):
    return Classifier(tiny_bundle / request.param, threads=1)


def test_labels_and_shape_come_from_the_sidecar_card(clf, tiny_bundle):
    assert clf.labels == ["red", "green", "blue"]
    assert clf.input_shape == (16, 16, 3)
    assert clf.card_source == str(tiny_bundle / "edgewise.json") and clf.note == ""


def test_predictions_agree_with_the_reference(clf, parity):
    predicted = [p[0][0] for p in clf.predict(parity["images"], top=1)]
    expected = [clf.labels[i] for i in parity["reference"].argmax(1)]
    assert np.mean([a == b for a, b in zip(predicted, expected, strict=True)]) >= 0.95


def test_top_k_is_sorted_and_clipped_to_the_class_count(clf, parity):
    (one,) = clf.predict(parity["images"][0], top=2)
    assert len(one) == 2 and one[0][1] >= one[1][1]
    (every,) = clf.predict(parity["images"][0], top=10)
    assert sorted(label for label, _ in every) == ["blue", "green", "red"]
    assert abs(sum(score for _, score in every) - 1.0) < 0.02


def test_every_input_kind_gives_the_same_answer(clf, parity, tmp_path):
    pixels = parity["images"][3]
    png = tmp_path / "x.png"
    Image.fromarray(pixels).save(png)
    expected = clf.predict(pixels, top=3)
    for source in (png, str(png), png.read_bytes(), Image.open(png), pixels.astype(np.float32)):
        assert clf.predict(source, top=3) == expected
    assert clf.predict([png, pixels], top=3) == expected * 2
    assert clf.predict(parity["images"][3:5], top=3)[0] == expected[0]


def test_bigger_images_are_resized_by_the_shared_preprocessing(clf, parity):
    big = np.asarray(Image.fromarray(parity["images"][0]).resize((64, 64), Image.Resampling.NEAREST))
    assert clf.predict(big, top=1)[0][0][0] == clf.predict(parity["images"][0], top=1)[0][0][0]


def test_batches_are_split_to_the_batch_size(tiny_bundle, parity):
    small = Classifier(tiny_bundle / "model_fp32.tflite", batch_size=5)
    big = Classifier(tiny_bundle / "model_fp32.tflite", batch_size=64)
    np.testing.assert_allclose(
        small.predict_proba(parity["images"]), big.predict_proba(parity["images"]), atol=1e-6
    )


def test_empty_list_and_wrong_batch_shape_are_input_errors(clf):
    with pytest.raises(InputError):
        clf.predict([])
    with pytest.raises(InputError, match="does not fit"):
        clf.predict(np.zeros((2, 8, 8, 3), np.uint8))


@pytest.mark.parametrize("name", ["model_int8.tflite", "model_fp32.onnx"])
def test_predict_is_thread_safe(tiny_bundle, parity, name):
    shared = Classifier(tiny_bundle / name)
    images = list(parity["images"][:24])
    expected = [shared.predict(img, top=3) for img in images]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(3):
            got = list(pool.map(lambda img: shared.predict(img, top=3), images))
            assert got == expected


def test_embedded_onnx_card_is_used_without_a_sidecar(tiny_bundle, tmp_path):
    shutil.copy(tiny_bundle / "model_fp32.onnx", tmp_path)
    clf = Classifier(tmp_path / "model_fp32.onnx")
    assert clf.labels == ["red", "green", "blue"] and "embedded" in clf.card_source


def test_no_card_means_index_labels_and_a_note(tiny_bundle, tmp_path, parity):
    shutil.copy(tiny_bundle / "model_fp32.tflite", tmp_path)
    clf = Classifier(tmp_path / "model_fp32.tflite")
    assert clf.card is None and clf.labels == ["0", "1", "2"]
    assert "labels are class indices" in clf.note
    label, _ = clf.predict(parity["images"][0], top=1)[0][0]
    assert label == str(parity["reference"][0].argmax())


def test_card_disagreeing_with_the_input_shape_is_refused(tiny_bundle, tmp_path):
    shutil.copy(tiny_bundle / "model_fp32.tflite", tmp_path)
    card = ModelCard.load(tiny_bundle)
    card.input.shape = (28, 28, 1)
    card.save(tmp_path)
    with pytest.raises(ModelFileError) as e:
        Classifier(tmp_path / "model_fp32.tflite")
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "edgewise.json") in message and "28x28x1" in message
    assert "16x16x3" in message


def test_card_with_the_wrong_number_of_labels_is_refused(tiny_bundle, tmp_path):
    shutil.copy(tiny_bundle / "model_int8.onnx", tmp_path)
    card = ModelCard.load(tiny_bundle)
    card.labels = ["cat", "dog"]
    card.save(tmp_path)
    with pytest.raises(ModelFileError, match="2 labels but .*model_int8.onnx outputs 3 classes"):
        Classifier(tmp_path / "model_int8.onnx")


def test_grayscale_model_takes_colour_images_and_the_reverse(tiny_bundle, tmp_path):
    gray = Classifier(tiny_bundle / "gray" / "model_fp32.tflite")
    assert gray.input_shape == (8, 8, 1)
    bright_rgb = tmp_path / "bright.png"
    Image.new("RGB", (20, 20), (240, 230, 250)).save(bright_rgb)
    assert gray.predict(bright_rgb, top=1)[0][0][0] == "bright"

    rgb = Classifier(tiny_bundle / "model_fp32.tflite")
    gray_png = tmp_path / "gray.png"
    Image.new("L", (16, 16), 200).save(gray_png)
    result = rgb.predict(gray_png, top=3)
    assert len(result[0]) == 3
    expected = rgb.predict(np.full((16, 16, 3), 200, np.uint8), top=3)
    assert result == expected


def test_decoded_jpeg_bytes_match_the_file(clf, parity, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(parity["images"][1]).save(buf, "JPEG", quality=95)
    path = tmp_path / "a.jpg"
    path.write_bytes(buf.getvalue())
    assert clf.predict(buf.getvalue()) == clf.predict(path)
