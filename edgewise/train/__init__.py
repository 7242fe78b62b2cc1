"""Training with tf.keras: data sources, the model zoo, the training loop and the run directory.

TensorFlow is imported lazily inside the functions that need it, so importing this package is cheap.
"""

from __future__ import annotations

from edgewise.train.data import Split, Splits, load_splits
from edgewise.train.zoo import ModelConfig, create_model, get_config, list_models, register_model


def train(*args, **kwargs):
    """See :func:`edgewise.train.api.train`."""
    from edgewise.train.api import train as _train

    return _train(*args, **kwargs)


__all__ = [
    "ModelConfig",
    "Split",
    "Splits",
    "create_model",
    "get_config",
    "list_models",
    "load_splits",
    "register_model",
    "train",
]
