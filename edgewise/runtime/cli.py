"""``edgewise predict`` (and, from :mod:`edgewise.runtime.info`, ``edgewise info``): the runtime's
sub-commands (no TensorFlow involved)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edgewise.runtime import argtypes, formatting, info, limits
from edgewise.runtime.errors import ImageError, InputError
from edgewise.runtime.progress import Progress
from edgewise.runtime.terminal import printable


def register(sub) -> None:
    _register_predict(sub)
    info.register(sub)


PREDICT_SUMMARY = "classify images (or run .npy arrays) with a .tflite or .onnx model (no TensorFlow needed)"
PREDICT_DESCRIPTION = """\
Classify image files with an exported model. Labels and preprocessing come from the model card
(edgewise.json beside the model, or embedded in an ONNX file). Images that cannot be read are reported
one line each on stderr while the others are still classified; the exit code is then 1. Inputs ending in
.npy are arrays given to the model as they are (one sample, or a batch of samples): the way to run a
non-image model; a regressor prints its output values.
"""

PREDICT_EPILOG = """\
examples:
  edgewise predict runs/fm/model_int8.tflite shoe.jpg
  edgewise predict runs/fm/model_fp32.onnx photos/ --top 3 --json > predictions.jsonl
  edgewise predict kws_bundle/model_int8.tflite clip.npy batch_of_clips.npy
