"""``edgewise serve`` and the ``--video`` option of ``edgewise predict`` (the frame loop).

``predict`` belongs to the runtime; the frame loop belongs here (the runtime imports nothing above it),
so this module adds ``--video`` to the runtime's ``predict`` parser and routes it to
:mod:`edgewise.serve.frames`. OpenCV is imported only when ``--video`` is used.
"""

from __future__ import annotations

import argparse
import re

from edgewise.runtime import limits
from edgewise.runtime.argtypes import (
    add_command,
    add_count,
    add_engine_options,
    add_model_argument,
    api_keywords,
    positive_int,
)
from edgewise.runtime.errors import InputError
from edgewise.serve.config import DEFAULT_MAX_BODY, ServeConfig


def register(sub) -> None:
    _register_serve(sub)
    predict = sub.choices.get("predict")
    if predict is not None:
        _extend_predict(predict)


SUMMARY = "serve a model over HTTP: POST /predict, GET /health, /info, /metrics (no TensorFlow)"
DESCRIPTION = """\
Serve one exported model over HTTP until SIGTERM/Ctrl-C (in-flight requests finish first). POST /predict
takes raw image bytes, multipart/form-data (field 'file') or JSON {"pixels": [...]} and answers the top-k
labels as JSON; GET /health, /info (model card, engine, limits) and /metrics (Prometheus text). Binds to
127.0.0.1 unless --host says otherwise.
"""

EPILOG = """\
examples:
  edgewise serve runs/fm
  edgewise serve runs/fm/model_int8.onnx --host 0.0.0.0 --port 8080 --max-batch 16
  curl --data-binary @shoe.jpg -H 'Content-Type: image/jpeg' http://127.0.0.1:8000/predict
"""


def _register_serve(sub) -> None:
    defaults = ServeConfig()
    p = add_command(sub, "serve", SUMMARY, DESCRIPTION, EPILOG)
    add_model_argument(p)
    p.add_argument(
        "--host", default=defaults.host, help="address to listen on (default 127.0.0.1: this machine)"
    )
    p.add_argument("--port", type=_port, default=defaults.port, help="TCP port (default 8000; 0 picks one)")
    batch = f"micro-batching: images per engine call at most (default {defaults.max_batch}; 1 = off)"
    add_count(p, "--max-batch", low=1, high=limits.MAX_BATCH, default=defaults.max_batch, help=batch)
    p.add_argument(
        "--max-wait-ms",
        type=_non_negative_float,
        default=defaults.max_wait_ms,
        metavar="MS",
        help="micro-batching: longest wait for more requests, and only while some are arriving "
        f"(default {defaults.max_wait_ms:g})",
    )
    p.add_argument(
        "--max-body",
        type=_size,
        default=DEFAULT_MAX_BODY,
        metavar="BYTES",
        help="largest request body; larger gets 413 (default 8M; suffixes K, M)",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=defaults.max_pixels,
        metavar="N",
        help=f"largest image (width x height); larger gets 413 (default {defaults.max_pixels:,})",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=defaults.timeout_s,
        metavar="S",
        help=f"seconds to receive a request and to answer it (default {defaults.timeout_s:g})",
    )
    top = "labels per answer"
    add_count(p, "--top", "-k", low=1, high=limits.MAX_TOP, default=defaults.top, metavar="K", help=top)
    add_engine_options(p)
    p.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    import sys

    from edgewise.runtime.classifier import Classifier
    from edgewise.serve.server import serve

    if not args.model.exists():
        raise InputError(f"{args.model}: no such file or directory")
    config = ServeConfig(**api_keywords(args, ServeConfig, timeout_s=args.timeout))
    # a bundle directory runs what `edgewise bench --pick` chose for this device, as predict does
    clf = Classifier(args.model, threads=args.threads, device=args.device, engine=args.engine)
    if clf.note:
        print(f"edgewise serve: note: {clf.note}", file=sys.stderr)
    return serve(clf, config)


# -- predict --video ----------------------------------------------------------------------------------
def _extend_predict(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("frame loop (needs the video extra: pip install 'edgewise[video]')")
    group.add_argument(
        "--video",
        metavar="FILE|DEVICE",
        help="classify the frames of a video file or camera (a number: 0 is /dev/video0; picamera2[:N]: "
        "a Raspberry Pi camera through picamera2); prints FPS",
    )
    group.add_argument(
        "--max-frames", type=positive_int, metavar="N", help="--video: stop after N frames (default: all)"
    )
    images_func = p.get_default("func")

    def predict_or_video(args: argparse.Namespace) -> int:
        if args.video is None:
            return images_func(args)
        from edgewise.serve.frames import video_command

        return video_command(args)

    p.set_defaults(func=predict_or_video)


# -- argument types -----------------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"ports are 0..65535, got {port}")
    return port


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)i?[bB]?\s*", text)
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected a size in bytes like 8M, 512K or 100000, got {text!r}")
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[match[2].lower()]


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value
