"""Check a model file before an inference engine sees it.

Engines are C++ behind a thin Python layer: a malformed file can abort or crash the process instead of
raising. So every file is checked here first (exists, sane size, the right container for its suffix) and
refused with a one-line :class:`ModelFileError` naming it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from edgewise.runtime import onnx_proto
from edgewise.runtime.errors import ModelFileError

SUFFIX_FORMAT = {".tflite": "tflite", ".lite": "tflite", ".onnx": "onnx"}
MIN_BYTES = 32  # the smallest real TFLite or ONNX model is kilobytes; anything this small is damaged
TFLITE_IDENTIFIER = b"TFL3"
FLATBUFFER_LIMIT = 2**31  # flatbuffers address 2 GiB; larger TFLite files keep weights after this region


def model_format(path: str | os.PathLike) -> str:
    """``"tflite"`` or ``"onnx"`` from the file suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMAT:
        raise ModelFileError(
            f"{path}: unsupported model file type {suffix or '(no suffix)'!r}; expected .tflite or .onnx"
        )
    return SUFFIX_FORMAT[suffix]


def check_model_file(path: str | os.PathLike) -> str:
    """Validate ``path`` and return its format; raise :class:`ModelFileError` naming the file otherwise."""
    fmt = model_format(path)
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{path}: no such file")
    if not p.is_file():
        raise ModelFileError(f"{path}: not a regular file")
    size = p.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: empty file (0 bytes)")
    if size < MIN_BYTES:
        raise ModelFileError(f"{path}: only {size} bytes, too small to be a {fmt} model (truncated?)")
    try:
        if fmt == "tflite":
            _check_tflite(p, size)
        else:
            _check_onnx(p)
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied") from None
    return fmt


def _check_tflite(path: Path, size: int) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
        if head[4:8] != TFLITE_IDENTIFIER:
            hint = " (it looks like an ONNX file)" if head[:1] == b"\x08" else ""
            raise ModelFileError(f"{path}: not a TFLite model (no 'TFL3' FlatBuffer identifier){hint}")
        (root,) = struct.unpack("<I", head[:4])
        if not 8 <= root < min(size, FLATBUFFER_LIMIT) - 4:
            raise ModelFileError(f"{path}: corrupt TFLite model (root table offset {root} outside the file)")
        f.seek(root)
        (vtable_delta,) = struct.unpack("<i", f.read(4))
        vtable = root - vtable_delta
        if not 0 <= vtable < size - 4:
            raise ModelFileError(f"{path}: corrupt TFLite model (vtable offset {vtable} outside the file)")
        f.seek(vtable)
        vtable_size, table_size = struct.unpack("<HH", f.read(4))
        if vtable_size < 4 or vtable_size % 2 or vtable + vtable_size > size or root + table_size > size:
            raise ModelFileError(f"{path}: corrupt or truncated TFLite model (bad root table)")


def _check_onnx(path: Path) -> None:
    try:
        onnx_proto.summarize(path)
    except onnx_proto.WireError as e:
        raise ModelFileError(f"{path}: corrupt or truncated ONNX model ({e})") from None
