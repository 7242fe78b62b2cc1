"""edgewise.serve imports the standard library, numpy, Pillow and edgewise.runtime only; OpenCV and
picamera2 lazily, each in its own module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import edgewise.serve

pytestmark = pytest.mark.runtime_only

THIRD_PARTY = {"numpy", "PIL"}
OURS = ("edgewise.runtime", "edgewise.serve")
# optional frame sources, imported inside functions of their own module only
LAZY_ONLY = {"cv2": "frames.py", "picamera2": "picamera.py"}


def test_serve_imports_only_the_runtime_and_the_standard_library():
    offenders = []
    for path in Path(edgewise.serve.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        module_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "edgewise":
                    ok = name == "edgewise" or name.startswith(OURS)
                elif top in LAZY_ONLY:
                    ok = path.name == LAZY_ONLY[top] and id(node) not in module_level
                else:
                    ok = top in sys.stdlib_module_names or top in THIRD_PARTY
                if not ok:
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert offenders == []
