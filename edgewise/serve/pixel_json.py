"""A fast path for ``{"pixels": [[[...]]]}`` bodies: numpy parses the numbers, no Python list per row.

``json.loads`` builds one Python object per number (27,648 of them for a 96x96x3 image) and ``np.asarray``
walks them again: several times the cost of decoding the same image as a PNG, which made JSON requests
the slowest by far under load (docs/serve.md). This path takes only the plain form — the one key, the
array, and nothing in it but brackets, commas, whitespace and unsigned decimal numbers — and proves it
equal to what ``json.loads`` would read: the brackets and commas must be exactly those of an array of the
model's shape, and every number must be a valid JSON number. Anything else (another key, an exponent, a
minus sign, a wrong shape, a malformed number) returns None, and the caller's ``json.loads`` path answers
it, with its precise error where there is one.
"""

from __future__ import annotations

import functools
import re

import numpy as np

_PLAIN = re.compile(rb'\s*\{\s*"pixels"\s*:\s*(\[[0-9.,\[\]\s]*\])\s*\}\s*')
# a dot with no digit before or after it, or a number with a leading zero: valid for numpy, not for JSON
_NOT_JSON_NUMBER = re.compile(rb"(?<![0-9])\.|\.(?![0-9])|(?<![0-9.])0[0-9]")
_SKELETON = bytes.maketrans(b"", b"").translate(None, b"[],")  # every byte but the structural ones
_BRACKETS_TO_SPACES = bytes.maketrans(b"[]", b"  ")


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
    if array.translate(None, _SKELETON) != skeleton(shape) or _NOT_JSON_NUMBER.search(array):
        return None
    try:
        values = np.array(array.translate(_BRACKETS_TO_SPACES).split(b","), dtype=np.float32)
    except ValueError:  # an empty slot, "1 2", "1.2.3": json.loads says what is wrong
        return None
    return values.reshape(shape)
