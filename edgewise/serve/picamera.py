"""Raspberry Pi camera frames through picamera2 (libcamera's Python library): ``--video picamera2[:N]``.

picamera2 is installed with the system on Raspberry Pi OS (``sudo apt install python3-picamera2``; its
libcamera bindings do not come from PyPI), so it is no extra of ours: it is imported only when a
``picamera2`` source is asked for, and its absence is a one-line error. OpenCV can read the same camera
through V4L2 (``--video 0``); picamera2 is the native path, with the ISP doing the colour conversion.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from edgewise.runtime.errors import BackendUnavailable, InputError

SOURCE = re.compile(r"picamera2?(?::(\d+))?", re.IGNORECASE)
FRAME_SIZE = (640, 480)  # what the camera delivers; the model's own preprocessing resizes from there
# libcamera names formats by their 32-bit word: "BGR888" arrays hold [R, G, B] bytes, the order we want
PIXEL_FORMAT = "BGR888"


def camera_number(source: str) -> int | None:
    """The camera number of a ``picamera2`` / ``picamera2:N`` source (``picamera:N`` too), else None."""
    match = SOURCE.fullmatch(source.strip())
    return int(match[1] or 0) if match else None


def import_picamera2():
    try:
        from picamera2 import Picamera2
    except ImportError as e:
        raise BackendUnavailable(
            f"--video picamera2 needs the picamera2 library ({e}); on Raspberry Pi OS: "
            "sudo apt install python3-picamera2 (or read the camera through OpenCV: --video 0)"
        ) from None
    return Picamera2


class Picamera2Source:
    """One started camera; :meth:`frames` yields ``uint8[H, W, 3]`` RGB, :meth:`release` stops it."""

    def __init__(self, camera: int = 0, size: tuple[int, int] = FRAME_SIZE):
        picamera2_class = import_picamera2()
        self.name = f"picamera2:{camera}"
        try:
            self._camera = picamera2_class(camera_num=camera)
        except (IndexError, RuntimeError, OSError) as e:
            raise InputError(f"{self.name}: cannot open this camera ({e})") from None
        self._started = False
        try:
            config = self._camera.create_video_configuration(main={"format": PIXEL_FORMAT, "size": size})
            self._camera.configure(config)
            self._camera.start()
            self._started = True
        except (RuntimeError, ValueError, OSError) as e:
            self.release()
            raise InputError(f"{self.name}: cannot start this camera ({e})") from None

    def frames(self, max_frames: int | None = None) -> Iterator[np.ndarray]:
        n = 0
        while max_frames is None or n < max_frames:
            frame = self._camera.capture_array("main")
            n += 1
            yield np.ascontiguousarray(frame[..., :3])  # an X (padding) channel, where there is one, dropped

    def release(self) -> None:
        if self._camera is None:
            return
        try:
            if self._started:
                self._camera.stop()
        finally:
            self._camera.close()
            self._camera = None
