"""The one class-stratified sampler: training's validation split and export's calibration, parity and
validation samples all draw from it.

One seeded draw: the members of every class, in ascending class order, each shuffled by the same
``numpy.random.default_rng(seed)`` (:func:`class_orders`). Two ways to take from it:

- :func:`fraction_per_class`: the first ``round(fraction * size)`` of every class (at least one once a
  class has two members) -- ``edgewise train``'s held-out split.
- :func:`stratified_indices`: ``n`` items in proportion to the classes, in an order where a smaller
  ``n`` is a prefix of a larger one -- export's calibration, ``parity.npz`` and validation samples.

Both take the first members of each class's shuffled order, so the same labels and seed give nested
picks: a class's items in a smaller sample are among those of a larger one, whichever way it was taken.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 1337  # every seeded draw edgewise makes (splits, shuffling, samples) unless told otherwise


def class_orders(labels: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The indices of each class (ascending class order), each in a seeded random order."""
    labels = np.asarray(labels)
    if not len(labels):
        return []
    by_class = np.argsort(labels, kind="stable")
    in_class_order = labels[by_class]
    boundaries = np.flatnonzero(in_class_order[1:] != in_class_order[:-1]) + 1
    return [rng.permutation(members) for members in np.split(by_class, boundaries)]


def fraction_per_class(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``fraction`` of every class, rounded, and at least one item of a class that has
    two or more when ``fraction`` > 0."""
    held = []
    for members in class_orders(labels, np.random.default_rng(seed)):
        n = int(round(len(members) * fraction))
        if fraction > 0 and n == 0 and len(members) > 1:
            n = 1
        held.append(members[:n])
    return np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)


def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` items whose class proportions match ``labels``, in a seeded order.

    Every class present gets its share (at least one item once ``n`` reaches the number of classes),
    and a smaller ``n`` is a prefix of a larger one with the same seed.
    """
    labels = np.asarray(labels)
    n = min(int(n), len(labels))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    orders = class_orders(labels, rng)
    order = np.concatenate(orders)
    rank = np.concatenate([np.arange(len(members)) for members in orders]).astype(np.float64)
    frequency = np.concatenate([np.full(len(members), len(members)) for members in orders])
    # One of every class first, then (rank + 0.5) / count interleaves the classes in proportion;
    # ties (the first of each class, equal shares) fall in a seeded random order.
    key = np.where(rank == 0, 0.0, (rank + 0.5) / frequency)
    tie_break = rng.permutation(len(order))
    return order[np.lexsort((tie_break, key))[:n]]
