"""Training throughput: edgewise's loop vs a plain keras-io style ``model.fit`` on the same model and data.

Both train the same zoo model (same seed, batch size, optimizer schedule) on the same images, with a
validation pass every epoch, and are timed from the start to the end of ``fit``, so edgewise's extra
work (tf.data pipeline, per-epoch checkpoints, history) is inside its figure. The two alternate for
``--rounds`` rounds to spread the noise of a shared machine over both; medians are reported.

    python -m scripts.experiments.training_speed --model fashion_cnn --data fashion_mnist
        --images 20000 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgewise.runtime.sampling import DEFAULT_SEED

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def plain_keras_fit(model_name, splits, epochs, batch_size, plan) -> float:
    """The keras-io recipe: float arrays in memory, ``model.fit(x, y, validation_data=...)``."""
    import keras

    from edgewise.train import loop, zoo

    keras.utils.set_random_seed(plan.seed)
    model = zoo.create_model(model_name, num_classes=splits.num_classes, input_shape=splits.image_shape)
    loop.compile_model(model, plan, steps_per_epoch=-(-len(splits.train) // batch_size))
    x, y = splits.train.images.astype("float32"), splits.train.labels
    xv, yv = splits.val.images.astype("float32"), splits.val.labels
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=(xv, yv), shuffle=True, verbose=0)
    return time.perf_counter() - start


def edgewise_fit(model_name, splits, epochs, batch_size, plan) -> float:
    """edgewise's loop: tf.data pipeline, checkpoints each epoch, best-model tracking."""
    import keras
    import tensorflow as tf

    from edgewise.train import loop, zoo
    from edgewise.train.pipeline import make_dataset

    keras.utils.set_random_seed(plan.seed)
    train_ds = make_dataset(splits.train, batch_size, training=True, seed=plan.seed)
    val_ds = make_dataset(splits.val, batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        loop.fit(
            lambda: zoo.create_model(
                model_name, num_classes=splits.num_classes, input_shape=splits.image_shape
            ),
            train_ds,
            val_ds,
            steps_per_epoch=-(-len(splits.train) // batch_size),
            plan=plan,
            checkpoints=Path(tmp),
            strategy=tf.distribute.get_strategy(),
            resume=False,
        )
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="fashion_cnn")
    p.add_argument("--data", default="fashion_mnist")
    p.add_argument("--images", type=int, default=20000, help="training images used (a prefix of the split)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    from edgewise.train import get_config, load_splits
    from edgewise.train.data import Split
    from edgewise.train.loop import Plan

    cfg = get_config(args.model)
    batch_size = args.batch_size or cfg.batch_size
    splits = load_splits(args.data, image_size=cfg.input_size, channels=cfg.channels)
    splits.train = Split(splits.train.images[: args.images], splits.train.labels[: args.images])
    plan = Plan(epochs=args.epochs, batch_size=batch_size, lr=cfg.lr, seed=DEFAULT_SEED, patience=10**6)
    n = len(splits.train)
    print(
        f"{args.model} on {args.data}: {n} train / {len(splits.val)} val images, batch {batch_size}, "
        f"{args.epochs} epochs x {args.rounds} rounds",
        flush=True,
    )

    rates: dict[str, list[float]] = {"keras_fit": [], "edgewise": []}
    for r in range(args.rounds):
        order = (("keras_fit", plain_keras_fit), ("edgewise", edgewise_fit))
        for name, fn in order if r % 2 == 0 else order[::-1]:
            seconds = fn(args.model, splits, args.epochs, batch_size, plan)
            rates[name].append(args.epochs * n / seconds)
            print(f"round {r + 1}: {name:9s} {seconds:7.1f} s  {rates[name][-1]:8.0f} images/s", flush=True)

    keras_rate, edgewise_rate = statistics.median(rates["keras_fit"]), statistics.median(rates["edgewise"])
    ratio = edgewise_rate / keras_rate
    print(
        f"median: keras fit {keras_rate:.0f} images/s, edgewise {edgewise_rate:.0f} images/s, "
        f"ratio {ratio:.3f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "rates": rates, "ratio": ratio})
        )
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
