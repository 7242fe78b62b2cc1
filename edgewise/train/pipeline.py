"""tf.data input pipelines from in-memory uint8 arrays: cache, shuffle, batch, augment, prefetch.

Images stay uint8 until the batch is formed (a quarter of the memory of float32), then are cast to
float32 0..255 — exactly the values :func:`edgewise.runtime.preprocess.load_image` produced, because
normalisation lives inside the model.
"""

from __future__ import annotations

from edgewise.runtime.sampling import DEFAULT_SEED
from edgewise.train.data import Split


def make_dataset(
    split: Split,
    batch_size: int,
    *,
    training: bool = False,
    augmenter=None,
    seed: int = DEFAULT_SEED,
):
    """A ``tf.data.Dataset`` of ``(float32 images, int64 labels)`` batches."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((split.images, split.labels)).cache()
    if training:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
