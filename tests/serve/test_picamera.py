"""``--video picamera2[:N]``: a fake ``picamera2`` module in ``sys.modules`` stands in for the camera."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from edgewise.cli import main
from edgewise.serve.picamera import PIXEL_FORMAT, camera_number

pytestmark = pytest.mark.runtime_only


class FakeCamera:
    """picamera2's ``Picamera2`` as far as the frame loop uses it, yielding the given frames in turn."""

    frames: list[np.ndarray] = []
    opened: list[FakeCamera] = []

    def __init__(self, camera_num: int = 0):
        if camera_num > 0:
            raise IndexError("list index out of range")  # what picamera2 raises for a missing camera
        self.camera_num, self.config, self.calls, self.served = camera_num, None, [], 0
        FakeCamera.opened.append(self)

    def create_video_configuration(self, main):
        return {"main": dict(main)}

    def configure(self, config):
        self.config = config
        self.calls.append("configure")

    def start(self):
        self.calls.append("start")

    def capture_array(self, name="main"):
        assert "start" in self.calls and name == "main"
        frame = self.frames[self.served % len(self.frames)]
        self.served += 1
        return frame

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch, tiny_bundle):
    """Frames of the bundle's first three held-out images at 64x64 (as "BGR888" arrays, i.e. [R, G, B],
    with a fourth padding channel, as XBGR8888 would have), and their reference labels."""
    with np.load(tiny_bundle / "parity.npz", allow_pickle=False) as parity:
        pixels, reference = parity["images"][:3], parity["reference"][:3]
    big = [np.kron(img, np.ones((4, 4, 1), np.uint8)) for img in pixels]
    FakeCamera.frames = [np.concatenate([b, np.full((*b.shape[:2], 1), 255, np.uint8)], axis=2) for b in big]
    FakeCamera.opened = []
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakeCamera))
    return [["red", "green", "blue"][k] for k in reference.argmax(1)]


def test_camera_frames_are_classified_then_the_camera_is_stopped(tiny_bundle, fake_picamera2, capsys):
    model = str(tiny_bundle / "model_int8.tflite")
    assert main(["predict", model, "--video", "picamera2", "--max-frames", "6", "--json", "-k", "1"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["predictions"][0]["label"] for r in records] == fake_picamera2 * 2
    assert "6 frames in" in err and "FPS" in err
    (camera,) = FakeCamera.opened
    assert camera.config["main"]["format"] == PIXEL_FORMAT and camera.camera_num == 0
    assert camera.calls == ["configure", "start", "stop", "close"] and camera.served == 6


def test_source_names():
    assert [camera_number(s) for s in ("picamera2", "picamera2:1", "PiCamera:0", "0", "clip.mp4")] == [
        0,
        1,
        0,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("installed", "source", "message"),
    [(False, "picamera2", "needs the picamera2 library"), (True, "picamera2:3", "picamera2:3: cannot open")],
)
def test_missing_library_or_camera_is_one_line_exit_2(
    tiny_bundle, fake_picamera2, monkeypatch, capsys, installed, source, message
):
    if not installed:
        monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    assert main(["predict", str(tiny_bundle / "model_int8.tflite"), "--video", source]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
