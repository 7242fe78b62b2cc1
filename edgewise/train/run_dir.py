"""The run directory written by ``edgewise train`` and what goes in it.

``model.keras``, ``edgewise.json`` (the model card), ``history.json`` / ``history.csv``, ``metrics.json``,
``confusion_matrix.json`` / ``.png``, ``training_curves.png`` and ``checkpoints/`` (for ``--resume``).
Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import numpy as np

from edgewise.runtime import atomic
from edgewise.runtime.card import CARD_FILE
from edgewise.runtime.errors import InputError
from edgewise.runtime.parity import PARITY_FILE
from edgewise.train.loop import has_checkpoint

MODEL_FILE = "model.keras"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
METRICS_FILE = "metrics.json"
CONFUSION_JSON = "confusion_matrix.json"
CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "training_curves.png"
CHECKPOINTS = "checkpoints"
OUTPUTS = (
    MODEL_FILE,
    CARD_FILE,
    HISTORY_JSON,
    HISTORY_CSV,
    METRICS_FILE,
    CONFUSION_JSON,
    CONFUSION_PNG,
    CURVES_PNG,
)


# What `edgewise export` adds to a run directory: stale once the model is trained again (--force).
EXPORT_OUTPUTS = (
    "model_*.tflite",
    "model_*.onnx",
    "*.rejected",
    PARITY_FILE,
    "*.explain.csv",
    ".model_*.tmp.*",
)


def prepare(out: str | Path, *, force: bool, resume: bool) -> Path:
    """Check (and for ``force``, clear) the run directory before any work starts."""
    out = Path(out)
    try:
        return _prepare(out, force=force, resume=resume)
    except OSError as e:
        raise InputError(
            f"{e.filename or out}: cannot use it as the run directory ({e.strerror or e})"
        ) from None


def _prepare(out: Path, *, force: bool, resume: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if out.is_dir():  # temporaries of a run or export that was killed: never a reason to need --force
        atomic.remove_orphans(out)
        if (out / CHECKPOINTS).is_dir():
            atomic.remove_orphans(out / CHECKPOINTS)
    if resume:
        if not has_checkpoint(out / CHECKPOINTS):
            raise InputError(f"{out}: nothing to resume (no {CHECKPOINTS}/state.json from an earlier run)")
        _check_writable(out)
        return out
    if out.is_dir() and _has_content(out):
        if not force:
            raise InputError(f"{out}: run directory already exists; use --force to overwrite or --resume")
        _check_writable(out)
        for name in OUTPUTS:
            (out / name).unlink(missing_ok=True)
        for pattern in EXPORT_OUTPUTS:
            for stale in out.glob(pattern):
                if stale.is_file():
                    stale.unlink()
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    _check_writable(out)
    return out


def _has_content(out: Path) -> bool:
    """Anything but an empty ``checkpoints/`` (what a training start that failed at once leaves)."""
    for entry in out.iterdir():
        if entry.name == CHECKPOINTS and entry.is_dir() and not any(entry.iterdir()):
            continue
        return True
    return False


def _check_writable(out: Path) -> None:
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"{out}: not writable")
    checkpoints = out / CHECKPOINTS
    if checkpoints.is_dir() and not os.access(checkpoints, os.W_OK | os.X_OK):
        raise InputError(f"{checkpoints}: not writable")


def write_history(out: Path, history: dict[str, list[float]]) -> None:
    atomic.write_json(out / HISTORY_JSON, history)
    keys = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(rows):
        writer.writerow([i + 1, *(_fmt(history[k][i]) if i < len(history[k]) else "" for k in keys)])
    atomic.write_text(out / HISTORY_CSV, buf.getvalue())


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are the true class, columns the predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def write_confusion(out: Path, matrix: np.ndarray, class_names: list[str]) -> None:
    atomic.write_json(
        out / CONFUSION_JSON, {"labels": class_names, "rows_true_columns_predicted": matrix.tolist()}
    )
    plt = _pyplot()
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = matrix.max(initial=1)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if v > top / 2 else "black")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"test confusion matrix (accuracy {accuracy:.2%})", fontsize=10)
    _save_figure(fig, out / CONFUSION_PNG)


def write_curves(out: Path, history: dict[str, list[float]], title: str) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if history.get(key):
                ax.plot(range(1, len(history[key]) + 1), history[key], style, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save_figure(fig, out / CURVES_PNG)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: Path) -> None:
    with atomic.atomic_path(path) as tmp:
        fig.tight_layout()
        fig.savefig(tmp, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _fmt(v: float) -> str:
    return f"{v:.6g}"
