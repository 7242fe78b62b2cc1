"""Pretrained weights for transfer learning: ImageNet when cached or downloadable, else a clear error."""

from __future__ import annotations

import os
from pathlib import Path

from edgewise.runtime.errors import InputError

NO_WEIGHTS = ("none", "")


def is_pretrained(weights: str | None) -> bool:
    return weights is not None and str(weights).lower() not in NO_WEIGHTS


def build_base(base_fn, name: str, weights: str | None, **kwargs):
    """Call a ``keras.applications`` constructor, turning a failed weights download into an InputError.

    ``weights`` is "imagenet", "none" (random initialisation, works offline) or a path to a weights file.
    """
    choice = str(weights) if is_pretrained(weights) else None
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
                f"({_reason(e)}); use --weights none to train from scratch"
            ) from None
        raise InputError(f"{name}: cannot use weights {choice!r} ({_reason(e)})") from None


def _reason(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return text.split(" on http")[0][:160]  # "URL fetch failure on https://<long url>" -> the failure
