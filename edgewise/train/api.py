"""``edgewise.train.train(data=..., model=..., out=...)``: the Python face of ``edgewise train``.

Short and linear, keras-io style: check the options, load the data, build the model, fit, evaluate,
write the run directory. Cheap checks run before TensorFlow is imported, so bad input fails fast.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewise.runtime import binding
from edgewise.runtime.card import CARD_FILE, InputSpec, ModelCard, Preprocessing
from edgewise.runtime.card_check import MAX_SIDE
from edgewise.runtime.errors import InputError
from edgewise.runtime.limits import MAX_BATCH, check_seed
from edgewise.runtime.sampling import DEFAULT_SEED
from edgewise.train import distribute, run_dir, zoo
from edgewise.train.data import NAMED_SOURCES, Splits, check_source, load_splits
from edgewise.train.loop import Plan, has_checkpoint
from edgewise.train.weights import is_pretrained

log = logging.getLogger(__name__)
MAX_COUNT = 1_000_000  # epochs, patience: far beyond any real run, but finite
MAX_LR = 100.0


def train(
    data: str | os.PathLike,
    model: str,
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    image_size: int | tuple[int, int] | str | None = None,
    val_fraction: float = 0.1,
    augment: bool | None = None,
    seed: int = DEFAULT_SEED,
    resume: bool = False,
    force: bool = False,
    strategy: str | None = None,
    weights: str = "imagenet",
    data_dir: str | os.PathLike | None = None,
    patience: int | None = None,
    fine_tune_epochs: int | None = None,
    model_options: dict[str, Any] | None = None,
    resize: str = "bilinear",
    fit: str = "stretch",
    command: str | None = None,
) -> Path:
    """Train zoo model ``model`` on ``data`` and write the run directory ``out``; return its path.

    ``data`` is "fashion_mnist", "mnist", "cifar10" or an image folder. Options left at None take the
    model's defaults (see :mod:`edgewise.train.zoo`). ``model_options`` go to the model's builder,
    e.g. ``{"alpha": 0.5}`` for ``mobilenet_v2``.
    """
    cfg = zoo.get_config(model)
    size = parse_image_size(image_size) or cfg.input_size
    cfg.check_input(size, cfg.channels)
    zoo.check_options(model, model_options or {})
    check_source(data)
    strategy_name = distribute.check_strategy(strategy)
    plan = _training_plan(cfg, epochs, batch_size, lr, seed, patience, augment, fine_tune_epochs, weights)
    writer = not strategy_name == "multiworker" or distribute.is_chief()
    out = Path(out)
    if writer:
        out = run_dir.prepare(out, force=force, resume=resume)

    data_kwargs = _data_kwargs(data, data_dir, size, cfg.channels, val_fraction, seed, resize, fit)
    started = time.perf_counter()
    splits = _load_data(data, data_kwargs)
    options = dict(model_options or {}) | ({"weights": weights} if cfg.pretrained else {})
    trained, state, replicas = _fit(model, splits, plan, out, strategy_name, resume, writer, options)
    if not writer:
        return out
    provenance = _provenance(plan, state, strategy_name, replicas, weights, command)
    provenance["model_options"] = dict(model_options or {})
    card = ModelCard(
        labels=splits.class_names,
        input=InputSpec(shape=splits.image_shape),
        preprocessing=Preprocessing(resize=resize, fit=fit),
        model=model,
        data=data_kwargs,
        provenance=provenance,
    )
    return _write_run(out, trained, splits, plan, state, card, started)


def _write_run(
    out: Path, trained, splits: Splits, plan: Plan, state, card: ModelCard, started: float
) -> Path:
    """Evaluate the trained model and write the run directory: model, metrics, history, card."""
    metrics = evaluate(trained, splits, plan.batch_size)
    metrics.update(best_epoch=state.best_epoch, epochs_run=state.epoch, stopped_early=state.stopped_early)
    _write_outputs(out, trained, splits, metrics, state.history, card.model)
    card.metrics = metrics
    card.provenance["wall_seconds"] = round(time.perf_counter() - started, 1)  # from loading the data
    card.provenance[binding.PROVENANCE_KEY] = binding.file_sha256(out / run_dir.MODEL_FILE)
    card.save(out / CARD_FILE)
    log.info(
        "test accuracy %.2f%% (%d epochs, %.0f s of training); run written to %s",
        100 * metrics["test_accuracy"],
        state.epoch,
        state.seconds,
        out,
    )
    return out


def _training_plan(cfg, epochs, batch_size, lr, seed, patience, augment, fine_tune_epochs, weights) -> Plan:
    """The zoo model's defaults, overridden by what the caller set."""
    plan = Plan(
        epochs=_positive("epochs", epochs if epochs is not None else cfg.epochs),
        batch_size=_positive("batch size", batch_size or cfg.batch_size, MAX_BATCH),
        lr=_positive("learning rate", lr if lr is not None else cfg.lr, MAX_LR),
        seed=check_seed(seed),
        patience=_positive("patience", patience or max(5, cfg.epochs // 3)),
        augmentations=list(cfg.augmentations) if (cfg.augment if augment is None else augment) else [],
        fine_tune_epochs=max(0, fine_tune_epochs if fine_tune_epochs is not None else cfg.fine_tune_epochs),
    )
    if cfg.pretrained and not is_pretrained(weights):
        plan.fine_tune_epochs = 0  # nothing pretrained to fine-tune: the whole network trains from the start
    return plan


def _load_data(data, data_kwargs: dict[str, Any]) -> Splits:
    splits = load_splits(**data_kwargs)
    log.info(
        "%s: %d train / %d val / %d test images, %d classes, %dx%dx%d",
        data_kwargs["source"],
        len(splits.train),
        len(splits.val),
        len(splits.test),
        splits.num_classes,
        *splits.image_shape,
    )
    if len(splits.val) == 0:
        raise InputError(f"{data}: no validation images; use a val/ folder or a --val-fraction above 0")
    return splits


def parse_image_size(value: int | tuple[int, int] | str | None) -> tuple[int, int] | None:
    """``32`` / ``"32"`` / ``"48x64"`` (height x width) / ``(48, 64)`` -> ``(height, width)``."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            parts = value.lower().replace(",", "x").split("x")
            h, w = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
        elif isinstance(value, int):
            h, w = value, value
        else:
            h, w = (int(v) for v in value)
    except (ValueError, TypeError):
        raise InputError(f"image size {value!r}: expected N or HEIGHTxWIDTH, e.g. 64 or 48x64") from None
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise InputError(f"image size {value!r}: height and width must be between 1 and {MAX_SIDE}")
    return h, w


def evaluate(model, splits: Splits, batch_size: int) -> dict[str, Any]:
    """Test and validation accuracy, test loss, per-class accuracy and the confusion matrix."""
    from edgewise.train.pipeline import make_dataset

    metrics: dict[str, Any] = {}
    for name, split in (("val", splits.val), ("test", splits.test)):
        probs = model.predict(make_dataset(split, batch_size), verbose=0)
        predicted = probs.argmax(axis=1)
        picked = probs[np.arange(len(split)), split.labels]
        metrics[f"{name}_accuracy"] = float((predicted == split.labels).mean())
        metrics[f"{name}_loss"] = float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())
        if name == "test":
            matrix = run_dir.confusion_matrix(split.labels, predicted, splits.num_classes)
            per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
            metrics["per_class_accuracy"] = {
                n: float(a) for n, a in zip(splits.class_names, per_class, strict=True)
            }
            metrics["confusion_matrix"] = matrix.tolist()
    metrics.update(train_images=len(splits.train), val_images=len(splits.val), test_images=len(splits.test))
    return metrics


def _fit(model_name, splits, plan, out, strategy_name, resume, writer, options):
    import keras

    from edgewise.train import loop
    from edgewise.train.augment import build_augmenter
    from edgewise.train.pipeline import make_dataset

    strategy = distribute.get_strategy(strategy_name)
    replicas = strategy.num_replicas_in_sync
    if plan.batch_size % replicas:
        raise InputError(f"batch size {plan.batch_size} is not divisible by the {replicas} replicas")
    keras.utils.set_random_seed(plan.seed)
    # Every worker reads checkpoints from the run directory (a shared file system for --resume across
    # machines); only the chief writes them.
    checkpoints = out / run_dir.CHECKPOINTS
    augmenter = build_augmenter(plan.augmentations, seed=plan.seed) if plan.augmentations else None
    first_epoch = loop.State.load(checkpoints / loop.STATE_FILE).epoch if resume else 0
    multiworker = strategy_name == "multiworker"
    if multiworker:
        from edgewise.train import custom_loop

        train_ds = custom_loop.distributed_train_dataset(
            splits.train, plan.batch_size, strategy, augmenter=augmenter, seed=plan.seed + first_epoch
        )
    else:
        train_ds = make_dataset(
            splits.train, plan.batch_size, training=True, augmenter=augmenter, seed=plan.seed + first_epoch
        )

    def build():
        return zoo.create_model(
            model_name, num_classes=splits.num_classes, input_shape=splits.image_shape, **options
        )

    try:
        model, state = loop.fit(
            build,
            train_ds,
            make_dataset(splits.val, plan.batch_size),
            steps_per_epoch=-(-len(splits.train) // plan.batch_size),
            plan=plan,
            checkpoints=checkpoints,
            strategy=strategy,
            resume=resume,
            writer=writer,
            multiworker=multiworker,
        )
    except KeyboardInterrupt:
        if writer and has_checkpoint(checkpoints):
            log.warning(
                "interrupted: finished epochs are saved; run the same command with --resume to continue"
            )
        raise
    return model, state, replicas


def _write_outputs(out: Path, model, splits: Splits, metrics: dict, history: dict, model_name: str) -> None:
    from edgewise.runtime import atomic

    matrix = np.asarray(metrics.pop("confusion_matrix"))
    with atomic.atomic_path(out / run_dir.MODEL_FILE) as tmp:
        model.save(tmp)
    run_dir.write_history(out, history)
    atomic.write_json(out / run_dir.METRICS_FILE, metrics)
    run_dir.write_confusion(out, matrix, splits.class_names)
    run_dir.write_curves(out, history, f"{model_name}: test accuracy {metrics['test_accuracy']:.2%}")


def _data_kwargs(data, data_dir, size, channels, val_fraction, seed, resize, fit) -> dict[str, Any]:
    source = os.fspath(data)
    if source not in NAMED_SOURCES:
        source = str(Path(source).resolve())
    kwargs: dict[str, Any] = {"source": source}
    if data_dir is not None:
        kwargs["data_dir"] = str(Path(data_dir).resolve())
    kwargs.update(image_size=list(size), channels=channels, val_fraction=float(val_fraction), seed=int(seed))
    if resize != "bilinear":
        kwargs["resize"] = resize
    if fit != "stretch":
        kwargs["fit"] = fit
    return kwargs


def _positive(what: str, value, maximum: float = MAX_COUNT):
    """``value`` if it is a number in (0, maximum]; NaN, infinity and booleans are refused too."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= maximum:
        raise InputError(f"{what} must be positive and at most {maximum:g}, not {value}")
    return value


def _provenance(plan, state, strategy, replicas, weights, command) -> dict[str, Any]:
    """How the run was made; ``wall_seconds`` is added once the run is written."""
    import keras
    import tensorflow as tf

    import edgewise

    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or shlex.join(sys.argv),
        "seed": plan.seed,
        "epochs": plan.epochs,
        "fine_tune_epochs": plan.fine_tune_epochs,
        "epochs_run": state.epoch,
        "batch_size": plan.batch_size,
        "lr": plan.lr,
        "augmentations": plan.augmentations,
        "weights": weights,
        "strategy": strategy,
        "replicas": replicas,
        "train_seconds": round(state.seconds, 1),
        "versions": {
            "edgewise": edgewise.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "platform": platform.platform(),
    }
