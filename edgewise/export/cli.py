"""``edgewise export MODEL``: convert a run or any Keras model to TFLite/ONNX, validate, write the bundle."""

from __future__ import annotations

import argparse
import re
import sys

from edgewise.export.boards import BOARDS
from edgewise.export.calibration import DEFAULT_SAMPLES, DEFAULT_SEED
from edgewise.export.qat import DEFAULT_LEARNING_RATE as QAT_LEARNING_RATE
from edgewise.export.repair import DEFAULT_MAX_STEPS
from edgewise.runtime import argtypes
from edgewise.runtime.parity import DEFAULT_SAMPLES as DEFAULT_PARITY_SAMPLES

EPILOG = """\
examples:
  edgewise export runs/fm                                   # int8 TFLite with int8 I/O, validated
  edgewise export runs/fm --format all --quantize all       # 8 artifacts, every one validated
  edgewise export runs/fm --format onnx --quantize int8 --calibration percentile --explain
  edgewise export runs/fm --quantize fp32,int8 --out dist/fm --threshold int8.drop=0.5
  edgewise export runs/fm --format tflm --fits nano33ble           # int8 + C sources for TFLite Micro
  edgewise export runs/outlier --format all --max-drop 1    # int8 keeps its worst layers in float
  edgewise export runs/outlier --format all --qat-epochs 1  # int8 from quantisation-aware fine-tuning
  edgewise export mine.keras --data photos/ --preprocess -1..1   # a model trained elsewhere -> mine_bundle/
  edgewise export model.h5 --data arrays.npz --labels labels.txt # arrays: x (inputs) and optional y
  edgewise export saved/ --format all --quantize fp32 --no-validate   # a SavedModel, no data at hand

MODEL is a run directory of `edgewise train`, a .keras or legacy .h5 file, or a SavedModel directory. Without
an edgewise.json beside it, a model card is made: labels from --labels, else the data's class names, else
indices; normalisation found in the model (Rescaling, Normalization) is kept, otherwise --preprocess names
what the model expects and export puts it in front of the model, so the exported graph takes raw pixels.
A model returning logits gets a softmax. Models with several inputs or outputs are refused.

Validation runs each artifact through the TF-free runtime on the run's test split and compares it with the
Keras model. Default thresholds: fp32 agreement >= 99.9% and max abs diff <= 1e-4; fp16 agreement >= 99.5%;
dynamic and int8 top-1 accuracy drop <= 1.0 pp. An artifact that misses is kept as <name>.rejected and
the command exits 1. Errors in the input (missing model, bad option, missing package) exit 2.
"""


SUMMARY = "export a run or any Keras model to TFLite / ONNX (fp32, fp16, dynamic, int8), validated"
DESCRIPTION = """\
Convert a Keras model to TFLite and/or ONNX, quantise it, validate every artifact against the Keras
model, and write the bundle: the model files, edgewise.json (the model card with per-artifact figures)
and parity.npz (held-out inputs with the Keras outputs).
"""


