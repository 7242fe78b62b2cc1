"""Is the runtime really lightweight? Three side-by-side measurements for one 64x64x3 model (issue 3).

1. Cold start (process start, imports, model load, first prediction) and peak RSS of ``edgewise predict`` in
   the runtime-only venv, vs the same prediction through ``tf.lite.Interpreter`` with TensorFlow imported.
   Targets: <= 0.25x time and <= 0.25x RSS.
2. Per-call overhead of ``Classifier.predict`` on an already preprocessed array vs the raw invoke loop
   (set_tensor / invoke / get_tensor) on the very same interpreter. Target: <= 1.10x or <= 10 us per call.
   Also reported: the overhead alone, measured with the interpreter's ``invoke`` replaced by a no-op.
3. File-to-label time on 1000x650 JPEGs: ``Classifier.predict(path)`` vs a naive
   ``Image.open().convert().resize()`` pipeline feeding the same interpreter. Target: <= 0.5x.

Run it in the main (TensorFlow) venv; it builds the model itself:

    python -m scripts.experiments.runtime_speed --runtime-venv .venv-runtime

where ``.venv-runtime`` was made by ``scripts/ci/runtime_only_check.sh .venv-runtime FIXTURES``.
Timings take the minimum (per-call loops) or median (cold starts) over interleaved repeats, so a busy
machine inflates both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from edgewise.runtime.card import CARD_FILE

REPO = Path(__file__).resolve().parents[2]
SIZE, CLASSES = 64, 10

TF_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
from PIL import Image
model, image = sys.argv[1:]
it = tf.lite.Interpreter(model_path=model)
it.allocate_tensors()
inp = it.get_input_details()[0]
h, w = inp["shape"][1:3]
x = np.asarray(Image.open(image).convert("RGB").resize((w, h)), np.float32)[None]
it.set_tensor(inp["index"], x)
it.invoke()
print(int(it.get_tensor(it.get_output_details()[0]["index"]).argmax()))
"""


def load_make_fixtures():
    from scripts.ci import make_fixtures  # run as `python -m scripts.experiments.runtime_speed`

    return make_fixtures


def build_model(work: Path) -> Path:
    """A 64x64x3, 10-class CNN (untrained: timing does not care) as model_fp32.tflite with a card."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from tensorflow import keras

    mf = load_make_fixtures()
    keras.utils.set_random_seed(0)
    model = mf.build_model(keras, shape=(SIZE, SIZE, 3), classes=CLASSES)
    path = work / "model_fp32.tflite"
    path.write_bytes(mf.to_tflite(tf, model, None))
    card = mf.make_card(float("nan"), labels=[f"class{i}" for i in range(CLASSES)], shape=(SIZE, SIZE, 3))
    card.metrics = {}
    card.save(work / CARD_FILE)
    return path


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """1000x650 photo-like JPEGs: smooth colour gradients plus grain, quality 90."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:650, 0:1000].astype(np.float32)
    paths = []
    for i in range(count):
        a, b, c = rng.uniform(0.002, 0.02, 3)
        rgb = np.stack([np.sin(xx * a + i), np.cos(yy * b), np.sin((xx + yy) * c)], axis=-1) * 100 + 128
        rgb += rng.normal(0, 12, rgb.shape)
        path = folder / f"photo{i:03d}.jpg"
        Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


