"""``edgewise bench`` and ``edgewise report``: measure artifacts, render and merge reports."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from edgewise.benchmarks.targets import discover
from edgewise.runtime import argtypes, limits
from edgewise.runtime.backends import ENGINES
from edgewise.runtime.errors import InputError
from edgewise.runtime.terminal import printable

DEFAULT_NAMES = {"json": "bench.json", "md": "bench.md", "html": "bench.html"}


def register(sub) -> None:
    _register_bench(sub)
    _register_report(sub)


# -- bench --------------------------------------------------------------------------------------------
BENCH_SUMMARY = "measure latency, memory and accuracy parity of exported models (no TensorFlow needed)"
BENCH_DESCRIPTION = """\
Benchmark every artifact of a bundle (or the given model files). Each artifact and thread count runs in
its own child process: load time, first inference, latency over --runs timed calls after --warmup, split
over --rounds interleaved rounds (mean, std, min, p50 with a 95% bootstrap interval, p90, p99, max; a
noise warning when rounds disagree), throughput per batch size, peak RSS; plus accuracy parity on the
bundle's parity.npz (top-1, agreement with the Keras reference, max/mean abs difference) and the machine
it ran on. Writes bench.json, bench.md and bench.html into the bundle (or --out DIR) unless
--json/--md/--html name the outputs, and prints a table.
"""

BENCH_EPILOG = """\
examples:
  edgewise bench runs/fm
  edgewise bench runs/fm --threads 1,2 --batch 1,8 --runs 200
  edgewise bench runs/fm/model_int8.tflite --json int8.json
  edgewise bench runs/fm --device gpu
  edgewise bench runs/fm --pick          # record the fastest passing artifact for this device
  edgewise bench runs/fm --remote pi@raspberrypi.local --remote-python '~/venv/bin/python'
  edgewise bench runs/fm --remote pi4,pi5 --remote gpu-box --pick
