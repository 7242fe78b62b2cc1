"""What a format module hands back: the bytes of one artifact and the facts the card records about it."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Converted:
    data: bytes
    io: str = "float"  # dtype of the graph's input/output tensors: float | int8
    integer_only: bool | None = None  # int8 graphs: every compute op runs on integers
    calibration_samples: int | None = None
    calibration_method: str | None = None
    tools: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def converter_message(e: BaseException) -> str:
    """The useful line of a converter's exception: TF's run to pages, and the ``error:`` line matters."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line[line.index("error:") + len("error:") :].strip().rstrip(".")[:300]
    return (lines[0] if lines else type(e).__name__).rstrip(".")[:300]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence converter chatter: Python warnings, TF/ORT log records, prints, and native writes to fd 2.

    Converters print progress lines from C++ ("fully_quantize: 0, ...") that would bury the export's own
    output. Failures still surface: converters raise, and their exceptions carry the error text. With
    ``edgewise -v`` (debug logging) nothing is silenced.
    """
    if logging.getLogger("edgewise").isEnabledFor(logging.DEBUG):
        yield
        return
    loggers = [logging.getLogger(), logging.getLogger("tensorflow"), logging.getLogger("tf2onnx")]
    levels = [logger.level for logger in loggers]
    sys.stderr.flush()
    saved_fd = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                for logger in loggers:
                    logger.setLevel(logging.ERROR)
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    yield
            finally:
                sys.stderr.flush()
                os.dup2(saved_fd, 2)
                for logger, level in zip(loggers, levels, strict=True):
                    logger.setLevel(level)
    finally:
        os.close(saved_fd)
