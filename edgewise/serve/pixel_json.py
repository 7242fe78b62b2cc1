"""A fast path for ``{"pixels": [[[...]]]}`` bodies of whole numbers: numpy reads the digits, no Python
object per number.

``json.loads`` builds one Python object per number (27,648 of them for a 96x96x3 image) and ``np.asarray``
walks them again: several times the cost of decoding the same image as a PNG, which made JSON requests
the slowest by far under load (docs/serve.md). This path takes only the plain form — the one key, the
array, and nothing in it but brackets, commas, whitespace and whole numbers of up to 3 digits (what
``image.tolist()`` of ``uint8`` pixels gives) — and proves it equal to what ``json.loads`` would read: the
brackets and commas must be exactly those of an array of the model's shape, each slot between them must
hold exactly one number, and no number may have a leading zero. Anything else (another key, a fraction,
an exponent, a minus sign, a wrong shape, a malformed number) returns None, and the caller's
``json.loads`` path answers it, with its precise error where there is one.
"""

from __future__ import annotations

import functools
import re

import numpy as np

_PLAIN = re.compile(rb'\s*\{\s*"pixels"\s*:\s*(\[[0-9,\[\]\s]*\])\s*\}\s*')
_SKELETON = bytes(range(256)).translate(None, b"[],")  # every byte but the structural ones
_WHITESPACE = b" \t\r\n"
_EMPTY_SLOTS = (b",,", b"[,", b",]", b"[]")
_ZERO = ord("0")


@functools.lru_cache(maxsize=8)
def skeleton(shape: tuple[int, ...]) -> bytes:
    """The brackets and commas of a JSON array of ``shape``: (2, 1) -> ``[[],[]]``."""
    if not shape:
        return b""
    inner = skeleton(shape[1:])
    return b"[" + b",".join([inner] * shape[0]) + b"]"


def parse_plain_pixels(body: bytes, shape: tuple[int, ...]) -> np.ndarray | None:
    """``float32[shape]`` from a plain ``{"pixels": ...}`` body, or None when the body is not that plain."""
    match = _PLAIN.fullmatch(body)
    if match is None or 0 in shape:
        return None
    array = match[1]
    if array.translate(None, _SKELETON) != skeleton(shape):
        return None
    compact = array.translate(None, _WHITESPACE)
    if any(empty in compact for empty in _EMPTY_SLOTS):
        return None
    # as many digit runs as slots, and no slot empty: exactly one number in each ("1 2" leaves one empty)
    codes = np.frombuffer(array, np.uint8)  # starts with "[" and ends with "]": runs are interior
    digit = (codes >= _ZERO) & (codes <= _ZERO + 9)
    starts = np.flatnonzero(digit[1:] & ~digit[:-1]) + 1
    ends = np.flatnonzero(digit[:-1] & ~digit[1:]) + 1
    lengths = ends - starts
    if len(starts) != int(np.prod(shape)) or lengths.max() > 3:
        return None  # a number over 999 is out of range anyway: the JSON path says so
    if ((codes[starts] == _ZERO) & (lengths > 1)).any():
        return None  # "07" is not a JSON number
    values = np.zeros(len(starts), np.float32)
    for k in range(3):
        longer = lengths > k
        values[longer] = values[longer] * 10 + (codes[starts[longer] + k] - _ZERO)
    return values.reshape(shape)
