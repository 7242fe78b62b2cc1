"""A ``/predict`` request body -> the model's input pixels, or a :class:`RequestError` saying why not.

Accepted: raw image bytes (``image/*`` or ``application/octet-stream``), ``multipart/form-data`` with
the image as a file part, and ``application/json`` ``{"pixels": [[[...]]]}`` holding one already
preprocessed ``H x W x C`` array of 0..255 values (the model card's input shape). Everything a client can
send wrong ends here as a 4xx with a short machine-readable ``kind``.
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
from PIL import Image

from edgewise.runtime.errors import ImageError
from edgewise.serve.pixel_json import parse_plain_pixels


class RequestError(Exception):
    """A request the service refuses: HTTP ``status``, a short ``kind`` for metrics, a message."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status = status
        self.kind = kind


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``"multipart/form-data; boundary=x"`` -> ``("multipart/form-data", {"boundary": "x"})``."""
    if not value:
        return "", {}
    mime, *rest = value.split(";")
    params = {}
    for item in rest:
        key, sep, val = item.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return mime.strip().lower(), params


def pixels_from_body(clf, content_type: str | None, body: bytes, max_pixels: int) -> np.ndarray:
    """Decode a request body into ``clf``'s input: ``uint8`` or ``float32[H, W, C]``."""
    mime, params = parse_content_type(content_type)
    if mime == "multipart/form-data":
        return image_pixels(clf, multipart_file(body, params.get("boundary")), max_pixels)
    if mime == "application/json":
        return json_pixels(body, tuple(clf.input_shape))
    if mime.startswith("image/") or mime in ("application/octet-stream", ""):
        return image_pixels(clf, body, max_pixels)
    raise RequestError(
        415,
        "unsupported_media_type",
        f"cannot use Content-Type {mime!r}; send image bytes (image/*, application/octet-stream), "
        "multipart/form-data or application/json",
    )


def image_pixels(clf, data: bytes, max_pixels: int) -> np.ndarray:
    if not data:
        raise RequestError(400, "empty_body", "the request has no image (empty body)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit follows
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise RequestError(413, "too_many_pixels", f"image has more than {max_pixels:,} pixels") from None
    except Exception:  # any failure to parse a client's bytes is the client's error, not ours
        raise RequestError(400, "not_an_image", "the body is not an image file Pillow can read") from None
    if img.width * img.height > max_pixels:
        raise RequestError(
            413,
            "too_many_pixels",
            f"image is {img.width}x{img.height} = {img.width * img.height:,} pixels; "
            f"the limit is {max_pixels:,}",
        )
    try:
        return clf.preprocess(img)
    except ImageError as e:
        raise RequestError(400, "bad_image", str(e).removeprefix("<image>: ")) from None
    except Exception as e:  # a truncated or malformed stream deep inside a decoder
        raise RequestError(400, "bad_image", f"cannot decode image ({type(e).__name__})") from None


def multipart_file(body: bytes, boundary: str | None) -> bytes:
    """The first file part (or the field named ``file``/``image``) of a ``multipart/form-data`` body."""
    if not boundary:
        raise RequestError(400, "bad_multipart", "multipart/form-data without a boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1")
    parts = body.split(delimiter)
    if len(parts) < 3:
        raise RequestError(400, "bad_multipart", "multipart body without its boundary lines")
    for part in parts[1:-1]:
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise RequestError(
                400, "bad_multipart", "a multipart part without a blank line after its headers"
            )
        disposition = ""
        for line in head.split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
        _, params = parse_content_type(disposition)
        if "filename" in params or params.get("name") in ("file", "image"):
            return content.removesuffix(b"\r\n")
    raise RequestError(400, "bad_multipart", "no file part in the multipart body (send the image as 'file')")


def json_pixels(body: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """``{"pixels": ...}`` (or a bare nested list) of exactly ``shape``, values 0..255."""
    a = parse_plain_pixels(body, shape)  # the common form, several times faster; None: anything else
    if a is None:
        a = _json_array(body, shape)
    if not np.isfinite(a).all() or a.min(initial=0) < 0 or a.max(initial=0) > 255:
        raise RequestError(400, "bad_pixels", "pixel values must be finite numbers from 0 to 255")
    return a


def _json_array(body: bytes, shape: tuple[int, ...]) -> np.ndarray:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise RequestError(400, "bad_json", "the body is not valid JSON") from None
    data = doc.get("pixels") if isinstance(doc, dict) else doc
    if data is None:
        raise RequestError(400, "bad_json", 'expected {"pixels": [...]} with the preprocessed image')
    try:
        a = np.asarray(data, dtype=np.float32)
    except (ValueError, TypeError):
        raise RequestError(400, "bad_json", "pixels must be a nested list of numbers (not ragged)") from None
    shape_text = "x".join(map(str, shape))
    if a.shape != shape:
        raise RequestError(400, "bad_shape", f"pixels have shape {a.shape}; the model takes {shape_text}")
    return a
