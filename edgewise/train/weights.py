"""Pretrained weights for transfer learning: ImageNet when cached or downloadable, else a clear error."""

from __future__ import annotations

import os
from pathlib import Path

from edgewise.runtime.errors import InputError

NO_WEIGHTS = ("none", "")


def build_base(base_fn, name: str, weights: str | None, **kwargs):
    """Call a ``keras.applications`` constructor, turning a failed weights download into an InputError.

    ``weights`` is "imagenet", "none" (random initialisation, works offline) or a path to a weights file.
    """
    choice = None if weights is None or str(weights).lower() in NO_WEIGHTS else str(weights)
    if choice not in (None, "imagenet") and not Path(choice).is_file():
        raise InputError(f"{choice}: no such weights file (--weights takes imagenet, none or a file)")
    try:
        return base_fn(weights=choice, **kwargs)
    except InputError:
        raise
    except Exception as e:  # keras.utils.get_file raises a bare Exception when the download fails
        if choice == "imagenet":
            cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
            raise InputError(
                f"{name}: ImageNet weights are not in {cache} and could not be downloaded "
                f"({str(e).splitlines()[0][:120]}); use --weights none to train from scratch"
            ) from None
        raise InputError(f"{name}: cannot use weights {choice!r} ({str(e).splitlines()[0][:160]})") from None
