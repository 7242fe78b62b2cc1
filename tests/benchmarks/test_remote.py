"""``edgewise bench --remote`` against a real OpenSSH server on 127.0.0.1, started by the test.

The server has its own host key (pinned in a known_hosts file, so host-key checking stays on) and accepts
one key made for the test; the "remote" Python is this venv's, so edgewise is found there.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgewise.benchmarks import schema
from edgewise.benchmarks.harness import Settings
from edgewise.benchmarks.remote import Remote, RemoteError, run_remote
from edgewise.benchmarks.targets import discover
from edgewise.cli import main
from edgewise.runtime.errors import InputError

SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd",) if os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(
    SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
    reason="needs OpenSSH (apt-get install openssh-server openssh-client)",
)
FAST = ["--runs", "5", "--rounds", "1", "--warmup", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sftp_server() -> str | None:
    for path in (
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/openssh/sftp-server",
        "/usr/libexec/sftp-server",
    ):
        if os.path.exists(path):
            return path
    return None


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """Two loopback sshd servers (two "devices"); yields the ssh config file that reaches them as Hosts
    ``edgewise-test`` and ``edgewise-test-2`` (and ``edgewise-closed``, a port nobody listens on)."""
    d = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    servers, config, known = [], "", ""
    try:
        for name in ("edgewise-test", "edgewise-test-2"):
            server, port, host_key = _start_sshd(d / name, d / "authorized_keys")
            servers.append(server)
            known += f"[127.0.0.1]:{port} {host_key}\n"
            config += (
                f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User {getpass.getuser()}\n"
                f"  IdentityFile {d / 'client_key'}\n  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {d / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
                "  StrictHostKeyChecking yes\n"
            )
        (d / "known_hosts").write_text(known)
        (d / "ssh_config").write_text(
            config + f"Host edgewise-closed\n  HostName 127.0.0.1\n  Port {_free_port()}\n"
            f"  User {getpass.getuser()}\n  IdentityFile {d / 'client_key'}\n"
            f"  UserKnownHostsFile {d / 'known_hosts'}\n"
        )
        yield d / "ssh_config"
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


def _start_sshd(d: Path, authorized_keys: Path) -> tuple[subprocess.Popen, int, str]:
    """One sshd on a free loopback port with its own host key; (process, port, "type key")."""
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    port = _free_port()
    sftp = _sftp_server()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized_keys}\nStrictModes no\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nLogLevel ERROR\n" + (f"Subsystem sftp {sftp}\n" if sftp else "")
    )
    host_key = " ".join((d / "host_key.pub").read_text().split()[:2])
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 15
    while True:
        if server.poll() is not None:
            pytest.fail(f"sshd exited: {server.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port, host_key
        except OSError:
            if time.monotonic() > deadline:
                server.terminate()
                pytest.fail("sshd did not start listening within 15 s")
            time.sleep(0.1)


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    """Two artifacts of the tiny bundle (enough for a comparison, half the time)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in ("model_fp32.tflite", "model_int8.tflite", "edgewise.json", "parity.npz"):
        shutil.copy(tiny_bundle / f, bundle / f)
    return bundle


