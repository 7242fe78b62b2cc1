"""Random augmentation applied in the input pipeline (never inside the model, so exports stay clean)."""

from __future__ import annotations

from edgewise.runtime.errors import InputError

AUGMENTATIONS = ("flip", "rotation", "zoom", "contrast", "translate")


def build_augmenter(names: tuple[str, ...] | list[str], *, seed: int):
    """A ``keras.Sequential`` of random layers for ``names`` (see :data:`AUGMENTATIONS`)."""
    import keras
    from keras import layers

    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise InputError(
            f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}"
        )
    make = {
        "flip": lambda: layers.RandomFlip("horizontal", seed=seed),
        "rotation": lambda: layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 1),
        "zoom": lambda: layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
        "contrast": lambda: layers.RandomContrast(0.2, value_range=(0, 255), seed=seed + 3),
        "translate": lambda: layers.RandomTranslation(0.06, 0.06, fill_mode="constant", seed=seed + 4),
    }
    return keras.Sequential([make[name]() for name in names], name="augment")
