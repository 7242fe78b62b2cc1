"""``edgewise train``: the command-line face of :func:`edgewise.train.train` (same option names)."""

from __future__ import annotations

import argparse
import shlex
import sys

from edgewise.runtime import argtypes
from edgewise.runtime.sampling import DEFAULT_SEED
from edgewise.train.augment import AUGMENTATIONS
from edgewise.train.distribute import STRATEGIES
from edgewise.train.zoo import list_models

EPILOG = """\
examples:
  edgewise train --data fashion_mnist --model fashion_cnn --out runs/fm
  edgewise train --data photos/ --model bikes_cnn --out runs/bikes --epochs 30 --image-size 64
  edgewise train --data cifar10 --data-dir ~/Downloads --model resnet8 --out runs/r8 --strategy mirrored
  edgewise train --data photos/ --model mobilenet_v2 --weights none --out runs/mnv2
  edgewise train ... --resume          # continue an interrupted run from its last epoch

The run directory gets model.keras, edgewise.json (the model card), history.json/csv, metrics.json,
confusion_matrix.json/png, training_curves.png and checkpoints/ (used by --resume).
"""


SUMMARY = "train an image classifier and write a run directory"
DESCRIPTION = """\
Train a model of the zoo on a dataset and write a run directory that `edgewise export` turns into
TFLite/ONNX files. Options left out take the model's defaults.
"""


def register(sub) -> None:
    p = argtypes.add_command(sub, "train", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument(
        "--data",
        required=True,
        metavar="NAME|PATH",
        help="fashion_mnist, mnist, cifar10, or an image folder: one subfolder per class, "
        "optionally inside train/ val/ test/",
    )
    p.add_argument("--model", required=True, metavar="NAME", help=f"zoo model: {', '.join(list_models())}")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory to create")
    p.add_argument("--epochs", type=int, help="training epochs (default: the model's)")
    p.add_argument("--batch-size", type=int, help="global batch size (default: the model's)")
    p.add_argument("--lr", type=float, help="peak learning rate of the warm-up + cosine schedule")
    p.add_argument("--image-size", metavar="N|HxW", help="input size (default: the model's)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of the training images held out for validation (stratified, seeded) when the "
        "data have no validation split (default 0.1)",
    )
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"random augmentation ({', '.join(AUGMENTATIONS)}); default: the model's",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed for splits, shuffling and init"
    )
    p.add_argument("--patience", type=int, help="early stopping: epochs without a lower validation loss")
    p.add_argument("--fine-tune-epochs", type=int, help="transfer models: epochs with the base unfrozen")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="none",
        help="tf.distribute: mirrored = all local GPUs (or logical CPUs); "
        "multiworker = the cluster described by TF_CONFIG",
    )
    p.add_argument(
        "--weights",
        default="imagenet",
        metavar="imagenet|none|FILE",
        help="transfer models only: pretrained weights (imagenet needs them cached or a download); "
        "none trains from scratch offline",
    )
    p.add_argument("--alpha", type=float, help="mobilenet_v2 only: width multiplier (default 0.35)")
    p.add_argument("--data-dir", metavar="DIR", help="where to look first for the named datasets' files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # per-epoch lines reach a log file as they happen
    from edgewise.train.api import train

    options = {"alpha": args.alpha} if args.alpha is not None else None
    command = shlex.join(["edgewise", *getattr(args, "argv", sys.argv[1:])])
    train(**argtypes.api_keywords(args, train, model_options=options, command=command))
    return 0
