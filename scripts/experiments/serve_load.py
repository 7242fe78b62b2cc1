"""Load benchmark of ``edgewise serve`` over loopback with wrk (Debian: ``apt install wrk``), issue 14.

For one model it starts ``edgewise serve`` on 127.0.0.1 (a free port), and for batching off
(``--max-batch 1``) and on (``--max-batch N --max-wait-ms MS``) runs, each for a fixed time:

- ``clean``: well-formed uploads only (PNG, JPEG, multipart, JSON pixels), ``--connections`` clients;
- ``mixed``: the same with malformed uploads mixed in, half of the requests (junk bytes, a truncated PNG,
  a text/plain body, a body over ``--max-body``, an image over ``--max-pixels``);
- ``single``: one client with well-formed uploads (what batching costs a lone client).

It reports requests/s, p50/p99 latency (wrk's), status codes, socket errors and the server's RSS before and
after each run, reads the server's own ``/metrics`` error counts, and checks the targets: 0 errors on
well-formed requests, p99 <= 5x p50, RSS growth < 5 MB over the clean + mixed runs, every malformed
request a 4xx (never a 5xx), and the batching on/off requests/s ratio. Everything stays on 127.0.0.1.

    python -m scripts.experiments.serve_load runs/fm/model_int8.tflite --duration 40 --json fm.json

Exit status: 0 when the measurement ran (targets are reported, not enforced), 2 on bad input.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

HOST = "127.0.0.1"
LISTENING = re.compile(r"on http://127\.0\.0\.1:(\d+)")

WRK_SCRIPT = r"""
local requests, threads = {}, {}
statuses = {}  -- a global: done() reads each thread's copy with thread:get
function setup(thread) table.insert(threads, thread) end
function init(args)
  for line in io.lines(args[1]) do
    local ctype, file = line:match("^([^\t]*)\t(.*)$")
    local f = assert(io.open(file, "rb")); local data = f:read("*a"); f:close()
    local headers = {}
    if ctype ~= "" then headers["Content-Type"] = ctype end
    table.insert(requests, wrk.format("POST", "/predict", headers, data))
  end
  n = 0