"""


def _register_bench(sub) -> None:
    p = argtypes.add_command(sub, "bench", BENCH_SUMMARY, BENCH_DESCRIPTION, BENCH_EPILOG)
    p.add_argument(
        "targets", nargs="+", type=Path, metavar="BUNDLE|MODEL", help="bundle directories or model files"
    )
    argtypes.add_count(
        p, "--runs", low=1, high=limits.MAX_RUNS, default=100, help="timed calls (default 100)"
    )
    p.add_argument(
        "--rounds",
        type=argtypes.bounded_int(1, 100),
        default=3,
        metavar="R",
        help="split the timed calls over R interleaved rounds, a fresh process each (default 3)",
    )
    warmup = "untimed calls first, in each round (default 10)"
    argtypes.add_count(p, "--warmup", low=0, high=limits.MAX_RUNS, default=10, help=warmup)
    p.add_argument(
        "--threads",
        type=_threads,
        default=None,
        metavar="N[,N]|auto",
        help="CPU thread counts; auto: 1, 2, 4... up to the cores the device has (default 1; auto with "
        "--pick)",
    )
    p.add_argument(
        "--batch",
        type=argtypes.bounded_int_list(1, limits.MAX_BATCH),
        default=[1],
        metavar="B[,B]",
        dest="batches",
        help="batch sizes (default 1)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: ONNX Runtime's CUDA/TensorRT providers; artifacts that cannot use one say why",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        help="force an engine (default: by file suffix); tflm: TFLite Micro on this host, with its "
        "tensor arena and the int8 outputs compared step by step with LiteRT's",
    )
    p.add_argument(
        "--pick",
        action="store_true",
        help="choose the fastest artifact and thread count that passes the accuracy gate on this device "
        "(never slower than fp32) and record it in the bundle's picks.json, where Classifier(BUNDLE) "
        "and `edgewise predict BUNDLE` find it; with --remote, each remote device's choice too",
    )
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="directory for bench.json/.md/.html (default: the bundle)"
    )
    p.add_argument(
        "--force", action="store_true", help="replace the reports an earlier run left in the bundle"
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write the JSON here")
    p.add_argument("--md", type=Path, metavar="OUT", help="write the Markdown report here")
    p.add_argument("--html", type=Path, metavar="OUT", help="write the HTML report here")
    p.add_argument("--label", help="this device's name in reports and comparisons (default: hostname)")
    p.add_argument(
        "--baseline", metavar="ARTIFACT", help="artifact the ratios compare to (default: fp32 TFLite)"
    )
    p.add_argument(
        "--timeout",
        type=argtypes.seconds(limits.MAX_TIMEOUT_S),
        default=600.0,
        metavar="S",
        help="seconds per child process (default 600)",
    )
    remote = p.add_argument_group("remote device")
    remote.add_argument(
        "--remote",
        action="append",
        metavar="USER@HOST[,HOST]",
        help="also benchmark on these hosts over ssh (BatchMode, your host keys), all at once, and write "
        "one comparison; repeat the option or separate hosts by commas; a host that fails does not "
        "lose the others' results",
    )
    remote.add_argument(
        "--remote-python",
        default="python3",
        metavar="PYTHON",
        help="the Python on the remote host that has edgewise (default python3)",
    )
    remote.add_argument("--ssh-config", type=Path, metavar="FILE", help="ssh/scp config file (ssh -F)")
    p.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    from edgewise.benchmarks import harness, headline, pick, remote, schema, tables

    hosts = remote.parse_hosts(args.remote) if args.remote else []
    remotes = [remote.Remote(host, args.remote_python, args.ssh_config) for host in hosts]
    targets = discover(args.targets)
    bundle = pick.bundle_dir(args.targets) if args.pick else None
    if args.threads is None:
        args.threads = "auto" if args.pick else [1]
    settings = _settings(args)
    _check_baseline(args.baseline, [t.path.name for t in targets])
    outputs = _outputs(args, targets)
    check_writable(outputs.values())
    run = harness.run_benchmark(targets, settings, label=args.label, command=_command_line(args, settings))
    _write(run, outputs, args.baseline)
    print(printable_block(tables.text_table(run, args.baseline or tables.default_baseline(run))))
    print(printable(headline.headline(run)))
    _say_written(outputs)
    unpicked = bundle is not None and not _pick_and_record(run, bundle)

    remote_failed = _bench_remotes(args, remotes, run, targets, settings, bundle) if remotes else False

    failed = [a for a in run.artifacts if a.status == schema.STATUS_ERROR]
    if failed:
        print(
            f"edgewise bench: {len(failed)} of {len(run.artifacts)} artifacts failed: "
            + printable("; ".join(f"{a.file}: {a.error}" for a in failed)),
            file=sys.stderr,
        )
        return 1
    return 1 if remote_failed or unpicked else 0


def _bench_remotes(args, remotes, run, targets, settings, bundle: Path | None) -> bool:
    """Run on every remote host at once, save each host's JSON, merge all that worked with the local
    run (and with --pick, record each host's choice); True when a host or its pick failed. When every
    host failed, that is an error (exit code 2)."""
    from edgewise.benchmarks import headline, merge, remote, schema, tables

    outcomes = remote.run_many(remotes, targets, settings)
    done = [o for o in outcomes if o.run is not None]
    failed = [o for o in outcomes if o.run is None]
    if not done:
        raise remote.RemoteError("; ".join(o.error or "failed" for o in failed))
    out_dir = _out_dir(args, targets)
    merged = merge.merge([run, *(o.run for o in done)], args.baseline)
    written, failed_picks = {}, False
    for o in done:
        path = out_dir / f"bench-{_slug(o.run.label)}.json"
        schema.save(o.run, path)
        written[o.run.label] = path
        print(f"\n{o.run.label} ({o.remote.host}):")
        print(printable_block(tables.text_table(o.run, merged.baseline)))
        print(printable(headline.headline(o.run)))
        if bundle is not None and not _pick_and_record(o.run, bundle):
            failed_picks = True
    compare = {k: out_dir / f"bench-compare.{k}" for k in ("json", "md", "html")}
    _write(merged, compare, None)
    _say_written({**{f"json:{k}": v for k, v in written.items()}, **compare})
    for o in failed:
        print(f"edgewise bench: error: {o.error}", file=sys.stderr)
    return bool(failed) or failed_picks


def _pick_and_record(run, bundle: Path) -> bool:
    """Choose for the device ``run`` was measured on and record it; say what was chosen and why.
    False (and one line on stderr, nothing recorded) when no artifact passed."""
    from edgewise.benchmarks import pick

    try:
        choice = pick.choose(run)
    except pick.NothingToPick as e:
        print(f"edgewise bench: --pick: {e}", file=sys.stderr)
        return False
    written = pick.record(choice, run, bundle)
    print(printable(f"{choice.summary()}\nrecorded in {written}"))
    return True


def _threads(text: str) -> list[int] | str:
    """``--threads``: whole numbers, or ``auto`` (1, 2, 4... cores, resolved on the device that runs)."""
    return "auto" if text.strip() == "auto" else argtypes.bounded_int_list(1, limits.MAX_THREADS)(text)


def _settings(args: argparse.Namespace):
    from edgewise.benchmarks import harness

    return harness.Settings(**argtypes.api_keywords(args, harness.Settings, timeout_s=args.timeout))


def _command_line(args: argparse.Namespace, settings) -> list[str]:
    """The command that reproduces these measurements (outputs and remote options left out)."""
    return ["edgewise", "bench", *map(str, args.targets), *settings.bench_argv(timeout=False)]


def _outputs(args: argparse.Namespace, targets) -> dict[str, Path]:
    explicit = {k: getattr(args, k) for k in DEFAULT_NAMES if getattr(args, k) is not None}
    if explicit:
        return explicit
    out_dir = _out_dir(args, targets)
    outputs = {k: out_dir / name for k, name in DEFAULT_NAMES.items()}
    earlier = [p for p in outputs.values() if p.exists()]
    if earlier and args.out is None and not args.force:  # named places are the user's choice
        raise InputError(
            f"{earlier[0]} exists (an earlier benchmark's report); pass --force to replace it, "
            "or --out DIR to write elsewhere"
        )
    return outputs


def _out_dir(args: argparse.Namespace, targets) -> Path:
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise InputError(f"--out {args.out}: exists and is not a directory")
        return args.out
    if args.json is not None:
        return args.json.parent
    first = args.targets[0]
    return first if first.is_dir() else targets[0].path.parent


def _check_baseline(baseline: str | None, files: list[str]) -> None:
    if baseline is not None and baseline not in files:
        raise InputError(f"--baseline {baseline}: not among the artifacts ({', '.join(files)})")


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "remote"


def _write(doc, outputs: dict[str, Path], baseline: str | None) -> None:
    from edgewise.benchmarks import report_html, report_md, schema
    from edgewise.runtime import atomic

    for kind, path in outputs.items():
        if kind == "json":
            schema.save(doc, path)
        elif kind == "md":
            atomic.write_text(path, report_md.render(doc, baseline))
        elif kind == "html":
            atomic.write_text(path, report_html.render(doc, baseline))


def _say_written(outputs: dict[str, Path]) -> None:
    print("wrote " + printable(", ".join(str(p) for p in outputs.values())), file=sys.stderr)


def printable_block(text: str) -> str:
    """A multi-line table with control characters escaped in every line (file names come from disk)."""
    return "\n".join(printable(line) for line in text.splitlines())


def check_writable(paths) -> None:
    """Refuse unusable output paths before minutes of measuring, not after."""
    import tempfile

    for path in paths:
        if path.is_dir():
            raise InputError(f"{path}: is a directory; name a file to write the report to")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise InputError(f"{path}: cannot create it, {parent} is not a directory")
        try:  # a real probe: permissions, read-only mounts and pseudo file systems all say no here
            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError as e:
            raise InputError(f"{path}: cannot write there ({parent}: {e.strerror or e})") from None


# -- report -------------------------------------------------------------------------------------------
REPORT_SUMMARY = "render a benchmark JSON as Markdown/HTML, or merge several devices into one comparison"
REPORT_DESCRIPTION = """\
Reports are rendered from the JSON that `edgewise bench` writes, so a JSON fetched from another device
renders the same way.
"""

MERGE_SUMMARY = "put several runs (devices) side by side, with ratios to a baseline artifact"
MERGE_DESCRIPTION = """\
Merge benchmark JSON files from several devices (e.g. this PC, a Raspberry Pi, a GPU box) into one
comparison: p50 per artifact per device, the ratio to --baseline on each device, and the ratio of each
device to the first. Without --html/--md/--json the Markdown is printed.
"""

MERGE_EPILOG = """\
example:
  edgewise report merge pc.json pi.json --html compare.html --baseline model_fp32.tflite
"""

RENDER_SUMMARY = "render one benchmark JSON (or a merged one) as Markdown and/or HTML"
RENDER_DESCRIPTION = """\
Render a benchmark JSON again, e.g. after installing matplotlib for the plots. Without --md/--html the
terminal table is printed.
"""


def _register_report(sub) -> None:
    p = argtypes.add_command(sub, "report", REPORT_SUMMARY, REPORT_DESCRIPTION)
    report_sub = p.add_subparsers(dest="report_command", metavar="ACTION", required=True)

    merge_p = argtypes.add_command(report_sub, "merge", MERGE_SUMMARY, MERGE_DESCRIPTION, MERGE_EPILOG)
    merge_p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="RUN.json",
        help="benchmark JSON files written by `edgewise bench` (bench.json), one per device or run",
    )
    merge_p.add_argument("--baseline", metavar="ARTIFACT", help="artifact file name (default: fp32 TFLite)")
    merge_p.add_argument(
        "--label",
        action="append",
        default=None,
        metavar="NAME",
        help="rename the devices, once per input, in order",
    )
    _add_render_outputs(merge_p, with_json=True)
    merge_p.set_defaults(func=merge_command)

    render_p = argtypes.add_command(report_sub, "render", RENDER_SUMMARY, RENDER_DESCRIPTION)
    render_p.add_argument("input", type=Path, metavar="RUN.json")
    render_p.add_argument("--baseline", metavar="ARTIFACT", help="artifact file name (default: fp32 TFLite)")
    _add_render_outputs(render_p, with_json=False)
    render_p.set_defaults(func=render_command)


def _add_render_outputs(p: argparse.ArgumentParser, *, with_json: bool) -> None:
    p.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML report")
    p.add_argument("--md", type=Path, metavar="OUT", help="write a Markdown report")
    if with_json:
        p.add_argument("--json", type=Path, metavar="OUT", help="write the merged JSON")


def merge_command(args: argparse.Namespace) -> int:
    from edgewise.benchmarks import merge, report_md, schema

    runs = [schema.load_run(path) for path in args.inputs]
    if args.label:
        if len(args.label) != len(runs):
            raise InputError(f"--label given {len(args.label)} times for {len(runs)} inputs")
        for run, label in zip(runs, args.label, strict=True):
            run.label = label
    merged = merge.merge(runs, args.baseline)
    outputs = {k: getattr(args, k) for k in ("json", "md", "html") if getattr(args, k) is not None}
    if not outputs:
        print(report_md.render(merged))
        return 0
    check_writable(outputs.values())
    _write(merged, outputs, None)
    _say_written(outputs)
    return 0


def render_command(args: argparse.Namespace) -> int:
    from edgewise.benchmarks import report_md, schema, tables

    doc = schema.load(args.input)
    if isinstance(doc, schema.BenchRun):
        _check_baseline(args.baseline, [a.file for a in doc.artifacts])
    outputs = {k: getattr(args, k) for k in ("md", "html") if getattr(args, k) is not None}
    if not outputs:
        if isinstance(doc, schema.BenchRun):
            print(printable_block(tables.text_table(doc, args.baseline or tables.default_baseline(doc))))
        else:
            print(report_md.render(doc))
        return 0
    check_writable(outputs.values())
    _write(doc, outputs, args.baseline)
    _say_written(outputs)
    return 0
