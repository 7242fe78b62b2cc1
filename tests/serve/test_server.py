"""``edgewise serve``'s HTTP routes: answers, errors (4xx with JSON, never a 500), metrics, info."""

from __future__ import annotations

import concurrent.futures
import io
import json

import numpy as np
import pytest
from PIL import Image

from edgewise.runtime import Classifier
from edgewise.serve import ServeApp, ServeConfig
from tests.serve.conftest import png_bytes

pytestmark = pytest.mark.runtime_only


@pytest.mark.parametrize("name", ["model_int8.tflite", "model_fp32.tflite", "model_int8.onnx"])
def test_predict_answers_the_reference_label(start_server, samples, name):
    client, _ = start_server(name)
    for png, label, _ in samples:
        status, doc = client.predict(png, path="/predict?top=2")
        assert status == 200
        assert [p["label"] for p in doc["predictions"]][0] == label
        assert len(doc["predictions"]) == 2
        assert doc["predictions"][0]["score"] >= doc["predictions"][1]["score"]


def test_multipart_json_and_octet_stream_give_the_same_answer(start_server, samples):
    client, _ = start_server()
    png, label, pixels = samples[0]
    boundary = "b0undary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answers = [
        client.predict(png, "application/octet-stream"),
        client.predict(multipart, f"multipart/form-data; boundary={boundary}"),
        client.predict(json.dumps({"pixels": pixels.tolist()}).encode(), "application/json"),
    ]
    assert all(status == 200 for status, _ in answers)
    assert {doc["predictions"][0]["label"] for _, doc in answers} == {label}
    scores = [doc["predictions"][0]["score"] for _, doc in answers]
    assert max(scores) - min(scores) < 1e-5


def _bomb() -> bytes:
    return png_bytes(Image.new("1", (9000, 9000)))  # 81 MP of zeros: a few KB of PNG


@pytest.mark.parametrize(
    ("body", "ctype", "status", "kind"),
    [
        (b"", "image/png", 400, "empty_body"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png", 400, "not_an_image"),
        (b"definitely not an image", "application/octet-stream", 400, "not_an_image"),
        (b"hello", "text/plain", 415, "unsupported_media_type"),
        (b"{not json", "application/json", 400, "bad_json"),
        (b'{"pixels": [[1, 2], [3]]}', "application/json", 400, "bad_json"),
        (b'{"pixels": [[1, 2], [3, 4]]}', "application/json", 400, "bad_shape"),
        (b"--x\r\nno blank line", "multipart/form-data; boundary=x", 400, "bad_multipart"),
        (b"abc", "multipart/form-data", 400, "bad_multipart"),
        (b"\0" * 5000, "image/png", 413, "body_too_large"),
        (None, "image/png", 413, "too_many_pixels"),
    ],
)
def test_bad_uploads_get_a_json_4xx(start_server, samples, body, ctype, status, kind):
    client, app = start_server(max_body=4096 if kind == "body_too_large" else 1 << 20, max_pixels=1_000_000)
    got, doc = client.predict(_bomb() if body is None else body, ctype)
    assert (got, doc["error"]) == (status, kind)
    assert doc["message"] and "Traceback" not in doc["message"]
    assert f'edgewise_errors_total{{kind="{kind}"}} 1' in app.metrics.render()
    assert client.predict(samples[0][0])[0] == 200  # the connection pool and the service still work


def test_truncated_image_is_400(start_server, samples):
    client, _ = start_server()
    jpeg = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    buf = io.BytesIO()
    jpeg.save(buf, "JPEG")
    png = samples[0][0]
    for data in (png[: len(png) // 2], buf.getvalue()[: len(buf.getvalue()) // 2]):
        status, doc = client.predict(data, "image/jpeg")
        assert status == 400 and doc["error"] in ("bad_image", "not_an_image")


def test_routes_methods_and_no_files_reachable(start_server):
    client, _ = start_server()
    assert client.request("GET", "/health") == (200, {"status": "ok", "uptime_s": pytest.approx(0, abs=60)})
    for path in ("/", "/edgewise.json", "/../edgewise.json", "/predict/../../etc/passwd", "/model_int8.onnx"):
        status, doc = client.request("GET", path)
        assert status == 404 and doc["error"] == "not_found"
    assert client.request("GET", "/predict")[0] == 405
    assert client.request("DELETE", "/info")[0] == 405
    status, doc = client.request("POST", "/predict?top=zero", b"x", {"Content-Type": "image/png"})
    assert (status, doc["error"]) == (400, "bad_query")


def test_info_names_the_artifact_but_no_server_path(start_server, tiny_bundle):
    client, _ = start_server("model_int8.tflite")
    status, info = client.request("GET", "/info")
    assert status == 200
    assert info["artifact"] == "model_int8.tflite" and info["labels"] == ["red", "green", "blue"]
    assert info["input_shape"] == [16, 16, 3] and info["engine"] == "litert"
    assert info["export"]["quantize"] == "int8"
    assert info["choice"] == "model_int8.tflite, named on the command line"
    assert str(tiny_bundle) not in json.dumps(info)


def test_metrics_count_requests_errors_latency_and_batches(start_server, samples):
    client, _ = start_server()
    for png, _, _ in samples:
        client.predict(png)
    client.predict(b"junk")
    status, text = client.request("GET", "/metrics")
    assert status == 200
    assert 'edgewise_requests_total{route="/predict",code="200"} 3' in text
    assert 'edgewise_requests_total{route="/predict",code="400"} 1' in text
    assert 'edgewise_errors_total{kind="not_an_image"} 1' in text
    assert "edgewise_predict_latency_seconds_count 4" in text
    assert 'edgewise_predict_latency_seconds_bucket{le="+Inf"} 4' in text
    assert "edgewise_batch_size_count 3" in text
    assert "# TYPE edgewise_batch_size histogram" in text


def test_concurrent_requests_share_engine_calls(start_server, samples):
    client, app = start_server("model_fp32.onnx", max_batch=8, max_wait_ms=50)
    bodies = [samples[i % 3] for i in range(48)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda s: client.predict(s[0]), bodies))
    assert [doc["predictions"][0]["label"] for _, doc in answers] == [label for _, label, _ in bodies]
    batches = app.metrics.batch_size
    assert batches.sum == 48 and batches.count < 48  # some calls carried several images


def test_fixed_batch_graph_turns_batching_off(tiny_bundle, samples):
    clf = Classifier(tiny_bundle / "model_int8.tflite", threads=1)
    clf.backend._max_batch = 1  # as a TFLite graph exported with a fixed batch of one
    app = ServeApp(clf, ServeConfig(max_batch=8))
    assert app.batcher is None and "fixed batch 1" in app.note
    doc = app.predict("image/png", samples[0][0], top=1)
    assert doc["predictions"][0]["label"] == samples[0][1]
