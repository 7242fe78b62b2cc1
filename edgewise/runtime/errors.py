"""Typed errors. The CLI turns any :class:`EdgewiseError` into one line on stderr and exit code 2."""


class EdgewiseError(Exception):
    """Base class for errors that are the user's input, not a bug: reported in one line, no traceback."""

    exit_code = 2


class InputError(EdgewiseError):
    """A path, name or option that cannot be used (missing file, unknown model, bad image...)."""


class ImageError(InputError):
    """An image file that cannot be decoded into the pixels the model needs."""


class ModelFileError(InputError):
    """A model file that is missing, truncated, corrupt or disagrees with its model card."""


class BackendUnavailable(EdgewiseError):
    """No installed package can run this model (or this device)."""


class ValidationError(EdgewiseError):
    """An exported artifact whose parity with the reference model is below the threshold."""

    exit_code = 1
