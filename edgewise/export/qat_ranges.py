"""The activation ranges of a fake-quantised model (:mod:`edgewise.export.qat`): calibrated, then narrowed.

Min/max start at the calibration images' range. Then, quantiser by quantiser in graph order, the range /
2**k (k <= :data:`RANGE_SHRINKS`) is kept where it brings the fake-quantised model's outputs closer to
the float model's on the same images: a channel that is large but that later layers ignore (the zoo's
``outlier_cnn``) then no longer decides the step size of all the others.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

log = logging.getLogger("edgewise.export")

RANGE_SHRINKS = 11  # narrower ranges tried per quantiser: the calibrated range / 2**k, k = 1..11


def calibrate(model, quantizers: list, images: np.ndarray, batch_size: int = 256) -> None:
    """Each quantiser's [min, max] := the range of its input on ``images`` (zero always inside)."""
    import keras

    for q in quantizers:
        q.enabled = False
    probe = keras.Model(model.inputs, [q.input for q in quantizers])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _calibrate_ranges(probe, quantizers, images, batch_size)


def _calibrate_ranges(probe, quantizers: list, images: np.ndarray, batch_size: int) -> None:
    lows = np.zeros(len(quantizers))
    highs = np.zeros(len(quantizers))
    for start in range(0, len(images), batch_size):
        outputs = probe(images[start : start + batch_size], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for i, out in enumerate(outputs):
            out = np.asarray(out)
            lows[i] = min(lows[i], float(out.min()))
            highs[i] = max(highs[i], float(out.max()))
    for q, low, high in zip(quantizers, lows, highs, strict=True):
        q.enabled = True
        if q.fixed_range is not None:
            continue
        q.minimum.assign(low)
        q.maximum.assign(max(high, low + 1e-6))


def narrow_ranges(model, quantizers: list, images: np.ndarray, reference: np.ndarray, *, classifier: bool):
    """In graph order, keep the range / 2**k (k <= :data:`RANGE_SHRINKS`) that brings the fake-quantised
    outputs closest to ``reference`` (KL divergence for probabilities, squared error otherwise)."""
    narrowed = []
    for q in (q for q in quantizers if q.fixed_range is None):
        low, high = float(q.minimum.numpy()), float(q.maximum.numpy())
        scores = []
        for k in range(RANGE_SHRINKS + 1):
            q.minimum.assign(low / 2**k)
            q.maximum.assign(high / 2**k)
            scores.append(_divergence(reference, outputs(model, images), classifier))
        best = int(np.argmin(scores))
        if scores[best] >= scores[0]:
            best = 0
        q.minimum.assign(low / 2**best)
        q.maximum.assign(high / 2**best)
        if best:
            narrowed.append(q.name)
            log.info("QAT: %s range [%.4g, %.4g] -> [%.4g, %.4g]", q.name, low, high, low / 2**best,
                     high / 2**best)  # fmt: skip
    return narrowed


def _divergence(reference: np.ndarray, outputs: np.ndarray, classifier: bool) -> float:
    if classifier:
        p = np.clip(reference, 1e-7, 1.0)
        q = np.clip(outputs, 1e-7, 1.0)
        return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=-1)))
    return float(np.mean((reference - outputs) ** 2))


def outputs(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    with warnings.catch_warnings():  # "the structure of inputs doesn't match": a list of one input
        warnings.simplefilter("ignore")
        return np.concatenate(
            [
                np.asarray(model(images[i : i + batch_size], training=False))
                for i in range(0, len(images), batch_size)
            ]  # fmt: skip
        )
