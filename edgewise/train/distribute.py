"""tf.distribute strategies: none (one device), ``mirrored`` (all local GPUs, or all logical CPUs) and
``multiworker`` (several processes or machines described by the ``TF_CONFIG`` environment variable)."""

from __future__ import annotations

import json
import os

from edgewise.runtime.errors import InputError

STRATEGIES = ("none", "mirrored", "multiworker")


def check_strategy(name: str | None) -> str:
    name = (name or "none").lower()
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if name == "multiworker" and not os.environ.get("TF_CONFIG"):
        raise InputError("--strategy multiworker needs the TF_CONFIG environment variable (cluster and task)")
    if name == "multiworker":
        task_info()  # validates the JSON early
    return name


def get_strategy(name: str | None):
    import tensorflow as tf

    name = check_strategy(name)
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def split_cpu(count: int) -> None:
    """Expose the CPU as ``count`` logical devices (must run before TensorFlow touches a device)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def task_info() -> tuple[str, int]:
    """``(task type, index)`` from TF_CONFIG; ``("chief", 0)`` when not multi-worker."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return "chief", 0
    try:
        task = json.loads(raw).get("task", {})
        return str(task.get("type", "worker")), int(task.get("index", 0))
    except (ValueError, AttributeError) as e:
        raise InputError(f"TF_CONFIG is not valid JSON with a task ({e})") from None


def is_chief() -> bool:
    """The process that writes the run directory: the chief, or worker 0 when the cluster has no chief."""
    kind, index = task_info()
    if kind == "chief":
        return True
    cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
    return kind == "worker" and index == 0 and "chief" not in cluster
