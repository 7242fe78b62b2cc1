"""edgewise.serve imports the standard library, numpy, Pillow and edgewise.runtime only; OpenCV and
picamera2 lazily, each in its own module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import edgewise.serve
from tests.imports import imports

pytestmark = pytest.mark.runtime_only

THIRD_PARTY = {"numpy", "PIL"}
OURS = ("edgewise.runtime", "edgewise.serve")
# optional frame sources, imported inside functions of their own module only
LAZY_ONLY = {"cv2": "frames.py", "picamera2": "picamera.py"}


def test_serve_imports_only_the_runtime_and_the_standard_library():
    offenders = []
    for path in Path(edgewise.serve.__file__).parent.rglob("*.py"):
        for found in imports(path, "edgewise.serve"):
            name, top = found.module, found.top
            if top == "edgewise":
                ok = name == "edgewise" or name.startswith(OURS)
            elif top in LAZY_ONLY:
                ok = path.name == LAZY_ONLY[top] and found.function is not None
            else:
                ok = top in sys.stdlib_module_names or top in THIRD_PARTY
            if not ok:
                offenders.append(f"{path.name}:{found.line} imports {name}")
    assert offenders == []