# -- 1. cold start ------------------------------------------------------------------------------------
# Runs the measured command and reports its wall time and peak RSS. A separate small process because a
# child's ru_maxrss counts the memory of the process it was forked from, and this one holds TensorFlow.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(json.dumps([time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one process (its output is discarded)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *cmd], capture_output=True, text=True, env=env, check=True
    )
    seconds, max_rss_kib, code = json.loads(done.stdout.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... exited {code}")
    return seconds, max_rss_kib / 1024


def cold_start(runtime_venv: Path, model: Path, image: Path, repeats: int) -> dict:
    commands = {
        "edgewise predict (runtime-only venv)": [
            str(runtime_venv / "bin" / "edgewise"),
            "predict",
            str(model),
            str(image),
            "--top",
            "1",
        ],
        "tf.lite.Interpreter (TensorFlow imported)": [
            sys.executable,
            "-c",
            TF_SCRIPT,
            str(model),
            str(image),
        ],
    }
    samples = {name: [] for name in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():  # interleaved, so load on the machine hits both alike
            samples[name].append(run_measured(cmd))
    result = {
        name: {
            "seconds": statistics.median(s for s, _ in runs),
            "peak_rss_mib": statistics.median(r for _, r in runs),
        }
        for name, runs in samples.items()
    }
    ours, theirs = result.values()
    result["ratio_seconds"] = ours["seconds"] / theirs["seconds"]
    result["ratio_rss"] = ours["peak_rss_mib"] / theirs["peak_rss_mib"]
    return result


# -- 2. per-call overhead -----------------------------------------------------------------------------
def _best_us(fn, calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def per_call_overhead(model: Path, calls: int, rounds: int) -> dict:
    """Classifier.predict vs the raw loop on the same interpreter, fed the same float32 pixels.

    The array is float32 because that is what the raw loop hands the interpreter; ``predict`` on the uint8
    array that ``Classifier.preprocess`` returns is reported too (it adds the uint8 -> float32 cast).
    """
    from edgewise.runtime import Classifier

    clf = Classifier(model, threads=1)
    interpreter = clf.backend._interpreter  # the raw loop drives the very same interpreter
    in_index = interpreter.get_input_details()[0]["index"]
    out_index = interpreter.get_output_details()[0]["index"]
    pixels = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    image = pixels.astype(np.float32)
    batch = image[None]

    def raw():
        interpreter.set_tensor(in_index, batch)
        interpreter.invoke()
        return interpreter.get_tensor(out_index)

    loops = {
        "raw": raw,
        "predict": lambda: clf.predict(image, top=5),
        "predict_uint8": lambda: clf.predict(pixels, top=5),
    }

    def measure() -> dict[str, float]:
        best = dict.fromkeys(loops, float("inf"))
        for _ in range(rounds):  # interleaved rounds: a busy machine slows all three alike
            for name, fn in loops.items():
                best[name] = min(best[name], _best_us(fn, calls, 1))
        return best

    real = measure()
    real_invoke = interpreter.invoke
    interpreter.invoke = lambda: None  # what is left is the work around the engine
    try:
        noop = measure()
    finally:
        interpreter.invoke = real_invoke
    return {
        "raw_invoke_us": real["raw"],
        "classifier_predict_us": real["predict"],
        "classifier_predict_uint8_us": real["predict_uint8"],
        "ratio": real["predict"] / real["raw"],
        "added_us": real["predict"] - real["raw"],
        "added_us_noop_invoke": noop["predict"] - noop["raw"],
        "added_us_noop_invoke_uint8": noop["predict_uint8"] - noop["raw"],
    }


# -- 3. file to label ---------------------------------------------------------------------------------
def file_to_label(model: Path, photos: list[Path], rounds: int) -> dict:
    from edgewise.runtime import Classifier

    clf = Classifier(model, threads=1)
    interpreter = clf.backend._interpreter
    in_index = interpreter.get_input_details()[0]["index"]
    out_index = interpreter.get_output_details()[0]["index"]
    labels = clf.labels

    def naive(path):
        img = Image.open(path).convert("RGB").resize((SIZE, SIZE))
        interpreter.set_tensor(in_index, np.asarray(img, np.float32)[None])
        interpreter.invoke()
        return labels[int(interpreter.get_tensor(out_index).argmax())]

    def ours(path):
        return clf.predict(path, top=1)[0][0][0]

    best = {"naive": float("inf"), "edgewise": float("inf")}
    agree = 0
    for _ in range(rounds):
        for name, fn in (("naive", naive), ("edgewise", ours)):
            start = time.perf_counter()
            answers = [fn(p) for p in photos]
            best[name] = min(best[name], (time.perf_counter() - start) / len(photos) * 1e3)
            if name == "naive":
                expected = answers
            else:
                agree = sum(a == b for a, b in zip(answers, expected, strict=True))
    return {
        "naive_ms_per_image": best["naive"],
        "edgewise_ms_per_image": best["edgewise"],
        "ratio": best["edgewise"] / best["naive"],
        "same_top1": f"{agree}/{len(photos)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runtime-venv",
        type=Path,
        default=REPO / ".venv-runtime",
        help="venv made by scripts/ci/runtime_only_check.sh (default .venv-runtime)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="cold starts of each kind (default 5)")
    parser.add_argument("--calls", type=int, default=300, help="predict calls per timing round")
    parser.add_argument("--rounds", type=int, default=25, help="interleaved timing rounds (the best is kept)")
    parser.add_argument("--photos", type=int, default=30, help="1000x650 JPEGs for the file-to-label test")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (args.runtime_venv / "bin" / "edgewise").exists():
        parser.error(
            f"{args.runtime_venv}: no runtime-only venv; make one with "
            "scripts/ci/runtime_only_check.sh VENV FIXTURES"
        )
    with tempfile.TemporaryDirectory(prefix="bench_runtime.") as tmp:
        work = Path(tmp)
        model = build_model(work)
        photos = make_jpegs(work / "photos", args.photos)
        results = {
            "cold_start": cold_start(args.runtime_venv, model, photos[0], args.repeats),
            "per_call": per_call_overhead(model, args.calls, args.rounds),
            "file_to_label": file_to_label(model, photos, max(3, args.rounds // 4)),
        }
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def render(r: dict) -> str:
    cs, pc, e2e = r["cold_start"], r["per_call"], r["file_to_label"]
    ours, theirs = (v for k, v in cs.items() if not k.startswith("ratio"))
    names = [k for k in cs if not k.startswith("ratio")]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    lines = [
        f"{SIZE}x{SIZE}x3 fp32 TFLite model, 1000x650 JPEG input; threads=1 for the in-process tests",
        "",
        "1. cold start: process start + import + load + first prediction (median of repeats)",
        f"   {names[0]:<44} {ours['seconds']:6.2f} s   peak RSS {ours['peak_rss_mib']:7.1f} MiB",
        f"   {names[1]:<44} {theirs['seconds']:6.2f} s   peak RSS {theirs['peak_rss_mib']:7.1f} MiB",
        f"   ratio  time {cs['ratio_seconds']:.3f}x (target <= 0.25x: {verdict(cs['ratio_seconds'] <= 0.25)})"
        f"   RSS {cs['ratio_rss']:.3f}x (target <= 0.25x: {verdict(cs['ratio_rss'] <= 0.25)})",
        "",
        "2. per call on an already preprocessed 64x64x3 array, same interpreter (best of interleaved rounds)",
        f"   raw set_tensor/invoke/get_tensor (float32)  {pc['raw_invoke_us']:8.1f} us",
        f"   Classifier.predict(float32 array, top=5)    {pc['classifier_predict_us']:8.1f} us",
        f"   Classifier.predict(uint8 array, top=5)      {pc['classifier_predict_uint8_us']:8.1f} us",
        f"   ratio {pc['ratio']:.3f}x, {pc['added_us']:+.1f} us per call (target <= 1.10x or <= 10 us: "
        f"{verdict(pc['ratio'] <= 1.10 or pc['added_us'] <= 10)})",
        f"   with invoke() made a no-op, edgewise adds {pc['added_us_noop_invoke']:.1f} us "
        f"({pc['added_us_noop_invoke_uint8']:.1f} us from uint8, cast included)",
        "",
        "3. file to label, 1000x650 JPEG -> top-1 label (best round, per image)",
        f"   naive Image.open().convert().resize()  {e2e['naive_ms_per_image']:7.2f} ms",
        f"   Classifier.predict(path)               {e2e['edgewise_ms_per_image']:7.2f} ms"
        f"   (same top-1 as naive: {e2e['same_top1']})",
        f"   ratio {e2e['ratio']:.3f}x (target <= 0.5x: {verdict(e2e['ratio'] <= 0.5)})",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
