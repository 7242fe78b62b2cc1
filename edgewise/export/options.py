"""The options of one export, checked before the (slow) model load, and the plan they make.

:func:`edgewise.export.export` gathers its keywords into :class:`Options` (the names are the options of
``edgewise export --help``); :func:`plan` refuses bad input with one-line errors and says which
(format, mode) artifacts to make.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edgewise.export import int8_variants, qat, repair, tflm
from edgewise.export import validate as validation
from edgewise.export.errors import UnsupportedCombinationError
from edgewise.runtime.card import Format, Quantize
from edgewise.runtime.errors import InputError
from edgewise.runtime.limits import MAX_THREADS, check_seed

FORMATS = tuple(f.value for f in Format)
MODES = tuple(q.value for q in Quantize)
MIN_OPSET = 13


@dataclass(frozen=True)
class Options:
    """Every keyword of :func:`edgewise.export.export`, as given (documented there)."""

    run: Any
    format: str | Iterable[str]
    quantize: str | Iterable[str]
    out: Any
    io: str | None
    opset: int | None
    calibration: str | None
    calib_samples: int
    validate: bool
    thresholds: Any
    val_samples: int | None
    parity_samples: int
    explain: bool
    int8_variant: str
    data: dict[str, Any] | None
    splits: Any
    labels: Any
    preprocess: str | None
    task: str | None
    seed: int
    threads: int | None
    progress: bool | None
    check: bool
    fits: str | None
    npu: str | None
    max_drop: float | None
    repair_steps: int
    qat_epochs: int | None
    qat_lr: float


@dataclass(frozen=True)
class Plan:
    artifacts: list[tuple[Format, Quantize]]  # in order
    micro: bool  # --format tflm: TFLite Micro sources from the int8 TFLite artifact

    @property
    def int8(self) -> bool:
        """Whether any artifact is int8, i.e. calibration data are needed."""
        return any(mode is Quantize.INT8 for _, mode in self.artifacts)


def format_module(fmt: Format | str):
    """The module that converts to ``fmt``; each has ``MODES``, ``IO_TYPES``, ``CALIBRATION_METHODS``."""
    from edgewise.export import onnx, tflite

    return {Format.TFLITE: tflite, Format.ONNX: onnx}[Format(fmt)]


def plan(o: Options) -> Plan:
    """Every option check that needs no model, and the artifacts to make."""
    formats, micro = tflm.split_format(o.format)
    if micro:
        tflm.check_options(o.quantize, o.io, o.fits, o.npu)
    elif o.fits is not None:
        raise InputError("--fits checks a microcontroller build; add --format tflm")
    formats, modes = _choices(formats, FORMATS, "format"), _choices(o.quantize, MODES, "quantize")
    artifacts = [(Format(f), Quantize(q)) for f in formats for q in modes]
    for fmt, mode in artifacts:
        _check_combination(fmt, mode, io=o.io, calibration=o.calibration)
    _check_numbers(o)
    check_seed(o.seed)
    repair.check_options(o.max_drop, o.repair_steps)
    if o.int8_variant not in int8_variants.CHOICES:
        raise InputError(f"--int8-variant {o.int8_variant!r}: choose {' or '.join(int8_variants.CHOICES)}")
    validation.thresholds_with(o.thresholds)
    result = Plan(artifacts, micro)
    qat.check_options(o.qat_epochs, o.qat_lr, int8=result.int8, max_drop=o.max_drop, explain=o.explain)
    return result


def _check_numbers(o: Options) -> None:
    for option, value in (("--calib-samples", o.calib_samples), ("--parity-samples", o.parity_samples),
                          ("--threads", o.threads)):  # fmt: skip
        if value is not None and value < 1:
            raise InputError(f"{option} must be at least 1, not {value}")
    if o.threads is not None and o.threads > MAX_THREADS:
        raise InputError(f"--threads must be at most {MAX_THREADS}, not {o.threads}")
    if o.opset is not None and o.opset < MIN_OPSET:
        raise InputError(
            f"--opset {o.opset}: ONNX export needs opset {MIN_OPSET} or newer (per-channel int8)"
        )


def _choices(value: str | Iterable[str], allowed: tuple[str, ...], option: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    chosen: list[str] = []
    for item in (i.strip().lower() for i in items):
        if item == "all":
            picked = list(allowed)
        elif item in allowed:
            picked = [item]
        else:
            raise InputError(f"--{option} {item!r}: choose from {', '.join(allowed)} or all")
        chosen += [p for p in picked if p not in chosen]
    if not chosen:
        raise InputError(f"--{option}: nothing chosen")
    return chosen


def _check_combination(fmt: Format, mode: Quantize, *, io: str | None, calibration: str | None) -> None:
    module = format_module(fmt)
    if mode not in module.MODES:
        raise UnsupportedCombinationError(
            f"{fmt} cannot do --quantize {mode}; it can do {', '.join(str(m) for m in module.MODES)}"
        )
    if io is not None and mode is Quantize.INT8 and io not in module.IO_TYPES:
        raise UnsupportedCombinationError(
            f"{fmt} {mode} cannot have --io {io}; it can do {', '.join(module.IO_TYPES)}"
        )
    if io is not None and io not in ("int8", "float"):
        raise InputError(f"--io {io!r}: choose int8 or float")
    if calibration is not None and calibration not in _all_calibration_methods():
        raise InputError(
            f"--calibration {calibration!r}: choose from {', '.join(_all_calibration_methods())}"
        )
    if calibration is not None and fmt is Format.TFLITE and calibration not in module.CALIBRATION_METHODS:
        raise UnsupportedCombinationError(
            f"tflite calibrates with {', '.join(module.CALIBRATION_METHODS)} only; "
            f"--calibration {calibration} is for --format onnx"
        )


def _all_calibration_methods() -> tuple[str, ...]:
    methods: list[str] = []
    for fmt in Format:
        methods += [m for m in format_module(fmt).CALIBRATION_METHODS if m not in methods]
    return tuple(methods)
