"""The artifact a bundle runs on each device: chosen by ``edgewise bench BUNDLE --pick``, read by
``Classifier(bundle_dir)`` and ``edgewise predict BUNDLE_DIR``.

Choices live in ``picks.json`` beside the model card, one per device key (:mod:`.device`), so a bundle
copied to a Raspberry Pi carries the Pi's choice and the laptop's side by side. A choice names the file,
the thread count it was fastest at, and the sha256 the card gave that file when it was measured: if the
artifact has been exported again since, the choice is stale and the default is used instead.

Without a choice for this device the default is the fp32 artifact (TFLite first): never slower than
fp32 by construction, and exact. ``--pick`` is how a bundle learns that int8 (or fp16, or 2 threads)
is faster on this particular CPU.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgewise.runtime import atomic, formatting
from edgewise.runtime.card import CARD_FILE, Format, ModelCard, Quantize, artifact_name
from edgewise.runtime.device import this_device_key
from edgewise.runtime.errors import ModelFileError

PICKS_FILE = "picks.json"
SCHEMA = "edgewise.picks"
SCHEMA_VERSION = 1
DEFAULT_ORDER = [
    artifact_name(fmt, mode)
    for mode in (Quantize.FP32, Quantize.FP16, Quantize.DYNAMIC, Quantize.INT8)
    for fmt in (Format.TFLITE, Format.ONNX)
]


@dataclass(frozen=True)
class Choice:
    """What a bundle directory resolves to on this device, and why (one sentence for humans)."""

    path: Path
    threads: int | None
    reason: str
    picked: bool  # True: from picks.json for this device; False: the default


def load(bundle: str | os.PathLike) -> dict[str, Any]:
    """The ``devices`` mapping of a bundle's ``picks.json``; empty when there is none."""
    path = Path(bundle) / PICKS_FILE
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ModelFileError(f"{path}: not an edgewise picks file (schema={_get(doc, 'schema')!r})")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ModelFileError(
            f"{path}: picks schema version {version!r} is newer than this edgewise understands; upgrade"
        )
    devices = doc.get("devices")
    return devices if isinstance(devices, dict) else {}


def record(bundle: str | os.PathLike, key: str, choice: dict[str, Any]) -> Path:
    """Store ``choice`` for device ``key``, keeping every other device's choice."""
    devices = load(bundle)
    devices[key] = choice
    doc = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "devices": devices}
    return atomic.write_json(Path(bundle) / PICKS_FILE, doc)


def resolve(bundle: str | os.PathLike, key: str | None = None) -> Choice:
    """The model file (and thread count) to run from ``bundle`` on the device ``key`` (default: this one)."""
    bundle = Path(bundle)
    card = ModelCard.load(bundle / CARD_FILE) if (bundle / CARD_FILE).is_file() else None
    key = key or this_device_key()
    stale = ""
    entry = load(bundle).get(key)
    if isinstance(entry, dict) and entry.get("artifact"):
        file = str(entry["artifact"])
        listed = card.artifacts.get(file) if card else None
        if not (bundle / file).is_file():
            stale = f"the choice for this device, {file}, is missing from the bundle"
        elif listed is not None and entry.get("sha256") and listed.sha256 != entry["sha256"]:
            stale = f"{file} was exported again after it was picked; run `edgewise bench --pick` again"
        else:
            threads = int(entry["threads"]) if entry.get("threads") else None
            return Choice(
                bundle / file,
                threads,
                f"{file} at {formatting.threads(threads)}, picked for this device ({key}) by "
                "`edgewise bench --pick`",
                picked=True,
            )
    path = default_artifact(bundle, card)
    reason = f"{path.name}, the default (no `edgewise bench --pick` choice for this device, {key})"
    if stale:
        reason = f"{path.name}, the default ({stale})"
    return Choice(path, None, reason, picked=False)


def model_for(path: Path, threads: int | None) -> tuple[Path, int | None, Choice | None]:
    """A model file as it is; a bundle directory resolved to its artifact for this device (the threads
    picked with it unless ``threads`` is given), with the :class:`Choice` that says why."""
    if not path.is_dir():
        return path, threads, None
    choice = resolve(path)
    return choice.path, threads if threads is not None else choice.threads, choice


def default_artifact(bundle: Path, card: ModelCard | None) -> Path:
    """fp32 TFLite, else fp32 ONNX, else the least quantised artifact there is (validated ones first)."""
    present = [name for name in DEFAULT_ORDER if (bundle / name).is_file()]
    if card is not None:
        validated = [n for n in present if n in card.artifacts and card.artifacts[n].validated]
        present = validated or present
    if not present:
        present = sorted(p.name for p in bundle.iterdir() if p.suffix.lower() in (".tflite", ".onnx"))
    if not present:
        raise ModelFileError(f"{bundle}: no .tflite or .onnx model in this directory")
    return bundle / present[0]


def _get(doc: Any, key: str) -> Any:
    return doc.get(key) if isinstance(doc, dict) else None
