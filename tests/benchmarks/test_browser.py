"""The HTML reports in a real headless browser (Debian's chromium): the page renders and the plots decode.

A small script is added to a copy of the report; after the load event it writes onto <body> the natural
size of every plot image that decoded, which ``--dump-dom`` then shows. One test also takes a screenshot
(kept under $EDGEWISE_SCREENSHOT_DIR when that is set, e.g. as a CI artefact).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgewise.benchmarks import report_html, schema
from edgewise.benchmarks.merge import merge

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((p for p in map(shutil.which, CANDIDATES) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")

PROBE = """<script>
window.addEventListener("load", () => {
  const plots = [...document.querySelectorAll("figure.plot img")];
  document.body.setAttribute("data-plots", plots.filter(i => i.complete && i.naturalWidth > 0)
    .map(i => i.naturalWidth + "x" + i.naturalHeight).join(",") || "none");
  document.body.setAttribute("data-plot-count", plots.length);
  document.body.setAttribute("data-tables", document.querySelectorAll("table").length);
  document.body.setAttribute("data-width", document.documentElement.scrollWidth);
});
</script>"""
MATPLOTLIB_BLUE = (0x1F, 0x77, 0xB4)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _rendered_body(tmp_path: Path, html: str) -> dict[str, str]:
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"))
    dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))


@pytest.mark.slow
def test_single_run_report_renders_with_its_plots(measured_dir, tmp_path):
    html = (measured_dir / "bench.html").read_text()
    body = _rendered_body(tmp_path, html)
    assert body["plot-count"] == "3"
    sizes = [tuple(map(int, s.split("x"))) for s in body["plots"].split(",")]
    assert len(sizes) == 3 and all(w == 800 and h >= 240 for w, h in sizes)  # 8 in x 100 dpi figures
    assert body["tables"] == "3"  # machine, results, parity

    shot = tmp_path / "bench.png"
    _chromium(
        tmp_path, "--window-size=1280,2600", f"--screenshot={shot}", (measured_dir / "bench.html").as_uri()
    )
    keep = os.environ.get("EDGEWISE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "bench-report.png")
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (2600, 1280, 3)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, tables and plots, not a blank page
    blue = np.all(np.abs(pixels.astype(int) - MATPLOTLIB_BLUE) <= 8, axis=-1)
    assert blue.sum() > 2000  # the latency bars are on screen
    rows_with_blue = np.flatnonzero(blue.any(axis=1))
    assert rows_with_blue.min() > 600  # below the header, machine facts and results table


def test_merged_two_device_report_renders(fake_run, tmp_path):
    pc = fake_run("pc", {"model_fp32.tflite": 2.0, "model_int8.tflite": 0.8})
    pi = fake_run("raspberrypi", {"model_fp32.tflite": 12.0, "model_int8.tflite": 5.0})
    for run in (pc, pi):
        schema.save(run, tmp_path / f"{run.label}.json")
    merged = merge([schema.load_run(tmp_path / "pc.json"), schema.load_run(tmp_path / "raspberrypi.json")])
    html = report_html.render(merged)
    body = _rendered_body(tmp_path, html)
    assert body["plot-count"] == "1" and body["plots"].startswith("800x")
    assert body["tables"] == "3"  # devices, latency, accuracy
    assert "<th>raspberrypi p50</th>" in html and "<th>vs pc</th>" in html
