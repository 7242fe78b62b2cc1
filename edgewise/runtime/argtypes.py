"""argparse value types shared by every ``edgewise`` subcommand, so that they say the same things."""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgewise.runtime import limits
from edgewise.runtime.backends import ENGINES


def whole_number(text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    return whole_number(text, minimum=0)


def int_list(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``: whole numbers of at least 1, duplicates dropped, order kept."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers of at least 1, got {text!r}")
    return list(dict.fromkeys(values))


def bounded_int(minimum: int, maximum: int):
    """An argparse ``type=`` for a whole number in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be between {minimum} and {maximum}, got {value}")
        return value

    return parse


def bounded_int_list(minimum: int, maximum: int):
    """An argparse ``type=`` for comma-separated whole numbers in ``[minimum, maximum]``, de-duplicated."""

    def parse(text: str) -> list[int]:
        try:
            values = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated whole numbers, got {text!r}"
            ) from None
        if not values or any(not minimum <= v <= maximum for v in values):
            raise argparse.ArgumentTypeError(
                f"expected numbers between {minimum} and {maximum}, got {text!r}"
            )
        return list(dict.fromkeys(values))

    return parse


def seconds(maximum: float):
    """An argparse ``type=`` for a positive, finite number of seconds up to ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not math.isfinite(value) or not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {maximum:g} s, got {text}")
        return value

    return parse


class HelpFormatter(argparse.HelpFormatter):
    """A command's ``--help``: the description wrapped to the terminal, as argparse does; the epilog (the
    examples), and any text with line breaks, printed as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_command(sub, name: str, summary: str, description: str, epilog: str | None = None):
    """A sub-command's parser: ``summary`` for the command list, ``description`` prose (its line breaks
    are the source's, not the help's), ``epilog`` the examples as written."""
    return sub.add_parser(
        name,
        help=summary,
        description=" ".join(description.split()),
        epilog=epilog,
        formatter_class=HelpFormatter,
    )


def add_count(parser, *flags: str, low: int, high: int, default: int, metavar: str = "N", help: str):
    """An option that takes a whole number in ``[low, high]``."""
    return parser.add_argument(
        *flags, type=bounded_int(low, high), default=default, metavar=metavar, help=help
    )


def add_model_argument(
    p: argparse.ArgumentParser,
    bundle_means: str = "the artifact `edgewise bench --pick` chose for this device, else its fp32 one",
) -> None:
    """The ``MODEL|BUNDLE`` positional of predict, info and serve (:func:`edgewise.runtime.picks.model_for`
    resolves it); ``bundle_means``: what the command takes from a bundle directory."""
    p.add_argument(
        "model",
        type=Path,
        metavar="MODEL|BUNDLE",
        help=f"model file (.tflite or .onnx), or a bundle directory: {bundle_means}",
    )


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--threads``, ``--device`` and ``--engine``: how every command that runs a model picks its engine."""
    p.add_argument(
        "--threads",
        type=bounded_int(1, limits.MAX_THREADS),
        metavar="N",
        help=f"CPU threads for the engine, 1..{limits.MAX_THREADS} (default: its own)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "gpu", "auto"),
        default="cpu",
        help="cpu (default); gpu: ONNX Runtime's CUDA/TensorRT providers, an error if there is none; "
        "auto: a GPU when available, else the CPU",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        help="force an engine (default: by file suffix; .tflite tries litert, tflite_runtime, tensorflow)",
    )


def api_keywords(args: argparse.Namespace, function: Callable, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments for ``function`` from parsed ``args``: every option whose dest is one of its
    parameters, then ``overrides`` for the parameters an option does not give as it is. A new option thus
    needs its ``add_argument`` and its API keyword, nothing in between."""
    accepted = inspect.signature(function).parameters
    return {**{name: value for name, value in vars(args).items() if name in accepted}, **overrides}