@pytest.mark.slow
def test_bench_through_ssh_merges_the_remote_run(sshd, bundle_copy, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["bench", str(bundle_copy), *FAST, "--out", str(out), "--label", "local"]
    remote = ["--remote", "edgewise-test", "--remote-python", sys.executable, "--ssh-config", str(sshd)]
    assert main(args + remote) == 0
    written = sorted(p.name for p in out.iterdir())
    remote_json = f"bench-{socket.gethostname()}.json"
    assert written == sorted(
        [
            "bench.json",
            "bench.md",
            "bench.html",
            remote_json,
            "bench-compare.json",
            "bench-compare.md",
            "bench-compare.html",
        ]
    )
    remote_run = schema.load_run(out / remote_json)
    assert remote_run.label == socket.gethostname()
    assert [a.file for a in remote_run.artifacts] == ["model_fp32.tflite", "model_int8.tflite"]
    assert all(a.status == "ok" and a.parity["samples"] == 48 for a in remote_run.artifacts)
    assert remote_run.bundle["path"].startswith("/tmp/") or "edgewise-bench." in remote_run.bundle["path"]
    assert not Path(remote_run.bundle["path"]).exists()  # the remote work directory was removed
    merged = schema.load(out / "bench-compare.json")
    assert [r.label for r in merged.runs] == ["local", socket.gethostname()]
    html = (out / "bench-compare.html").read_text()
    assert "<th>local p50</th>" in html and "<th>vs local</th>" in html
    assert html.count("data:image/png;base64,") == 1
    printed = capsys.readouterr().out
    assert printed.count("model_int8.tflite") >= 2  # the local table and the remote one


def test_unreachable_host_is_one_line_and_keeps_local_results(sshd, bundle_copy, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["bench", str(bundle_copy / "model_int8.tflite"), *FAST, "--out", str(out)]
    code = main(args + ["--remote", "edgewise-closed", "--ssh-config", str(sshd)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(
        "edgewise bench: error: edgewise-closed: cannot connect while checking for edgewise"
    )
    assert "Connection refused" in err[-1]
    assert schema.load_run(out / "bench.json").artifacts[0].status == "ok"  # local results kept


def _python_without_edgewise() -> str | None:
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        return None
    probe = subprocess.run([python, "-c", "import edgewise"], cwd=Path.home(), capture_output=True)
    return python if probe.returncode != 0 else None


@pytest.mark.parametrize("kind", ["no such python", "python without edgewise"])
def test_missing_remote_edgewise(sshd, kind):
    python = "/nonexistent/venv/bin/python" if kind == "no such python" else _python_without_edgewise()
    if python is None:
        pytest.skip("no system python3 that lacks edgewise")
    with pytest.raises(RemoteError) as info:
        Remote("edgewise-test", python, sshd).check()
    message = str(info.value)
    assert message.startswith(f"edgewise-test: edgewise is not available to {python} there")
    expected = ("not found", "No such file") if kind == "no such python" else ("No module named edgewise",)
    assert any(text in message for text in expected), message
    assert "pip install 'edgewise[litert]'" in message and "\n" not in message


def test_remote_failure_half_way_cleans_up(sshd, bundle_copy, tmp_path):
    """A remote Python that has edgewise but whose benchmark fails (here: a wrapper that refuses)."""
    wrapper = tmp_path / "python-that-fails-bench"
    wrapper.write_text(
        f'#!/bin/sh\nif [ "$3" = bench ]; then echo "no space left on device" >&2; exit 3; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    before = set(Path("/tmp").glob("edgewise-bench.*"))
    with pytest.raises(
        RemoteError, match=r"the remote benchmark failed \(exit code 3: no space left on device\)"
    ):
        run_remote(Remote("edgewise-test", str(wrapper), sshd), discover([bundle_copy]), Settings(runs=2))
    assert set(Path("/tmp").glob("edgewise-bench.*")) == before  # the remote work directory is gone


def test_host_names_that_could_be_options_are_refused():
    for bad in ("-oProxyCommand=touch /tmp/x", "pi@host;rm -rf ~", "host name", ""):
        with pytest.raises(InputError):
            Remote(bad)


def test_remote_command_is_quoted_for_the_remote_shell():
    r = Remote("pi@raspberrypi.local", "~/my venv/bin/python")
    cmd = r.ssh_command(r.python_argv("-m", "edgewise", "bench", "/tmp/a b", "--json", "x;rm -rf /"))
    assert cmd[:3] == ["ssh", "-o", "BatchMode=yes"]
    assert cmd[-2:] == [
        "pi@raspberrypi.local",
        "~/'my venv/bin/python' -m edgewise bench '/tmp/a b' --json 'x;rm -rf /'",
    ]
    assert cmd[-3] == "--" and "StrictHostKeyChecking=no" not in cmd


@pytest.mark.slow
def test_two_hosts_at_once_and_a_failing_third_keeps_the_others(sshd, bundle_copy, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["bench", str(bundle_copy), *FAST, "--threads", "1", "--out", str(out), "--label", "local"]
    hosts = ["--remote", "edgewise-test,edgewise-closed", "--remote", "edgewise-test-2"]
    code = main(args + hosts + ["--remote-python", sys.executable, "--ssh-config", str(sshd)])
    captured = capsys.readouterr()
    assert code == 1  # one host failed; the others' results are written
    (error,) = [line for line in captured.err.splitlines() if line.startswith("edgewise bench: error:")]
    assert error.startswith("edgewise bench: error: edgewise-closed: cannot connect while checking")
    # both loopback "devices" report this hostname, so each is named by its ssh host instead
    merged = schema.load(out / "bench-compare.json")
    assert [r.label for r in merged.runs] == ["local", "edgewise-test", "edgewise-test-2"]
    for label in ("edgewise-test", "edgewise-test-2"):
        run = schema.load_run(out / f"bench-{label}.json")
        assert all(a.status == "ok" and a.measurements for a in run.artifacts)
    md = (out / "bench-compare.md").read_text()
    headlines = md.split("## Headline per device\n\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(":")[0] for line in headlines] == ["- local", "- edgewise-test", "- edgewise-test-2"]
    html = (out / "bench-compare.html").read_text()
    assert "<th>edgewise-test-2 p50</th>" in html and "<th>vs local</th>" in html
    assert captured.out.count("edgewise-test-2 (edgewise-test-2):") == 1


def test_hosts_are_split_on_commas_and_deduplicated():
    from edgewise.benchmarks.remote import parse_hosts

    assert parse_hosts(["a,b", "c", "a"]) == ["a", "b", "c"]
    with pytest.raises(InputError, match="no host given"):
        parse_hosts([" , "])
