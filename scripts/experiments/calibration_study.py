"""How much the int8 result depends on the calibration sample: sizes x seeds, TFLite and ONNX, one run.

    python -m scripts.experiments.calibration_study RUN [--sizes 16,64,300,1000] [--seeds 3] [--max-drop PP]

For every size and seed, ``export(format="all", quantize="int8", calib_samples=SIZE, seed=SEED)``
calibrates on that class-stratified sample of the training split and validates on ``--val-samples``
held-out test images (the export stratifies them with the same seed, so the images differ between seeds:
compare the drop column, which is against the Keras model on the same images). The table gives top-1
and drop as mean [min, max] over the seeds, and how many seeds drew an unrepresentative-calibration
warning. With ``--max-drop`` every export repairs within that budget (judged on the validation split)
and the table adds the weighted layers kept in float, mean [min, max] over the seeds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgewise.runtime.sampling import DEFAULT_SEED

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        if record.getMessage().startswith("calibration:"):
            self.messages.append(record.getMessage())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (model.keras + edgewise.json)")
    parser.add_argument("--sizes", default="16,64,300,1000", help="calibration sample sizes")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per size (1337, 1338, ...)")
    parser.add_argument("--val-samples", type=int, default=2000, help="test images to validate on")
    parser.add_argument("--max-drop", type=float, default=None, help="repair budget, pp (default: none)")
    args = parser.parse_args(argv)

    from edgewise.export import export
    from edgewise.runtime.card import ModelCard
    from edgewise.runtime.formatting import markdown_table as markdown
    from edgewise.train.data import load_splits

    card = ModelCard.load(args.run)
    splits = load_splits(**card.data)
    sizes = [int(s) for s in args.sizes.split(",")]
    counter = _Count()
    logging.getLogger("edgewise.export").addHandler(counter)
    results: dict[tuple[str, int], list[dict]] = {}
    warned: dict[int, int] = {}
    keras_acc = None
    with tempfile.TemporaryDirectory(prefix="bench-calibration-") as tmp:
        for size in sizes:
            for seed in range(DEFAULT_SEED, DEFAULT_SEED + args.seeds):
                before = len(counter.messages)
                result = export(args.run, format="all", quantize="int8", out=Path(tmp) / f"{size}-{seed}",
                                calib_samples=size, seed=seed, val_samples=args.val_samples, splits=splits,
                                check=False, parity_samples=10, max_drop=args.max_drop)  # fmt: skip
                warned[size] = warned.get(size, 0) + (len(counter.messages) > before)
                for artifact in result.artifacts:
                    repair = artifact.extra.get("repair") or {}
                    weighted = len(repair.get("float_weighted_layers", []))
                    figures = {**artifact.parity, "weighted": weighted}
                    results.setdefault((artifact.format, size), []).append(figures)
                    keras_acc = artifact.parity["reference_accuracy"]
    print(
        f"run: {args.run}  model: {card.model or '?'}  held-out test images: {args.val_samples}  "
        f"Keras top-1 on them: {100 * keras_acc:.2f}%  seeds: {args.seeds} (1337..)"
    )
    print()
    rows = []
    for (fmt, size), parities in sorted(results.items()):
        top1 = [100 * p["accuracy"] for p in parities]
        drops = [p["accuracy_drop_pp"] for p in parities]
        row = [fmt, str(size), _spread(top1), _spread(drops), f"{warned[size]}/{args.seeds}"]
        if args.max_drop is not None:
            row.append(_spread([p["weighted"] for p in parities]))
        rows.append(row)
    header = ["format", "calibration images", "top-1 %", "drop pp", "warned"]
    if args.max_drop is not None:
        header.append(f"weighted in float (--max-drop {args.max_drop:g})")
    print(markdown(header, rows))
    for message in dict.fromkeys(counter.messages):
        print(f"warning seen: {message}")
    return 0


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


if __name__ == "__main__":
    sys.exit(main())
