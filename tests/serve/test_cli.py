"""``edgewise serve`` as a process: start-up line, SIGTERM drains in-flight requests, bad options exit 2."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from edgewise.cli import build_parser, main
from edgewise.runtime import picks
from edgewise.runtime.card import CARD_FILE, ModelCard
from edgewise.runtime.device import this_device_key

pytestmark = pytest.mark.runtime_only


def _start(args: list[str]) -> tuple[subprocess.Popen, int, list[str]]:
    """The server process, its port and the stderr lines up to the listening line.

    Reads line by line and never to the end of stderr while the server runs (that read waits for a
    process that does not exit); a watchdog kills a server that stays silent, so the test fails, not hangs.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgewise", "serve", *args, "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    lines = []
    try:
        while line := proc.stderr.readline():
            lines.append(line)
            if match := re.search(r"on http://127\.0\.0\.1:(\d+)", line):
                return proc, int(match[1]), lines
    finally:
        watchdog.cancel()
    proc.kill()
    raise AssertionError("edgewise serve did not start:\n" + "".join(lines) + proc.stderr.read())


def test_sigterm_finishes_the_request_in_flight(tiny_bundle, samples):
    # a 2 s read timeout lets the test hold a request open: headers now, the body later
    proc, port, _ = _start([str(tiny_bundle), "--timeout", "5"])
    png = samples[0][0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Type", "image/png")
    conn.putheader("Content-Length", str(len(png)))
    conn.endheaders()
    conn.send(png[:10])
    time.sleep(0.5)  # the server is now inside the request, reading the body
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    conn.send(png[10:])
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["predictions"][0]["label"] == samples[0][1]
    assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    assert "stopped (1 in-flight requests finished)" in err and "Traceback" not in err
    with pytest.raises(OSError):  # nothing listens any more
        http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/health")


def test_serves_the_artifact_bench_pick_chose_for_this_device(tiny_bundle, tmp_path):
    """A bundle directory runs what `edgewise bench --pick` recorded for this device, as predict does,
    and says which file and why at start-up and in /info; naming a file overrides the choice."""
    assert build_parser().parse_args(["serve", str(tiny_bundle)]).host == "127.0.0.1"
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    card = ModelCard.load(bundle / CARD_FILE)
    chosen = "model_int8.onnx"
    picks.record(
        bundle, this_device_key(), {"artifact": chosen, "threads": 1, "sha256": card.artifacts[chosen].sha256}
    )
    for target, artifact, reason in (
        (bundle, chosen, "picked for this device"),
        (bundle / "model_fp32.onnx", "model_fp32.onnx", "named on the command line"),
    ):
        proc, port, lines = _start([str(target), "--max-batch", "4"])
        try:
            assert f"using {artifact}" in lines[0] and reason in lines[0], lines
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/info")
            info = json.loads(conn.getresponse().read())
            assert info["artifact"] == artifact and reason in info["choice"]
            assert info["batching"]["max_batch"] == 4 and str(tmp_path) not in json.dumps(info)
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
            proc.stderr.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "no/such/bundle"], "no such file or directory"),
        (["serve", "BUNDLE", "--port", "PORT"], "cannot listen on 127.0.0.1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_bundle, capsys, argv, message):
    taken = None
    if "PORT" in argv:
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        argv = [a.replace("PORT", str(taken.getsockname()[1])) for a in argv]
    argv = [a.replace("BUNDLE", str(tiny_bundle)) for a in argv]
    try:
        assert main(argv) == 2
    finally:
        if taken:
            taken.close()
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("option", [["--max-body", "lots"], ["--port", "70000"], ["--max-wait-ms", "-1"]])
def test_bad_options_exit_2(tiny_bundle, option, capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", str(tiny_bundle), *option])
    assert e.value.code == 2


def test_help_lists_the_options():
    text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    for option in (
        "--host",
        "--port",
        "--max-batch",
        "--max-wait-ms",
        "--max-body",
        "--max-pixels",
        "--timeout",
    ):
        assert option in text
    assert "--video" in build_parser()._subparsers._group_actions[0].choices["predict"].format_help()


def test_serving_imports_no_forbidden_module(tiny_bundle):
    code = """
import sys
import edgewise.cli, edgewise.serve.cli
edgewise.cli.build_parser()
import edgewise.serve.server, edgewise.serve.inputs, edgewise.serve.batcher
loaded = {m.split(".")[0] for m in sys.modules}
print(sorted(loaded & {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert", "cv2"}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_many_concurrent_clients_then_drain(tiny_bundle, samples):
    proc, port, _ = _start([str(tiny_bundle / "model_int8.onnx"), "--max-batch", "8"])
    statuses = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for png, _, _ in samples * 5:
            conn.request("POST", "/predict", png, {"Content-Type": "image/png"})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(3):  # clients that reset idle keep-alive connections, as wrk does when it stops
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    proc.stderr.close()
    assert statuses == [200] * 120
    assert "Traceback" not in err and "reset" not in err
