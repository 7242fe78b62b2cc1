"""The export package must not pull in TensorFlow until a conversion runs (``edgewise --help`` stays fast)."""

import subprocess
import sys


def test_importing_the_cli_and_api_loads_no_framework():
    code = (
        "import sys, edgewise.cli, edgewise.export, edgewise.export.cli; "
        "edgewise.cli.build_parser(); "
        "heavy = ('tensorflow', 'keras', 'tf2onnx', 'onnx', 'onnxruntime'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
