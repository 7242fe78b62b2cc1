"""``edgewise info``: what a model file is (tensors, quantisation, ops, size, engine, model card), or
what a bundle directory holds and which of its artifacts ``predict`` runs on this device."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgewise.runtime import argtypes, binding, formatting, parity, picks
from edgewise.runtime.card import CARD_FILE, ModelCard
from edgewise.runtime.errors import EdgewiseError, InputError
from edgewise.runtime.terminal import printable

INFO_SUMMARY = "show a model's inputs, outputs, quantisation, ops, size and model card"
INFO_DESCRIPTION = """\
Describe a .tflite or .onnx model: input/output tensors with dtype, shape and quantisation, the ops the
graph uses, file size and sha256, the engine that runs it, and its model card (with the parity figures
measured at export, when the bundle has them).
"""

INFO_EPILOG = """\
examples:
  edgewise info runs/fm/model_int8.tflite
  edgewise info runs/fm                    # a bundle: its artifacts, and the one predict would run here
  edgewise info runs/fm/model_fp32.onnx --json | python -m json.tool
  edgewise info runs/fm/model_int8.tflite --engine tflite_runtime   # what another engine sees
"""


def register(sub) -> None:
    p = argtypes.add_command(sub, "info", INFO_SUMMARY, INFO_DESCRIPTION, INFO_EPILOG)
    argtypes.add_model_argument(p, "its artifacts, then the one `edgewise predict` runs from it here")
    p.add_argument("--json", action="store_true", help="print the description as one JSON object")
    argtypes.add_engine_options(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    bundle = describe_bundle(args.model) if args.model.is_dir() else None
    path, threads, choice = picks.model_for(args.model, args.threads)
    if bundle is not None:
        bundle["runs_here"] = choice.reason
    described = describe_model(path, threads=threads, device=args.device, engine=args.engine)
    if bundle is not None:
        described = {"bundle": bundle, **described}
    print(json.dumps(described, indent=2) if args.json else render_info(described))
    return 0


def describe_bundle(directory: Path) -> dict:
    """The bundle's artifacts as its card lists them, each with whether the file is there."""
    if not (directory / CARD_FILE).is_file():
        raise InputError(f"{directory}: no {CARD_FILE} here; give a model file, or a bundle directory")
    card = ModelCard.load(directory / CARD_FILE)
    artifacts = [
        {
            "file": name,
            "present": (directory / name).is_file(),
            "size_bytes": a.size_bytes,
            "validated": a.validated,
            "parity": a.parity,
        }
        for name, a in card.artifacts.items()
    ]
    return {"directory": str(directory), "model": card.model, "artifacts": artifacts}


def describe_model(path: Path, *, threads=None, device="cpu", engine=None) -> dict:
    """Everything ``edgewise info`` shows, as a JSON-ready dict."""
    from edgewise.runtime.backends import load_backend
    from edgewise.runtime.classifier import check_card_matches, graph_hwc, model_card_for

    backend = load_backend(path, threads=threads, device=device, engine=engine)
    sha256 = binding.file_sha256(path)
    info: dict = {
        "model": str(path),
        "size_bytes": path.stat().st_size,
        "sha256": sha256,
        "format": path.suffix.lstrip(".").lower(),
        **backend.describe(),
        "inputs": [_tensor(t) for t in backend.inputs],
        "outputs": [_tensor(t) for t in backend.outputs],
        "card_source": None,
        "card": None,
        "warnings": [],
    }
    try:
        card, source = model_card_for(path, backend)
    except EdgewiseError as e:
        info["warnings"].append(str(e))
        return info
    if card is None:
        info["warnings"].append(
            f"no model card ({path.parent / 'edgewise.json'}); labels would be class indices"
        )
        return info
    info["card_source"], info["card"] = source, card.to_dict()
    classes = backend.outputs[0].shape[-1] if backend.outputs[0].shape else None
    try:
        if card.input.is_image:
            check_card_matches(card, source, path, graph_hwc(backend), classes)
    except EdgewiseError as e:
        info["warnings"].append(str(e))
    message, _ = binding.problem(card, path)
    if message:
        info["warnings"].append(message)
    artifact = card.artifacts.get(path.name)
    if artifact and artifact.sha256 and sha256 and artifact.sha256 != sha256:
        info["warnings"].append(
            f"{path}: sha256 differs from the card's entry; the file changed after export"
        )
    return info