end
function request() n = n + 1; return requests[(n - 1) % #requests + 1] end
function response(status) statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do all[code] = (all[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(all) do table.insert(parts, string.format('"%s": %d', code, count)) end
  local e = summary.errors
  io.write(string.format('EDGEWISE {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "socket_errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d}, "non_2xx": %d, "statuses": {%s}}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.timeout, e.status, table.concat(parts, ", ")))
end
"""


UPLOAD_KINDS = ("png", "jpeg", "multipart", "json")


def make_uploads(
    workdir: Path, image: np.ndarray, *, max_body: int, mixed: bool, kinds: tuple[str, ...] = UPLOAD_KINDS
) -> Path:
    """Request bodies for wrk and the manifest that lists them (content type, file) in cycle order;
    ``kinds``: the well-formed uploads to use (a JSON-pixels request costs several times a PNG one)."""
    png, jpeg = _encode(image, "PNG"), _encode(image, "JPEG")
    boundary = "edgewise-bench-boundary"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    good = [
        ("image/png", "good.png", png),
        ("image/jpeg", "good.jpg", jpeg),
        (f"multipart/form-data; boundary={boundary}", "good.multipart", multipart),
        ("application/json", "good.json", json.dumps({"pixels": image.tolist()}).encode()),
    ]
    good = [row for row, kind in zip(good, UPLOAD_KINDS, strict=True) if kind in kinds]
    bad = [
        ("image/png", "junk.bin", np.random.default_rng(0).integers(0, 256, 2048, np.uint8).tobytes()),
        ("image/png", "truncated.png", png[: len(png) // 2]),
        ("text/plain", "text.txt", b"this is not an image"),
        ("image/png", "oversized.bin", b"\0" * (max_body + 1024)),
        ("image/png", "bomb.png", _encode(Image.new("1", (10_000, 10_000)), "PNG")),
    ]
    # mixed: good and bad alternate (half malformed), so that every stretch of the run holds both
    rows = [row for i, b in enumerate(bad) for row in (good[i % len(good)], b)] if mixed else good
    manifest = workdir / ("mixed.tsv" if mixed else "clean.tsv")
    lines = []
    for ctype, name, data in rows:
        (workdir / name).write_bytes(data)
        lines.append(f"{ctype}\t{workdir / name}")
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _encode(image, fmt: str) -> bytes:
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]  # grayscale
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    img.save(buf, fmt, optimize=fmt == "PNG")
    return buf.getvalue()


class Server:
    """``edgewise serve`` in a child process, on a free port of 127.0.0.1."""

    def __init__(self, python: str, model: Path, extra: list[str]):
        cmd = [python, "-m", "edgewise", "serve", str(model), "--host", HOST, "--port", "0", *extra]
        self.cmd = cmd
        self.log = tempfile.TemporaryFile("w+")  # its stderr; a pipe nobody reads would block it when full
        self.proc = subprocess.Popen(cmd, stderr=self.log, stdout=subprocess.DEVNULL, text=True)
        self.port = None
        deadline = time.monotonic() + 120
        while self.port is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.1)
            self.log.seek(0)
            if match := LISTENING.search(self.log.read()):
                self.port = int(match[1])
        if self.port is None:
            self.proc.kill()
            raise RuntimeError(f"edgewise serve did not start within 120 s: {' '.join(cmd)}")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text)[1]) / 1024

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.log.seek(0)
        self.stderr = self.log.read()
        self.log.close()
        return rc


def wrk(url: str, script: Path, manifest: Path, *, connections: int, threads: int, seconds: float) -> dict:
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        str(manifest),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("EDGEWISE ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    result = json.loads(line.removeprefix("EDGEWISE "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["socket_error_count"] = sum(result["socket_errors"].values())
    return result


def run_modes(args, modes: dict[str, list[str]], manifests: dict[str, Path], script: Path) -> list[dict]:
    """All servers up at once; each kind of run alternates between them for ``--rounds`` slices, so that a
    change in the machine's load between slices hits every mode alike (the on/off ratio stays fair)."""
    servers = {}
    try:
        for name, extra in modes.items():
            servers[name] = Server(args.python, args.model, ["--max-body", str(args.max_body), *extra])
        rss_start = {}
        for name, server in servers.items():
            for manifest in manifests.values():  # warm-up: threads, allocator arenas, every decoder once
                wrk(server.url, script, manifest, connections=args.connections, threads=2, seconds=2)
            rss_start[name] = server.rss_mb()
        runs: dict[str, dict] = {name: {} for name in servers}
        for kind, seconds, connections in (
            ("clean", args.duration, args.connections),
            ("mixed", args.duration, args.connections),
            ("single", args.single_duration, 1),
        ):
            if seconds <= 0:
                continue
            manifest = manifests["mixed" if kind == "mixed" else "clean"]
            slices: dict[str, list[dict]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, server in servers.items():
                    slices[name].append(
                        wrk(
                            server.url,
                            script,
                            manifest,
                            connections=connections,
                            threads=args.wrk_threads,
                            seconds=seconds / args.rounds,
                        )
                    )
            for name, server in servers.items():
                result = merge_slices(slices[name])
                result["rss_mb"] = server.rss_mb()
                runs[name][kind] = result
                print(f"  {name:<4} {kind:<7} {_summary(result)}", file=sys.stderr, flush=True)
        metrics = {name: server.metrics() for name, server in servers.items()}
    finally:
        exit_codes = {name: server.stop() for name, server in servers.items()}
    return [
        {
            "mode": name,
            "server": " ".join(server.cmd[1:]),
            "rss_start_mb": rss_start[name],
            "runs": runs[name],
            "errors_by_kind": {
                m[1]: int(v)
                for k, v in metrics[name].items()
                if (m := re.match(r'edgewise_errors_total\{kind="(\w+)"\}', k))
            },
            "batches": {
                "count": metrics[name].get("edgewise_batch_size_count"),
                "mean": metrics[name].get("edgewise_batch_size_sum", 0)
                / max(1, metrics[name].get("edgewise_batch_size_count", 0)),
            },
            "exit_code_after_sigterm": exit_codes[name],
            "server_stderr_lines": len(server.stderr.splitlines()),
        }
        for name, server in servers.items()
    ]


def merge_slices(slices: list[dict]) -> dict:
    """One figure per mode from its slices: counts summed; p50 the median of the slices' p50, p99 the
    worst slice's (wrk's histograms cannot be merged from its summary)."""
    statuses: dict[str, int] = {}
    for r in slices:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    requests = sum(r["requests"] for r in slices)
    seconds = sum(r["duration_us"] for r in slices) / 1e6
    return {
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds,
        "p50_us": statistics.median(r["p50_us"] for r in slices),
        "p99_us": max(r["p99_us"] for r in slices),
        "max_us": max(r["max_us"] for r in slices),
        "statuses": statuses,
        "socket_error_count": sum(r["socket_error_count"] for r in slices),
        "slices_rps": [round(r["rps"], 1) for r in slices],
        "slices_p50_us": [r["p50_us"] for r in slices],
        "slices_p99_us": [r["p99_us"] for r in slices],  # one slow slice (the machine's) sets "p99_us"
    }


def _summary(r: dict) -> str:
    slices_p99 = "/".join(f"{us / 1000:.0f}" for us in r.get("slices_p99_us", []))
    return (
        f"{r['requests']:>7} req  {r['rps']:>8.1f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
        f"p99 {r['p99_us'] / 1000:6.2f} ms (slices {slices_p99})  statuses {r['statuses']}  "
        f"socket errors {r['socket_error_count']}  RSS {r['rss_mb']:.1f} MB"
    )


def targets(modes: list[dict]) -> dict:
    out = {}
    by = {m["mode"]: m for m in modes}
    for m in modes:
        clean, mixed = m["runs"].get("clean"), m["runs"].get("mixed")
        if clean:
            only_200 = set(clean["statuses"]) == {"200"}
            out[f"{m['mode']}: 0 errors on well-formed requests"] = (
                clean["socket_error_count"] == 0 and only_200
            )
            out[f"{m['mode']}: p99 <= 5x p50"] = clean["p99_us"] <= 5 * clean["p50_us"]
            growth = max(r["rss_mb"] for r in m["runs"].values()) - m["rss_start_mb"]
            total = sum(r["requests"] for r in m["runs"].values())
            out[f"{m['mode']}: RSS growth {growth:.2f} MB < 5 MB over {total:,} requests"] = growth < 5
        if mixed:
            codes = {int(c): n for c, n in mixed["statuses"].items()}
            bad = sum(n for c, n in codes.items() if 400 <= c < 500)
            out[f"{m['mode']}: malformed answered 4xx ({bad:,} of {mixed['requests']:,}), no 5xx"] = (
                not any(c >= 500 for c in codes) and mixed["socket_error_count"] == 0 and bad > 0
            )
    if "off" in by and "on" in by and "clean" in by["off"]["runs"] and "clean" in by["on"]["runs"]:
        ratio = by["on"]["runs"]["clean"]["rps"] / by["off"]["runs"]["clean"]["rps"]
        out[f"batching on/off req/s = {ratio:.2f}x (target >= 1.5x on MobileNetV2)"] = ratio >= 1.5
    return out


STARTUP_PROBE = """
import sys, time
t0 = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)
ms = (time.perf_counter() - t0) * 1000
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
print(f"{ms:.2f} {rss:.2f}")
"""


ENGINE_PROBE = """
import json, sys, time
import numpy as np
from edgewise.runtime import Classifier
clf = Classifier(sys.argv[1])
n = int(sys.argv[2])
x = np.random.default_rng(0).integers(0, 256, (n, *clf.input_shape), np.uint8)
def best(batch):
    clf.backend.run(batch)  # allocate for this batch size first
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(5):
            clf.backend.run(batch)
        times.append((time.perf_counter() - t0) / 5)
    return min(times) / len(batch) * 1000
print(json.dumps({"ms_per_image_batch_1": best(x[:1]), f"ms_per_image_batch_{n}": best(x)}))
"""


def engine_batch_gain(python: str, model: Path, max_batch: int) -> dict:
    """The engine alone, no HTTP: ms per image at batch 1 and at ``max_batch`` (the best of 7 x 5 calls).
    Batching can only gain what the engine gains per image at the larger batch."""
    out = subprocess.run(
        [python, "-c", ENGINE_PROBE, str(model), str(max_batch)], capture_output=True, text=True, check=True
    )
    figures = json.loads(out.stdout)
    figures["gain"] = figures["ms_per_image_batch_1"] / figures[f"ms_per_image_batch_{max_batch}"]
    return figures


def measure_startup(python: str, model: Path, runs: int, body: bytes) -> dict:
    """Median start-up of ``edgewise serve`` (to listening, to the first answer) and its RSS, plus what the
    standard library's HTTP modules alone cost an interpreter (import time, RSS over a bare one)."""

    def probe(*modules: str) -> tuple[float, float]:
        out = subprocess.run(
            [python, "-c", STARTUP_PROBE, *modules], capture_output=True, text=True, check=True
        )
        ms, rss = out.stdout.split()
        return float(ms), float(rss)

    listen, first, rss_idle, rss_served = [], [], [], []
    bare, http = [], []
    for _ in range(runs):
        bare.append(probe())
        http.append(probe("http.server", "socketserver", "urllib.parse"))
        t0 = time.perf_counter()
        server = Server(python, model, [])
        listen.append(time.perf_counter() - t0)
        rss_idle.append(server.rss_mb())
        request = urllib.request.Request(server.url + "/predict", body, {"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=30) as r:
            r.read()
        first.append(time.perf_counter() - t0)
        rss_served.append(server.rss_mb())
        server.stop()
    median = statistics.median
    return {
        "runs": runs,
        "listening_s": median(listen),
        "first_answer_s": median(first),
        "rss_listening_mb": median(rss_idle),
        "rss_after_first_answer_mb": median(rss_served),
        "http_modules_import_ms": median(h[0] for h in http),
        "http_modules_rss_mb": median(h[1] - b[1] for h, b in zip(http, bare, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path, help="bundle directory or model file")
    p.add_argument("--python", default=sys.executable, help="the Python that runs edgewise serve")
    p.add_argument("--duration", type=float, default=30, help="seconds per clean and mixed run")
    p.add_argument(
        "--single-duration", type=float, default=10, help="seconds of the one-client run (0: skip)"
    )
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--max-wait-ms", type=float, default=2)
    p.add_argument("--max-body", type=int, default=256 * 1024)
    p.add_argument("--modes", default="off,on", help="off, on, or both")
    p.add_argument(
        "--uploads",
        type=_kinds,
        default=UPLOAD_KINDS,
        help=f"well-formed upload kinds, comma-separated (default {','.join(UPLOAD_KINDS)})",
    )
    p.add_argument("--rounds", type=int, default=4, help="slices per run, alternating between the modes")
    p.add_argument("--json", type=Path, help="write all figures here")
    p.add_argument(
        "--startup",
        type=int,
        metavar="N",
        help="only measure start-up time and RSS (median of N starts; no wrk needed)",
    )
    args = p.parse_args(argv)
    if args.startup:
        figures = measure_startup(
            args.python, args.model, args.startup, _encode(_sample_image(args.model), "PNG")
        )
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    if shutil.which("wrk") is None:
        print("serve_load: error: wrk is not installed (Debian: apt install wrk)", file=sys.stderr)
        return 2
    if not args.model.exists():
        print(f"serve_load: error: {args.model}: no such file or directory", file=sys.stderr)
        return 2
    image = _sample_image(args.model)
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-serve-") as tmp:
        work = Path(tmp)
        script = work / "upload.lua"
        script.write_text(WRK_SCRIPT)
        manifests = {
            kind: make_uploads(work, image, max_body=args.max_body, mixed=kind == "mixed", kinds=args.uploads)
            for kind in ("clean", "mixed")
        }
        load_before = os.getloadavg()
        modes = {
            mode: ["--max-batch", "1"]
            if mode == "off"
            else ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms)]
            for mode in args.modes.split(",")
        }
        engine = engine_batch_gain(args.python, args.model, args.max_batch)
        print(f"  engine alone: {json.dumps(engine)}", file=sys.stderr, flush=True)
        measured = run_modes(args, modes, manifests, script)
    result = {
        "model": str(args.model),
        "connections": args.connections,
        "duration_s": args.duration,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rounds": args.rounds,
        "uploads": list(args.uploads),
        "engine_alone": engine,
        "modes": measured,
        "targets": targets(measured),
    }
    for name, ok in result["targets"].items():
        print(f"{'PASS' if ok else 'MISS'}  {name}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(UPLOAD_KINDS))
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"upload kinds are {', '.join(UPLOAD_KINDS)}; got {text!r}")
    return kinds


def _sample_image(model: Path) -> np.ndarray:
    """A held-out image of the bundle (parity.npz), at the model's input size."""
    from edgewise.runtime.parity import PARITY_FILE, load_parity

    bundle = model if model.is_dir() else model.parent
    return load_parity(bundle / PARITY_FILE).images[0]


if __name__ == "__main__":
    sys.exit(main())
