"""``Classifier``: a model file plus its model card, from image to top-k labels."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from edgewise.runtime import binding, picks
from edgewise.runtime.backends import Backend
from edgewise.runtime.card import CARD_FILE, ModelCard
from edgewise.runtime.errors import InputError, ModelFileError
from edgewise.runtime.limits import MAX_BATCH, check_int
from edgewise.runtime.model import DEFAULT_BATCH, Model, model_card_for
from edgewise.runtime.picks import Choice
from edgewise.runtime.preprocess import ImageSource, load_image

__all__ = ["Classifier", "Prediction", "check_card_matches", "graph_hwc", "model_card_for"]
Prediction = list[tuple[str, float]]
_PIXEL_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))
_PYTHON_SORT_MAX = 64
_IMAGE_TYPES = (str, os.PathLike, bytes, bytearray, Image.Image)


class Classifier:
    """Classify images with a ``.tflite`` or ``.onnx`` model; no TensorFlow needed.

    ``model_path`` is a model file or a bundle directory; a directory runs the artifact (and thread
    count) that ``edgewise bench BUNDLE --pick`` chose for this device, else its fp32 artifact
    (:mod:`edgewise.runtime.picks`; ``choice`` says which and why).

    Built on :class:`edgewise.runtime.model.Model` (``self.model``), which runs arrays; this class adds
    image decoding through :func:`load_image` and top-k labels.

    The model card comes from ``edgewise.json`` beside the model, else from the card embedded in an ONNX
    file; without one the model still runs from its own input shape and labels are class indices
    (``note`` says so). ``predict`` is safe to call from several threads.

    >>> clf = Classifier("bundle/model_int8.tflite")   # or Classifier("bundle")
    >>> clf.predict("cat.jpg", top=3)
    [[('cat', 0.91), ('dog', 0.06), ('fox', 0.01)]]
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        threads: int | None = None,
        device: str = "cpu",
        engine: str | None = None,
        batch_size: int = DEFAULT_BATCH,
    ):
        self.choice: Choice | None  # how a bundle directory was resolved to one of its files
        self.path, threads, self.choice = picks.model_for(Path(model_path), threads)
        batch_size = check_int(batch_size, "batch_size", maximum=MAX_BATCH)
        self.model = Model(self.path, threads=threads, device=device, engine=engine, batch_size=batch_size)
        self.backend: Backend = self.model.backend
        self.card, self.card_source = self.model.card, self.model.card_source
        if self.card is not None and not self.card.input.is_image:
            raise ModelFileError(
                f"{self.path}: takes {tuple(self.card.input.shape)} tensors, not images; give it .npy "
                "arrays (edgewise predict MODEL input.npy), or use edgewise.runtime.Model"
            )
        hwc = graph_hwc(self.backend)
        classes = self.backend.outputs[0].shape[-1] if self.backend.outputs[0].shape else None
        if self.card is not None:
            self._from_card(hwc, classes)
        else:
            self._without_card(hwc, classes)
        self.batch_size = self.model.batch_size  # checked above, then fitted to what the graph takes
        self._hw = self.input_shape[:2]
        self._channels = self.input_shape[2]

    def _from_card(self, hwc: tuple[int | None, ...], classes: int | None) -> None:
        check_card_matches(self.card, self.card_source, self.path, hwc, classes)
        message, fatal = binding.problem(self.card, self.path)
        if fatal:
            raise ModelFileError(message)
        self.note = message  # a warning for the caller to show, e.g. that the file changed after export
        self.input_shape = tuple(self.card.input.shape)
        self.labels = list(self.card.labels)
        self._resize = self.card.preprocessing.resize
        self._fit = self.card.preprocessing.fit

    def _without_card(self, hwc: tuple[int | None, ...], classes: int | None) -> None:
        """The graph's own input shape and class indices as labels, when it says enough."""
        if None in hwc or hwc[2] not in (1, 3):
            raise ModelFileError(
                f"{self.path}: no model card ({CARD_FILE}) and the model's input shape "
                f"{self.backend.inputs[0].shape} does not say the image size; add a model card"
            )
        if classes is None:
            raise ModelFileError(f"{self.path}: no model card and the number of classes is not fixed")
        self.input_shape = hwc
        self.labels = [str(i) for i in range(classes)]
        self._resize, self._fit = "bilinear", "stretch"
        self.note = f"{self.path}: no model card ({CARD_FILE}) found; labels are class indices"

    # -- input -----------------------------------------------------------------------------------------
    def preprocess(self, source: ImageSource) -> np.ndarray:
        """One image (path, bytes, PIL image or array) -> ``uint8[H, W, C]`` as this model wants it."""
        return load_image(source, self._hw, self._channels, resize=self._resize, fit=self._fit)

    def _one(self, item) -> np.ndarray:
        if isinstance(item, np.ndarray):
            _check_pixels(item)
            if item.shape == self.input_shape and item.dtype in _PIXEL_DTYPES:
                return item
        elif not isinstance(item, _IMAGE_TYPES):
            raise InputError(
                f"cannot classify a {type(item).__name__}; pass an image path, bytes, a PIL image or an array"
            )
        return self.preprocess(item)

    def _as_batch(self, x) -> np.ndarray:
        if isinstance(x, np.ndarray) and x.ndim == 4:
            if x.shape[1:] != self.input_shape or not len(x):
                raise InputError(
                    f"a batch of shape {x.shape} does not fit the model input {self.input_shape}"
                )
            _check_pixels(x)
            return x if x.dtype in _PIXEL_DTYPES else x.astype(np.float32)
        if isinstance(x, (list, tuple)):
            if not x:
                raise InputError("predict() got an empty list of images")
            return np.stack([self._one(item) for item in x])
        return self._one(x)[None]

    # -- inference -------------------------------------------------------------------------------------
    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities ``float32[N, classes]`` for one image or several."""
        batch = self._as_batch(x)
        if len(batch) <= self.batch_size:
            return self.backend.run(batch)
        step = self.batch_size  # NHWC pixels: the backend transposes for an NCHW graph itself
        return np.concatenate([self.backend.run(batch[i : i + step]) for i in range(0, len(batch), step)])

    def predict(self, x, top: int = 5) -> list[Prediction]:
        """Top-``top`` ``(label, score)`` pairs, best first, for each image in ``x``.

        ``x`` is a path, bytes, a PIL image, an array (one ``HxWxC`` image, or an ``NxHxWxC`` batch of
        preprocessed pixels), or a list of these. Always returns one list per image.
        """
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
            raise InputError(f"top must be a whole number of at least 1, not {top!r}")
        return self.top_k(self.predict_proba(x), top)

    def top_k(self, probs: np.ndarray, top: int = 5) -> list[Prediction]:
        """``(label, score)`` pairs of the ``top`` best classes per row, best first (ties: lower index)."""
        n, classes = probs.shape
        top = max(1, min(int(top), classes))
        labels = self.labels
        if (
            n == 1 and classes <= _PYTHON_SORT_MAX
        ):  # one image, few classes: plain Python is faster than numpy
            row = probs[0].tolist()
            best = sorted(range(classes), key=row.__getitem__, reverse=True)[:top]
            return [[(labels[i], row[i]) for i in best]]
        order = (-probs).argsort(axis=1, kind="stable")[:, :top].tolist()
        return [[(labels[i], row[i]) for i in idx] for idx, row in zip(order, probs.tolist(), strict=True)]

    def describe(self) -> dict:
        return {
            "model": str(self.path),
            "card": self.card_source,
            "input_shape": list(self.input_shape),
            "labels": self.labels,
            **self.backend.describe(),
        }

    def __repr__(self) -> str:
        return f"Classifier({str(self.path)!r}, engine={self.backend.name!r}, device={self.backend.device!r})"


def _check_pixels(a: np.ndarray) -> None:
    """Refuse arrays no image can be: empty, non-numeric, or holding NaN / infinity."""
    if a.size == 0:
        raise InputError(f"an array of shape {a.shape} has no pixels")
    if a.dtype.kind not in "uif" and a.dtype != np.bool_:
        raise InputError(f"an array of dtype {a.dtype} is not pixels; pass uint8 or float values")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError("the pixels hold NaN or infinite values")


def graph_hwc(backend: Backend) -> tuple[int | None, int | None, int | None]:
    """(height, width, channels) of the graph's image input; None where the graph leaves it dynamic."""
    shape = backend.inputs[0].shape
    if len(shape) != 4:
        raise ModelFileError(f"{backend.path}: expected an image input (N, H, W, C), the model takes {shape}")
    if getattr(backend, "layout", "NHWC") == "NCHW":
        return shape[2], shape[3], shape[1]
    return shape[1], shape[2], shape[3]


def check_card_matches(
    card: ModelCard, source: str | None, path: Path | str, hwc: Sequence[int | None], classes: int | None
) -> None:
    """Raise :class:`ModelFileError` when the card's input shape or label count contradicts the graph."""
    if any(g is not None and g != c for g, c in zip(hwc, card.input.shape, strict=False)):
        graph = "x".join("?" if d is None else str(d) for d in hwc)
        raise ModelFileError(
            f"{source}: model card says input {'x'.join(map(str, card.input.shape))} but {path} "
            f"takes {graph}; the card belongs to another model"
        )
    if classes is not None and classes != card.num_classes:
        raise ModelFileError(
            f"{source}: model card has {card.num_classes} labels but {path} outputs {classes} classes"
        )