def _tensor(spec) -> dict:
    d = {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}
    if spec.quantized:
        d.update(scale=spec.scale, zero_point=spec.zero_point)
    return d


def render_info(info: dict) -> str:
    lines = _bundle_lines(info["bundle"]) if info.get("bundle") else []
    lines += [
        f"model     {info['model']}",
        f"size      {formatting.size(info['size_bytes'])}"
        + (f"  sha256 {info['sha256'][:16]}…" if info["sha256"] else ""),
        f"engine    {info['engine']} {info['engine_version']} on {info['device']}"
        + (
            f"  (opset {info['opsets'].get('ai.onnx')}, made by {info['producer']})"
            if info.get("opsets")
            else ""
        ),
    ]
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            shape = "(" + ", ".join("N" if d is None else str(d) for d in t["shape"]) + ")"
            quant = (
                f"  quantised: scale {t['scale']:.6g}, zero point {t['zero_point']}" if "scale" in t else ""
            )
            lines.append(f"{kind[:-1]:<9} {t['name']}  {t['dtype']}  {shape}{quant}")
    ops = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(info["ops"].items()))
    lines.append(f"ops       {ops or '(not available from this engine)'}")
    card = info["card"]
    if card:
        inp, prep = card["input"], card["preprocessing"]
        shape = "x".join(map(str, inp["shape"]))
        labels = card["labels"]
        shown = ", ".join(labels[:10]) + (f", … ({len(labels)} in all)" if len(labels) > 10 else "")
        lines += [
            f"card      {info['card_source']}",
            f"  model   {card.get('model') or '?'}; input {shape} {inp['layout']}; "
            f"resize {prep['resize']}, {prep['fit']}",
            f"  labels  {shown}",
        ]
        if prep.get("recipe"):
            from edgewise.runtime.normalize import Normalization

            recipe = prep["recipe"]
            lines.append(
                f"  pixels  {Normalization.from_dict(recipe).describe()}, inside the graph"
                + (f" ({recipe['source']})" if recipe.get("source") else "")
            )
        if card.get("task") or inp.get("kind"):
            lines.append(f"  task    {card.get('task', 'classification')}; {inp.get('kind', 'image')} input")
        artifact = card.get("artifacts", {}).get(Path(info["model"]).name)
        if artifact:
            lines.append(
                f"  export  {artifact['format']} {artifact['quantize']} (I/O {artifact['io']})"
                + (
                    f", calibrated on {artifact['calibration_samples']} samples"
                    if artifact.get("calibration_samples")
                    else ""
                )
            )
            if artifact.get("parity"):
                lines.append(f"  parity  {parity.summary(artifact['parity'])}")
    for warning in info["warnings"]:
        lines.append(f"warning   {warning}")
    return "\n".join(printable(line) for line in lines)


def _bundle_lines(bundle: dict) -> list[str]:
    """The bundle's artifacts, one line each with size and parity, then which one runs here."""
    artifacts = bundle["artifacts"]
    lines = [f"bundle    {bundle['directory']}" + (f" ({bundle['model']})" if bundle.get("model") else "")
             + f": {len(artifacts)} artifact{'s' if len(artifacts) != 1 else ''}"]  # fmt: skip
    width = max((len(a["file"]) for a in artifacts), default=0)
    for a in artifacts:
        figures = a.get("parity") or {}
        accuracy, reference = figures.get("accuracy"), figures.get("reference_accuracy")
        cells = [a["file"].ljust(width), formatting.size(a.get("size_bytes"), missing="?").rjust(10)]
        if accuracy is not None:
            drop = f" ({100 * (accuracy - reference):+.2f} pp)" if reference is not None else ""
            cells.append(f"top-1 {formatting.pct(accuracy)}{drop}")
        status = "missing" if not a["present"] else "validated" if a.get("validated") else "not validated"
        lines.append("  " + "  ".join([*cells, status]))
    lines.append(f"runs here {bundle['runs_here']}")
    return lines
