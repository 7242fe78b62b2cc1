"""A small custom training loop for ``MultiWorkerMirroredStrategy``.

Keras 3's ``model.fit`` fails under multi-worker ``tf.distribute`` (keras-team/keras#20585,
tensorflow/tensorflow#72388: a PerReplica batch reduced eagerly, then "Invalid reduction dimension 0"
in the metric reduction). This loop is the documented alternative: ``strategy.run`` on each replica's
batch, the loss scaled by the global batch size, gradients all-reduced by the Keras optimizer. It drives
the same callbacks (``on_epoch_begin`` / ``on_epoch_end`` with the usual ``logs``) as ``model.fit``.

Validation runs on every worker over the whole validation split without collectives (the weights
are identical everywhere), so all workers compute the same ``val_*`` figures.
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np
import tensorflow as tf

from edgewise.runtime.sampling import DEFAULT_SEED
from edgewise.train.data import Split


def distributed_train_dataset(
    split: Split, global_batch: int, strategy, *, augmenter=None, seed: int = DEFAULT_SEED
):
    """Each worker reads its own shard; every worker runs the same number of steps (no hang at the end)."""

    def dataset_fn(ctx: tf.distribute.InputContext):
        per_replica = ctx.get_per_replica_batch_size(global_batch)
        per_worker = len(split) // ctx.num_input_pipelines
        ds = tf.data.Dataset.from_tensor_slices((split.images, split.labels))
        ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id).take(per_worker).cache()
        ds = ds.shuffle(per_worker, seed=seed + ctx.input_pipeline_id, reshuffle_each_iteration=True)
        ds = ds.batch(per_replica, drop_remainder=True)
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
        if augmenter is not None:
            ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    if len(split) // strategy.num_replicas_in_sync < 1:
        raise ValueError("fewer training images than replicas")
    return strategy.distribute_datasets_from_function(dataset_fn)


def fit(
    model, train_dist, val_ds, *, strategy, global_batch: int, epochs: int, initial_epoch: int, callbacks
) -> None:
    """Train ``model`` (compiled, created in ``strategy.scope()``) for epochs ``initial_epoch..epochs-1``."""
    optimizer = model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    @tf.function
    def train_step(batch):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                probs = model(x, training=True)
                per_example = loss_fn(y, probs)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                if model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            correct = tf.cast(tf.equal(tf.argmax(probs, axis=-1), y), tf.float32)
            return tf.reduce_sum(per_example), tf.reduce_sum(correct), tf.cast(tf.size(y), tf.float32)

        sums = strategy.run(replica_step, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, s, axis=None) for s in sums]

    @tf.function
    def predict_step(x):
        return model(x, training=False)

    for cb in callbacks:
        cb.set_model(model)
    model.stop_training = False
    for epoch in range(initial_epoch, epochs):
        started = time.perf_counter()
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        totals = np.zeros(3)
        for batch in train_dist:
            totals += [float(v) for v in train_step(batch)]
        logs = {"accuracy": totals[1] / max(totals[2], 1), "loss": totals[0] / max(totals[2], 1)}
        logs.update(_evaluate(predict_step, val_ds))
        print(
            f"epoch {epoch + 1}/{epochs} - {time.perf_counter() - started:.0f}s - "
            + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()),
            flush=True,
            file=sys.stdout,
        )
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break


def _evaluate(predict_step, val_ds) -> dict[str, float]:
    loss = correct = count = 0.0
    for x, y in val_ds:
        probs = predict_step(x).numpy()
        labels = y.numpy()
        loss += float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)).sum())
        correct += float((probs.argmax(axis=1) == labels).sum())
        count += len(labels)
    return {"val_accuracy": correct / max(count, 1), "val_loss": loss / max(count, 1)}
