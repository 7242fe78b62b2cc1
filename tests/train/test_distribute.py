"""tf.distribute on this CPU: mirrored over 2 logical devices, multi-worker over 2 local processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgewise.runtime.card import ModelCard
from edgewise.runtime.errors import InputError
from edgewise.train import distribute
from tests.train.helpers import write_idx_dataset

pytest.importorskip("tensorflow")

REPO = Path(__file__).resolve().parents[2]


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO), **extra)
    return env


def test_strategy_names_and_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.check_strategy(None) == "none"
    with pytest.raises(InputError, match="unknown strategy"):
        distribute.check_strategy("tpu")
    assert distribute.is_chief()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert distribute.task_info() == ("worker", 1) and not distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(InputError, match="TF_CONFIG"):
        distribute.check_strategy("multiworker")


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus(tmp_path):
    write_idx_dataset(tmp_path / "fm", n_train=64, n_test=16)
    script = textwrap.dedent(
        f"""
        from edgewise.train.distribute import split_cpu
        split_cpu(2)
        from edgewise.train import train
        train(data="fashion_mnist", data_dir={str(tmp_path / "fm")!r}, model="mnist_cnn",
              out={str(tmp_path / "run")!r}, epochs=2, batch_size=16, strategy="mirrored")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    card = ModelCard.load(tmp_path / "run")
    assert card.provenance["strategy"] == "mirrored" and card.provenance["replicas"] == 2
    assert card.provenance["epochs_run"] == 2


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_with_two_local_processes(tmp_path):
    write_idx_dataset(tmp_path / "fm", n_train=64, n_test=16)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    cmd = [
        sys.executable,
        "-m",
        "edgewise",
        "train",
        "--data",
        "fashion_mnist",
        "--data-dir",
        str(tmp_path / "fm"),
    ]
    cmd += ["--model", "mnist_cnn", "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "16"]
    cmd += ["--strategy", "multiworker"]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(
            subprocess.Popen(
                cmd, env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-3000:]
    card = ModelCard.load(tmp_path / "run")
    assert card.provenance["strategy"] == "multiworker" and card.provenance["replicas"] == 2
    assert card.provenance["epochs_run"] == 2
