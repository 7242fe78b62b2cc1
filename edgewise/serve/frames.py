"""The frame loop: ``edgewise predict MODEL --video FILE|DEVICE`` classifies video or camera frames.

OpenCV (``opencv-python-headless``, the ``video`` extra) reads files and V4L2 cameras (``--video 0``) and
is imported only here; a Raspberry Pi camera can also be read natively through picamera2
(``--video picamera2[:N]``, :mod:`edgewise.serve.picamera`).
Each frame goes through the same :func:`~edgewise.runtime.preprocess.load_image` as a still image.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewise.runtime.errors import BackendUnavailable, InputError
from edgewise.serve.picamera import Picamera2Source, camera_number


@dataclass
class LoopStats:
    frames: int
    seconds: float  # wall-clock of the whole loop: reading, preprocessing, inference, printing
    model_seconds: float  # preprocessing + inference only

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def model_ms(self) -> float:
        return 1000 * self.model_seconds / self.frames if self.frames else 0.0


def import_cv2():
    try:
        import cv2
    except ImportError as e:
        raise BackendUnavailable(
            f"--video needs OpenCV ({e}); install it: pip install 'edgewise[video]'"
        ) from None
    return cv2


def open_video(source: str):
    """A ``cv2.VideoCapture`` for a file, or for a camera when ``source`` is a number."""
    cv2 = import_cv2()
    if source.isdigit():
        capture = cv2.VideoCapture(int(source))
    else:
        if not Path(source).is_file():
            raise InputError(f"{source}: no such video file")
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise InputError(f"{source}: OpenCV cannot open this video or camera")
    return capture


def rgb_frames(capture, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """``uint8[H, W, 3]`` RGB frames until the video ends (or ``max_frames``)."""
    cv2 = import_cv2()
    n = 0
    while max_frames is None or n < max_frames:
        ok, bgr = capture.read()
        if not ok:
            return
        n += 1
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def classify_frames(clf, frames, top: int, emit) -> LoopStats:
    """Classify each frame, calling ``emit(index, predictions, ms)``; return the loop's figures."""
    started = time.perf_counter()
    model_seconds, n = 0.0, 0
    for n, frame in enumerate(frames, start=1):
        t0 = time.perf_counter()
        probs = clf.predict_proba(clf.preprocess(frame)[None])[0]
        spent = time.perf_counter() - t0
        model_seconds += spent
        k = max(1, min(top, len(probs)))
        best = np.argsort(-probs, kind="stable")[:k].tolist()
        emit(n - 1, [(i, clf.labels[i], float(probs[i])) for i in best], 1000 * spent)
    return LoopStats(frames=n, seconds=time.perf_counter() - started, model_seconds=model_seconds)


def video_command(args: argparse.Namespace) -> int:
    if args.images:
        raise InputError("give either images or --video, not both")
    camera = camera_number(args.video)
    if camera is not None:
        source = Picamera2Source(camera)
        frames = source.frames(args.max_frames)
    else:
        source = open_video(args.video)  # a cv2.VideoCapture
        frames = rgb_frames(source, args.max_frames)
    try:
        return _classify_and_report(args, frames)
    finally:
        source.release()


def _classify_and_report(args: argparse.Namespace, frames: Iterator[np.ndarray]) -> int:
    from edgewise.runtime.classifier import Classifier

    clf = Classifier(args.model, threads=args.threads, device=args.device, engine=args.engine)
    if clf.note:
        print(f"edgewise predict: note: {clf.note}", file=sys.stderr)

    def emit(index: int, predictions, ms: float) -> None:
        if args.json:
            record = {
                "frame": index,
                "predictions": [
                    {"label": lab, "index": i, "score": round(s, 6)} for i, lab, s in predictions
                ],
                "ms": round(ms, 3),
            }
            print(json.dumps(record), flush=True)
        else:
            text = "  ".join(f"{lab} {s:.3f}" for _, lab, s in predictions)
            print(f"frame {index:>6}  {text}  ({ms:.1f} ms)", flush=True)

    stats = classify_frames(clf, frames, args.top, emit)
    if stats.frames == 0:
        raise InputError(f"{args.video}: no frames could be read")
    print(
        f"edgewise predict: {stats.frames} frames in {stats.seconds:.2f} s: {stats.fps:.1f} FPS "
        f"(preprocess + inference {stats.model_ms:.2f} ms a frame)",
        file=sys.stderr,
    )
    return 0