def register(sub) -> None:
    p = argtypes.add_command(sub, "export", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument(
        "run",
        metavar="MODEL",
        help="run directory written by `edgewise train`, a .keras or .h5 file, or a SavedModel directory",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="bundle directory (default: the run itself, or MODEL_bundle/ beside MODEL)",
    )
    p.add_argument(
        "--format",
        default="tflite",
        metavar="FMT",
        help="tflite | onnx | tflm | all, or a comma list (default: tflite); tflm: the int8 TFLite "
        "checked against TFLite Micro's operators, its arena measured, C sources in RUN/tflm/",
    )
    p.add_argument(
        "--quantize",
        default="int8",
        metavar="MODE",
        help="fp32 | fp16 | dynamic | int8 | all, or a comma list (default: int8)",
    )
    p.add_argument(
        "--io",
        choices=("int8", "float"),
        default=None,
        help="input/output dtype of an int8 TFLite graph (default: int8; ONNX int8 keeps float I/O)",
    )
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17)")
    p.add_argument(
        "--calibration",
        choices=("minmax", "entropy", "percentile"),
        default=None,
        help="ONNX int8 activation ranges: percentile (99.999th, default), minmax, or entropy (KL); "
        "TFLite always uses min/max",
    )
    p.add_argument(
        "--int8-variant",
        choices=("fastest", "first"),
        default="fastest",
        help="ONNX int8: convert each recipe (QDQ S8S8, QDQ U8S8, QOperator U8S8; per-channel) and keep the "
        "fastest here that passes validation (default), or only the first",
    )
    p.add_argument(
        "--calib-samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"training images to calibrate int8 with, stratified by class (default: {DEFAULT_SAMPLES})",
    )
    p.add_argument(
        "--val-samples",
        type=int,
        default=None,
        metavar="N",
        help="validate on N held-out images (default: the whole test split, at least 1000 when "
        "the data have them)",
    )
    p.add_argument(
        "--parity-samples",
        type=int,
        default=DEFAULT_PARITY_SAMPLES,
        metavar="N",
        help=f"held-out images stored in parity.npz (default: {DEFAULT_PARITY_SAMPLES})",
    )
    p.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip validation; the card records the artifacts as not validated",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        dest="thresholds",
        metavar="MODE.FIGURE=VALUE",
        help="override a validation threshold: FIGURE is agreement (%%), max_abs_diff or drop (pp); "
        "e.g. int8.drop=0.5 (repeatable)",
    )
    p.add_argument(
        "--explain",
        "--debug",
        dest="explain",
        action="store_true",
        help="for int8: per-layer quantisation error report (<artifact>.explain.csv) naming the "
        "layers that lose the most",
    )
    p.add_argument(
        "--max-drop",
        type=float,
        default=None,
        metavar="PP",
        help="int8 budget: if int8 loses more than PP points of top-1 on the validation split, keep the "
        "layers that lose most in float, the fewest that meet the budget (recorded in the card)",
    )
    p.add_argument(
        "--repair-steps",
        type=int,
        default=DEFAULT_MAX_STEPS,
        metavar="N",
        help=f"--max-drop: most re-quantisations to try (default: {DEFAULT_MAX_STEPS})",
    )
    p.add_argument(
        "--qat-epochs",
        type=int,
        default=None,
        metavar="N",
        help="int8 from quantisation-aware training: fine-tune a fake-quantised copy of the model N epochs "
        "on the training split, then convert and validate it against the original (0: ranges only)",
    )
    p.add_argument(
        "--qat-lr",
        type=float,
        default=QAT_LEARNING_RATE,
        metavar="LR",
        help=f"--qat-epochs: Adam learning rate (default: {QAT_LEARNING_RATE:g})",
    )
    p.add_argument(
        "--data",
        metavar="SOURCE",
        help="where the data are, if not where the card says: fashion_mnist | mnist | cifar10 | DIR "
        "(an image folder, one sub-folder per class) | FILE.npz (x: model inputs or uint8 pixels, "
        "optional y: class indices or regression targets)",
    )
    p.add_argument("--labels", metavar="FILE", help="label names, one per line, in output order")
    p.add_argument(
        "--preprocess",
        metavar="RECIPE",
        help="the normalisation the model was trained with, when it is not inside the model: "
        "0..1 | -1..1 (mobilenet, inception) | imagenet (mean/std) | caffe (BGR minus mean) | raw, "
        "or scale=S,offset=O,mean=M1:M2:M3,std=S1:S2:S3,order=rgb|bgr (e.g. scale=1/255)",
    )
    p.add_argument(
        "--task",
        choices=("classify", "regress"),
        help="what the outputs are (default: regress for float targets or one output, else classify)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="directory to look up named datasets in")
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the calibration and held-out samples"
    )
    p.add_argument("--threads", type=int, default=None, help="threads for the validation runtime")
    micro = p.add_argument_group("microcontrollers (--format tflm)")
    micro.add_argument(
        "--fits",
        metavar="BOARD",
        help="check flash and peak RAM against a board; exit 1 when it does not fit: " + ", ".join(BOARDS),
    )
    micro.add_argument(
        "--npu",
        default="ethos-u55-128",
        metavar="CONFIG",
        help="Ethos-U configuration Vela estimates for (default: ethos-u55-128; none: no estimate)",
    )
    # `--preprocess -1..1` must read as a value, as `-1` does: argparse takes other words starting with
    # "-" for options. Its negative-number pattern (a private attribute, stable since Python 3.2) is
    # widened to ranges; no option of this command looks like one.
    p._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d+\.\.\d+$")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgewise.export.api import ExportRejected, export
    from edgewise.export.tflm import DoesNotFit

    data = {key: value for key, value in (("source", args.data), ("data_dir", args.data_dir)) if value}
    npu = None if args.npu.lower() == "none" else args.npu
    try:
        result = export(**argtypes.api_keywords(args, export, data=data or None, npu=npu))
    except (ExportRejected, DoesNotFit) as e:
        _print_report(e.result)
        raise
    _print_report(result)
    return 0


def _print_report(result) -> None:
    from edgewise.export.report import repairs, table

    print(table(result))
    if result.micro is not None:
        from edgewise.export.api import artifact_name
        from edgewise.export.tflm import summary

        print()
        print("\n".join(summary(artifact_name("tflite", "int8"), result.micro)))
    for line in repairs(result):
        print(line)
    for explanation in result.explanations:
        print()
        print(explanation.summary())
    sys.stdout.flush()
