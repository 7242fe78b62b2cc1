"""Errors of the exporter. All are :class:`EdgewiseError` s: the CLI prints one line and exits non-zero."""

from __future__ import annotations

from edgewise.runtime.errors import EdgewiseError, InputError, ValidationError


class MissingPackageError(EdgewiseError):
    """A package a format needs (tensorflow, tf2onnx, onnx, onnxruntime...) is not installed."""


class ConversionError(EdgewiseError):
    """The converter refused the model (an op or a custom layer it cannot express)."""


class UnsupportedCombinationError(InputError):
    """A quantisation mode, I/O type or calibration method a format cannot do."""


class ArtifactRejected(ValidationError):
    """An artifact whose parity with the Keras model missed a threshold; written aside as ``.rejected``.

    ``failures`` holds one sentence per missed threshold, each saying by how much it missed.
    """

    def __init__(self, artifact: str, failures: list[str], parity: dict | None = None):
        self.artifact = artifact
        self.failures = list(failures)
        self.parity = parity
        super().__init__(f"{artifact}: rejected, {'; '.join(self.failures)}")


def require(*modules: str, purpose: str) -> None:
    """Import ``modules`` or raise one line naming what is missing and how to get it."""
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingPackageError(
            f'{purpose} needs {", ".join(missing)}, not installed here; pip install "edgewise[train]"'
        )
