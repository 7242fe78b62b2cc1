"""Run the same benchmark on another machine (a Raspberry Pi, a GPU box) over SSH and fetch its JSON.

Only the system ``ssh`` and ``scp`` are used, with ``BatchMode=yes`` (never a password prompt) and the
user's host-key checking left as it is. Every local command is an argument list. The one string the
remote shell parses (ssh always hands the remote side a command line) is built with :func:`shlex.quote`
from validated pieces, so nothing the user typed is interpreted by a shell.

Several hosts run at once (:func:`run_many`); each keeps its own result or its own error.

Steps per host: check that the remote Python has edgewise, make a temporary directory there, copy the bundle
(model files, ``edgewise.json``, ``parity.npz``), run ``edgewise bench DIR --json DIR/bench.json``,
copy the JSON back, remove the directory. Each failure is one :class:`RemoteError` line.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from edgewise.benchmarks import schema
from edgewise.benchmarks.harness import Settings
from edgewise.benchmarks.targets import Target
from edgewise.runtime.card import CARD_FILE
from edgewise.runtime.errors import EdgewiseError, InputError

log = logging.getLogger(__name__)

SSH_UNREACHABLE = 255  # ssh's own exit code for connection and authentication failures
_HOST = re.compile(r"^[A-Za-z0-9_.%+@-]+$")
_REMOTE_DIR = re.compile(r"^/[A-Za-z0-9._/-]+$")


class RemoteError(EdgewiseError):
    """The remote host could not be reached, lacks edgewise, or its benchmark failed."""


@dataclass
class Remote:
    host: str  # user@host, or a Host alias from the ssh config
    python: str = "python3"
    ssh_config: Path | None = None
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        if not _HOST.match(self.host) or self.host.startswith("-"):
            raise InputError(f"--remote {self.host!r}: expected user@host or an ssh config Host alias")
        if not self.python or any(c in self.python for c in "\n\r\0"):
            raise InputError(f"--remote-python {self.python!r}: expected a program name or path")

    # -- the commands ---------------------------------------------------------------------------------
    def _options(self) -> list[str]:
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={self.connect_timeout}",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
        ]
        if self.ssh_config is not None:
            opts = ["-F", str(self.ssh_config), *opts]
        return opts

    def ssh_command(self, argv: list[str]) -> list[str]:
        """``ssh ... HOST 'quoted argv'``: the remote shell sees each argument exactly as given."""
        return ["ssh", *self._options(), "--", self.host, " ".join(_quote(a) for a in argv)]

    def scp_command(self, sources: list[str], dest: str) -> list[str]:
        return ["scp", "-q", "-p", *self._options(), "--", *sources, dest]

    def python_argv(self, *args: str) -> list[str]:
        return [self.python, *args]

    # -- the steps ------------------------------------------------------------------------------------
    def _run(self, cmd: list[str], what: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        log.debug("remote: %s", cmd)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise RemoteError(f"{cmd[0]} not found: install OpenSSH's client to use --remote") from None
        except subprocess.TimeoutExpired:
            raise RemoteError(f"{self.host}: {what} timed out after {timeout:g} s") from None
        if proc.returncode == SSH_UNREACHABLE:
            raise RemoteError(f"{self.host}: cannot connect while {what} ({_last_line(proc.stderr)})")
        return proc

    def check(self) -> str:
        """The remote edgewise version; a RemoteError when ssh fails or edgewise is missing there."""
        proc = self._run(
            self.ssh_command(self.python_argv("-m", "edgewise", "--version")),
            "checking for edgewise",
            timeout=self.connect_timeout + 60,
        )
        out = proc.stdout.strip()
        if proc.returncode != 0 or not out.startswith("edgewise"):
            detail = _last_line(proc.stderr) or out or f"exit code {proc.returncode}"
            raise RemoteError(
                f"{self.host}: edgewise is not available to {self.python} there ({detail}); install it "
                "on the device (pip install 'edgewise[litert]') or point --remote-python at its venv"
            )
        return out.split()[-1]

    def make_dir(self) -> str:
        proc = self._run(
            self.ssh_command(["mktemp", "-d", "-t", "edgewise-bench.XXXXXX"]), "making a work directory", 60
        )
        path = proc.stdout.strip()
        if proc.returncode != 0 or not _REMOTE_DIR.match(path):
            raise RemoteError(
                f"{self.host}: cannot make a temporary directory ({_last_line(proc.stderr) or path!r})"
            )
        return path

    def upload(self, files: list[Path], remote_dir: str) -> None:
        proc = self._run(
            self.scp_command([local_arg(f) for f in files], f"{self.host}:{remote_dir}/"),
            "copying the bundle",
        )
        if proc.returncode != 0:
            raise RemoteError(f"{self.host}: copying the bundle failed ({_last_line(proc.stderr)})")

    def bench(self, remote_dir: str, settings: Settings) -> None:
        argv = self.python_argv(
            "-m",
            "edgewise",
            "bench",
            remote_dir,
            "--json",
            f"{remote_dir}/bench.json",
            *settings.bench_argv(),
        )
        proc = self._run(self.ssh_command(argv), "running the benchmark")
        if proc.returncode != 0:
            raise RemoteError(
                f"{self.host}: the remote benchmark failed (exit code {proc.returncode}: "
                f"{_last_line(proc.stderr) or 'no message'})"
            )

    def download(self, remote_file: str, local: Path) -> None:
        proc = self._run(
            self.scp_command([f"{self.host}:{remote_file}"], local_arg(local)), "fetching results"
        )
        if proc.returncode != 0 or not local.is_file():
            raise RemoteError(f"{self.host}: fetching {remote_file} failed ({_last_line(proc.stderr)})")

    def remove_dir(self, remote_dir: str) -> None:
        """Best effort: a leftover temporary directory is not worth failing a finished benchmark for."""
        try:
            self._run(self.ssh_command(["rm", "-rf", "--", remote_dir]), "cleaning up", 60)
        except RemoteError as e:
            log.warning("remote: %s", e)


def bundle_files(targets: list[Target]) -> list[Path]:
    """The files a device needs: the model files, and the card and parity data beside them."""
    parents = {t.path.parent.resolve() for t in targets}
    if len(parents) != 1:
        raise InputError("--remote needs the models to come from one bundle directory")
    parent = parents.pop()
    files = [t.path for t in targets]
    for extra in (parent / CARD_FILE, targets[0].parity):
        if extra is not None and extra.is_file():
            files.append(extra)
    return files


def run_remote(remote: Remote, targets: list[Target], settings: Settings) -> schema.BenchRun:
    """Benchmark ``targets`` on ``remote`` and return its run, read from the JSON it wrote."""
    log.info("remote: checking %s", remote.host)
    version = remote.check()
    log.info("remote: edgewise %s found; copying the bundle", version)
    remote_dir = remote.make_dir()
    try:
        remote.upload(bundle_files(targets), remote_dir)
        log.info("remote: benchmarking on %s (this takes as long as a local run or longer)", remote.host)
        remote.bench(remote_dir, settings)
        with tempfile.TemporaryDirectory(prefix="edgewise-remote-") as tmp:
            local = Path(tmp) / "bench.json"
            remote.download(f"{remote_dir}/bench.json", local)
            try:
                return schema.load_run(local)
            except schema.SchemaError as e:
                raise RemoteError(f"{remote.host}: the fetched results are unusable ({e})") from None
    finally:
        remote.remove_dir(remote_dir)


def local_arg(path: Path) -> str:
    """A local path as scp must see it: absolute, so ``evilhost:x/model.tflite`` is never read as host:path.

    scp treats any argument with a colon before its first slash as remote; an absolute path starts with
    a slash. (``os.path.abspath``, not ``resolve``: the file the user named, not where a symlink leads.)
    """
    import os

    return os.path.abspath(path)


@dataclass
class RemoteOutcome:
    """One host's part of a several-host benchmark: its run, or the one-line reason it has none."""

    remote: Remote
    run: schema.BenchRun | None = None
    error: str | None = None


