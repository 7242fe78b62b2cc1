"""What ``edgewise bench`` measures: the model files named on the command line, or a bundle's artifacts
(the card's list, each checked to be inside the bundle and exported from the card's model), each with its
format, quantisation mode and ``parity.npz``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgewise.runtime import binding
from edgewise.runtime.card import CARD_FILE, SUFFIX, ModelCard, Quantize
from edgewise.runtime.errors import EdgewiseError, InputError
from edgewise.runtime.parity import find_parity

MODEL_SUFFIXES = tuple(SUFFIX.values())
QUANTIZE_ORDER = [q.value for q in Quantize]


@dataclass(frozen=True)
class Target:
    """One model file to measure, with what the bundle says about it."""

    path: Path
    format: str
    quantize: str
    parity: Path | None


def discover(paths: list[Path]) -> list[Target]:
    """Model files from bundle directories (the card's artifacts, else every .tflite/.onnx) and files."""
    targets: list[Target] = []
    for path in paths:
        if path.is_dir():
            files = _bundle_files(path)
            if not files:
                raise InputError(f"{path}: no .tflite or .onnx model in this directory")
        elif path.is_file():
            if path.suffix.lower() not in MODEL_SUFFIXES:
                raise InputError(f"{path}: not a model file (expected .tflite or .onnx)")
            files = [path]
        else:
            raise InputError(f"{path}: no such file or directory")
        for file in files:
            fmt, quantize = _describe_file(file)
            targets.append(Target(file, fmt, quantize, find_parity(file)))
    unique: dict[Path, Target] = {}
    for target in targets:
        unique.setdefault(target.path.resolve(), target)
    return list(unique.values())


def _bundle_files(bundle: Path) -> list[Path]:
    """The card's artifacts (each inside the bundle), else the visible model files in the directory.

    Hidden files are never measured: they are the temporaries of an export in progress or one that was
    killed (``.model_fp32.<pid>.tmp.tflite``).
    """
    card_path = bundle / CARD_FILE
    if card_path.is_file():
        card = ModelCard.load(card_path)
        listed = [_inside(bundle, name) for name in card.artifacts if (bundle / name).is_file()]
        for path in listed:
            if binding.stale(card, path.name):
                raise InputError(
                    f"{path}: exported from another model.keras than {card_path} describes; export again"
                )
        if listed:
            return sorted(listed, key=_sort_key)
    return sorted(
        (p for p in bundle.iterdir() if p.suffix.lower() in MODEL_SUFFIXES and not p.name.startswith(".")),
        key=_sort_key,
    )


def _inside(bundle: Path, name: str) -> Path:
    """``bundle / name``, refused when it resolves outside the bundle (a symlink or a crafted name)."""
    path = bundle / name
    if not path.resolve().is_relative_to(bundle.resolve()):
        raise InputError(f"{path}: the model card names a file outside the bundle; refused")
    return path


def _sort_key(path: Path) -> tuple:
    fmt, quantize = _describe_file(path)
    rank = QUANTIZE_ORDER.index(quantize) if quantize in QUANTIZE_ORDER else len(QUANTIZE_ORDER)
    return (MODEL_SUFFIXES.index(path.suffix.lower()), rank, path.name)


def _describe_file(path: Path) -> tuple[str, str]:
    """(format, quantisation mode) from the bundle's card, else from the ``model_<mode>.<ext>`` name."""
    fmt = path.suffix.lower().lstrip(".")
    card_path = path.parent / CARD_FILE
    if card_path.is_file():
        try:
            artifact = ModelCard.load(card_path).artifacts.get(path.name)
        except EdgewiseError:
            artifact = None
        if artifact is not None:
            return artifact.format, artifact.quantize
    stem = path.stem
    mode = stem.split("_", 1)[1] if stem.startswith("model_") else ""
    return fmt, mode if mode in QUANTIZE_ORDER else ""