"""


def _register_predict(sub) -> None:
    p = argtypes.add_command(sub, "predict", PREDICT_SUMMARY, PREDICT_DESCRIPTION, PREDICT_EPILOG)
    argtypes.add_model_argument(p)
    p.add_argument(
        "images",
        nargs="*",
        type=Path,
        metavar="IMAGE|DIR|NPY",
        help="image files or directories, or .npy arrays",
    )
    top = "labels per image (default 5)"
    argtypes.add_count(p, "--top", "-k", low=1, high=limits.MAX_TOP, default=5, metavar="K", help=top)
    p.add_argument("--json", action="store_true", help="one JSON object per image on stdout (JSON lines)")
    batch = "images per engine call"
    argtypes.add_count(p, "--batch-size", low=1, high=limits.MAX_BATCH, default=32, metavar="B", help=batch)
    argtypes.add_engine_options(p)
    p.set_defaults(func=predict_command)


# -- predict ------------------------------------------------------------------------------------------
def collect_images(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to classify (directories searched recursively for image files) and errors for bad paths."""
    from edgewise.runtime.preprocess import is_image_file

    files: list[Path] = []
    errors: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and is_image_file(p) and not _hidden(p.relative_to(path))
            )
            if not found:
                errors.append((path, f"{path}: no image files in this directory"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            errors.append((path, f"{path}: no such file or directory"))
    return files, errors


def _hidden(relative: Path) -> bool:
    """A dot-named file or a file under a dot-named folder *below* the directory the user named."""
    return any(part.startswith(".") for part in relative.parts)


class _Output:
    """Writes results to stdout and errors to stderr without tangling them with the progress bar."""

    def __init__(self, as_json: bool, width: int, bar: Progress, verbose: bool = False):
        self.as_json = as_json
        self.width = width
        self.bar = bar
        self.verbose = verbose
        self.failed = 0
        self.header_due = not as_json  # printed with the first result: no empty table when all fail

    def _line(self, stream, text: str) -> None:
        if self.bar.enabled:
            sys.stderr.write("\r\033[K")
        stream.write(text + "\n")
        stream.flush()

    def result(self, path: Path, predictions: list[tuple[int, str, float]]) -> None:
        if self.as_json:
            record = {
                "image": str(path),
                "predictions": [
                    {"label": lab, "index": i, "score": round(s, 6)} for i, lab, s in predictions
                ],
            }
            self._line(sys.stdout, json.dumps(record))
        else:
            if self.header_due:
                self._line(sys.stdout, f"{'IMAGE':<{self.width}}  PREDICTIONS (label score, best first)")
                self.header_due = False
            text = "  ".join(f"{printable(lab)} {s:.3f}" for _, lab, s in predictions)
            self._line(sys.stdout, f"{printable(path):<{self.width}}  {text}")

    def error(self, message: str, path: Path | None = None, cause: BaseException | None = None) -> None:
        self.failed += 1
        self._line(sys.stderr, f"edgewise predict: error: {printable(message)}")
        if self.verbose and path is not None:
            self._line(sys.stderr, f"  details: {printable(file_details(path, cause))}")
        if self.as_json and path is not None:
            self._line(sys.stdout, json.dumps({"image": str(path), "error": message}))


def predict_command(args: argparse.Namespace) -> int:
    from edgewise.runtime.classifier import Classifier
    from edgewise.runtime.model import ARRAY_SUFFIX

    arrays = [p for p in args.images if p.suffix.lower() == ARRAY_SUFFIX]
    if arrays:
        if len(arrays) != len(args.images):
            raise InputError("give either image files/directories or .npy arrays, not both")
        return _predict_arrays(args)

    files, path_errors = collect_images(args.images)
    clf = Classifier(
        args.model, threads=args.threads, device=args.device, engine=args.engine, batch_size=args.batch_size
    )
    if clf.note:
        print(f"edgewise predict: note: {printable(clf.note)}", file=sys.stderr)
    if clf.choice is not None:
        print(f"edgewise predict: using {printable(clf.choice.reason)}", file=sys.stderr)
    if not files:
        raise InputError("; ".join(message for _, message in path_errors) or "no images given")

    width = min(60, max(len(printable(f)) for f in files))
    with Progress(len(files) if len(files) > 1 else None, "predict", enabled=_bar_enabled(len(files))) as bar:
        out = _Output(args.json, width, bar, verbose=getattr(args, "verbose", False))
        for path, message in path_errors:
            out.error(message, path)
        for start in range(0, len(files), clf.batch_size):
            _predict_chunk(clf, files[start : start + clf.batch_size], args.top, out)
            bar.update(len(files[start : start + clf.batch_size]))
    if out.failed:
        if len(files) + len(path_errors) == 1:
            return 1  # the one error line already said it all
        print(
            f"edgewise predict: {out.failed} of {len(files) + len(path_errors)} inputs failed",
            file=sys.stderr,
        )
        return 1
    return 0


def _predict_chunk(clf, chunk: list[Path], top: int, out: _Output) -> None:
    loaded, pixels = [], []
    for path in chunk:
        try:
            pixels.append(clf.preprocess(path))
            loaded.append(path)
        except ImageError as e:
            out.error(str(e), path, e.__cause__ or e.__context__)
    if not loaded:
        return
    probs = clf.predict_proba(np.stack(pixels))
    k = min(top, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    for path, row, idx in zip(loaded, probs, order.tolist(), strict=True):
        out.result(path, [(i, clf.labels[i], float(row[i])) for i in idx])


def file_details(path: Path, cause: BaseException | None) -> str:
    """What ``-v`` adds to an unreadable image: the decoder's own error, the size and the first bytes."""
    parts = []
    if cause is not None:
        first_line = (str(cause).splitlines() or [""])[0]
        parts.append(f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        parts.append(f"{formatting.size(path.stat().st_size)}, first bytes {head.hex(' ') or '(none)'}")
    except OSError as e:
        parts.append(f"cannot read the file ({e.strerror})")
    return "; ".join(parts)


def _predict_arrays(args: argparse.Namespace) -> int:
    """``.npy`` inputs through :class:`Model`: top-k labels of a classifier, a regressor's output values."""
    from edgewise.runtime.model import Model, load_array

    model = Model(
        args.model, threads=args.threads, device=args.device, engine=args.engine, batch_size=args.batch_size
    )
    if model.card is None:
        print(
            f"edgewise predict: note: {args.model}: no model card; outputs are named by index",
            file=sys.stderr,
        )
    classifier = model.card is None or model.card.is_classifier
    rows: list[tuple[str, np.ndarray]] = []
    for path in args.images:
        x = load_array(path)
        batch = model.batch(x)
        names = [str(path)] if x.shape == model.sample_shape else [f"{path}[{i}]" for i in range(len(batch))]
        rows += zip(names, model.run(batch), strict=True)
    labels = model.labels
    width = min(60, max(len(name) for name, _ in rows))
    if not args.json:
        print(
            f"{'INPUT':<{width}}  " + ("PREDICTIONS (label score, best first)" if classifier else "OUTPUTS")
        )
    for name, out in rows:
        if classifier:
            idx = np.argsort(-out, kind="stable")[: min(args.top, len(out))].tolist()
            pairs = [(i, labels[i], float(out[i])) for i in idx]
            if args.json:
                preds = [{"label": lab, "index": i, "score": round(s, 6)} for i, lab, s in pairs]
                print(json.dumps({"input": name, "predictions": preds}))
            else:
                print(f"{name:<{width}}  " + "  ".join(f"{lab} {s:.3f}" for _, lab, s in pairs))
        elif args.json:
            print(
                json.dumps(
                    {"input": name, "outputs": {lab: float(v) for lab, v in zip(labels, out, strict=True)}}
                )
            )
        else:
            print(
                f"{name:<{width}}  "
                + "  ".join(f"{lab} {float(v):.6g}" for lab, v in zip(labels, out, strict=True))
            )
    return 0


def _bar_enabled(n: int) -> bool:
    return n > 1 and sys.stderr.isatty()