def run_many(remotes: list[Remote], targets: list[Target], settings: Settings) -> list[RemoteOutcome]:
    """Benchmark on every host at once (one thread each: the work is on the hosts, here we only wait on
    ssh), in the order given. A host that fails keeps its error and does not stop the others."""
    if not remotes:
        return []

    def one(remote: Remote) -> RemoteOutcome:
        try:
            return RemoteOutcome(remote, run=run_remote(remote, targets, settings))
        except EdgewiseError as e:
            return RemoteOutcome(remote, error=str(e))

    with ThreadPoolExecutor(max_workers=len(remotes), thread_name_prefix="edgewise-remote") as pool:
        outcomes = list(pool.map(one, remotes))
    labels = [o.run.label for o in outcomes if o.run is not None]
    for o in outcomes:  # two hosts with one hostname (or clones of one image): name them by host instead
        if o.run is not None and labels.count(o.run.label) > 1:
            o.run.label = o.remote.host
    return outcomes


def parse_hosts(values: list[str]) -> list[str]:
    """``--remote a --remote b,c`` -> ``[a, b, c]`` (duplicates dropped, order kept)."""
    hosts = [h.strip() for v in values for h in v.split(",") if h.strip()]
    if not hosts:
        raise InputError("--remote: no host given")
    return list(dict.fromkeys(hosts))


def _quote(arg: str) -> str:
    """shlex.quote, except that a leading ``~/`` stays outside the quotes so the remote shell expands it."""
    if arg.startswith("~/"):
        return "~/" + shlex.quote(arg[2:])
    return shlex.quote(arg)


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
