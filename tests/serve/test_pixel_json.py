"""The fast path for ``{"pixels": ...}`` reads exactly what ``json.loads`` reads, and hands anything else
back (None) to the ``json.loads`` path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgewise.serve.inputs import RequestError, json_pixels
from edgewise.serve.pixel_json import parse_plain_pixels, skeleton

pytestmark = pytest.mark.runtime_only


def test_skeleton_of_a_shape():
    assert skeleton((2, 1)) == b"[[],[]]"
    assert skeleton((1, 2, 3)) == b"[[[,,],[,,]]]"


@pytest.mark.parametrize("indent", [None, 1])
def test_plain_bodies_read_as_json_loads_reads_them(indent):
    pixels = np.random.default_rng(0).integers(0, 256, (4, 5, 3)).astype(np.uint8)
    pixels[0, 0], pixels[0, 1] = [0, 10, 255], [100, 7, 0]
    body = json.dumps({"pixels": pixels.tolist()}, indent=indent).encode()
    fast = parse_plain_pixels(body, (4, 5, 3))
    assert fast is not None and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, np.asarray(json.loads(body)["pixels"], np.float32))


@pytest.mark.parametrize(
    "array",
    [
        "[[1,2],[3]]",  # ragged
        "[[1,2],[3,4],[5,6]]",  # another shape
        "[[1,2],[3,.4]]",
        "[[1,2],[3,4.]]",
        "[[1,2],[3,0.5]]",  # fractions: valid, left to the JSON path
        "[[1,2],[3,04]]",
        "[[1,2],[3,1.2.3]]",
        "[[1,2],[3,1 2]]",
        "[[1 2,3],[4,]]",  # as many numbers as slots, but two in one slot
        "[[1,2],[3,]]",
        "[[1,2],[3,1000]]",
        "[[1,2],[3,-4]]",  # left to the JSON path (and its range check)
        "[[1,2],[3,4e1]]",
        "[[1,2],[3,[4]]]",
    ],
)
def test_anything_not_plain_goes_to_the_json_path(array):
    assert parse_plain_pixels(b'{"pixels": ' + array.encode() + b"}", (2, 2)) is None


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"pixels": [[1,2],[3]]}', "bad_json"),
        (b'{"pixels": [[1,2],[3,4],[5,6]]}', "bad_shape"),
        (b'{"pixels": [[1,2],[3,04]]}', "bad_json"),
        (b'{"pixels": [[1,2],[3,256]]}', "bad_pixels"),
        (b'{"pixels": [[1,2],[3,-4]]}', "bad_pixels"),
    ],
)
def test_errors_are_those_of_the_json_path(body, kind):
    with pytest.raises(RequestError) as e:
        json_pixels(body, (2, 2))
    assert e.value.kind == kind and e.value.status == 400


def test_bodies_the_fast_path_declines_still_work():
    extra_key = b'{"pixels": [[1,2],[3,4]], "note": "x"}'
    assert parse_plain_pixels(extra_key, (2, 2)) is None
    np.testing.assert_array_equal(json_pixels(extra_key, (2, 2)), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(json_pixels(b"[[1,2],[3,4e1]]", (2, 2)), [[1, 2], [3, 40]])
    np.testing.assert_array_equal(json_pixels(b'{"pixels": [[1,2],[3,0.5]]}', (2, 2)), [[1, 2], [3, 0.5]])
