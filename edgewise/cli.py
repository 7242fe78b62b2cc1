"""The ``edgewise`` command: train | export | predict | info | bench | report | doctor | serve.

Each component owns its sub-commands (``edgewise/<component>/cli.py`` defines ``register(subparsers)``),
so this module only wires them together and turns user errors into one line and exit code 2.
Heavy frameworks are imported by the command that needs them, never here.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from edgewise import __version__
from edgewise.native_log import filtered_stderr
from edgewise.runtime.errors import EdgewiseError
from edgewise.runtime.quiet import quiet_frameworks
from edgewise.runtime.terminal import printable


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line on stderr (exit 2) instead of usage + error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


class _PrintableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _quiet_known_warnings() -> None:
    """Drop library warnings that would only add noise around edgewise's own one-line messages.

    The runtime refuses oversized images itself (one error line), so Pillow's decompression-bomb warning
    is redundant; Pillow's "Corrupt EXIF data" warning concerns pixels that still decode fine.
    """
    warnings.filterwarnings("ignore", message=".*could be decompression bomb")
    warnings.filterwarnings("ignore", message="(?i).*exif", category=UserWarning)
    # the last-resort tensorflow engine for .tflite files: its deprecation is why it comes last
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)


def build_parser() -> argparse.ArgumentParser:
    from edgewise.benchmarks import cli as bench_cli
    from edgewise.benchmarks import doctor
    from edgewise.export import cli as export_cli
    from edgewise.runtime import cli as runtime_cli
    from edgewise.serve import cli as serve_cli
    from edgewise.train import cli as train_cli

    parser = OneLineErrorParser(
        prog="edgewise",
        description="Train an image classifier, export it to TFLite/ONNX, run it anywhere, and prove "
        "it still works there.",
    )
    parser.add_argument("--version", action="version", version=f"edgewise {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # serve comes after runtime: it adds --video to the predict parser
    for component in (train_cli, export_cli, runtime_cli, bench_cli, doctor, serve_cli):
        component.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what the user typed, for the run's record
    quiet_frameworks(verbose=args.verbose)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # log lines name files and labels: escape their control characters too
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__):
                handler.setFormatter(_PrintableFormatter("%(message)s"))
    try:
        # Both restored on return: main() leaves the caller's warning filters and descriptor 2 as they were.
        with warnings.catch_warnings(), filtered_stderr(enabled=not args.verbose):
            _quiet_known_warnings()
            return int(args.func(args) or 0)
    except EdgewiseError as e:
        if args.verbose:
            raise
        print(f"edgewise {args.command}: error: {printable(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"edgewise {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `edgewise predict ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # the file system said no: permissions, a full disk, a name too long...
        if args.verbose:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"edgewise {args.command}: error: {printable(where + (e.strerror or str(e)))}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug, or input we failed to foresee: still one line, and -v shows it all
        if args.verbose:
            raise
        print(
            f"edgewise {args.command}: internal error: {printable(f'{type(e).__name__}: {e}')} "
            "(run with -v for the traceback and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
