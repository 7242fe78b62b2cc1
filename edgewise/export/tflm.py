"""``--format tflm``: a fully-int8 TFLite model checked, measured and packaged for TFLite Micro.

The int8 ``.tflite`` that :mod:`edgewise.export.tflite` writes (int8 input and output) is

1. checked against the operators TFLite Micro implements (:mod:`edgewise.export.tflm_ops`) and for float
   arithmetic: a refusal names every offending operator and what to change in the model;
2. loaded into TFLite Micro's own interpreter (the ``tflite-micro`` package) to measure the tensor arena it
   takes, and run on the bundle's parity images next to LiteRT to compare their int8 outputs;
3. optionally compiled by Vela for an Ethos-U55-128 NPU estimate;
4. written out as C sources (:mod:`edgewise.export.c_source`) in ``<bundle>/tflm/``.

The figures go into the model card under the int8 artifact's ``extra["tflm"]``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgewise.export import boards, c_source, tflm_ops
from edgewise.export.errors import ConversionError
from edgewise.runtime import formatting
from edgewise.runtime.card import ModelCard
from edgewise.runtime.errors import InputError, ValidationError

log = logging.getLogger("edgewise.export")

FORMAT = "tflm"
SOURCE_DIR = "tflm"
REQUIRED_IO = "int8"


class UnsupportedOnMicro(ConversionError):
    """The graph uses operators TFLite Micro lacks, or computes in float."""


class DoesNotFit(ValidationError):
    """The model's flash or RAM needs exceed the board named with ``--fits``; ``result`` is the export."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


# -- planning --------------------------------------------------------------------------------------------
def split_format(format: str | Iterable[str]) -> tuple[list[str], bool]:
    """The formats without ``tflm``, and whether ``tflm`` was asked for (it rides on int8 TFLite)."""
    items = format.split(",") if isinstance(format, str) else [str(v) for v in format]
    items = [i.strip().lower() for i in items if i.strip()]
    micro = FORMAT in items
    rest = [i for i in items if i != FORMAT]
    if micro and not {"tflite", "all"} & set(rest):
        rest.append("tflite")
    return rest, micro


def check_options(
    quantize: str | Iterable[str], io: str | None, board: str | None = None, npu: str | None = None
) -> None:
    """Refuse options TFLite Micro cannot honour before anything is converted."""
    from edgewise.export.vela import ACCELERATORS

    if npu is not None and npu not in ACCELERATORS:
        raise InputError(f"--npu {npu!r}: choose from {', '.join(ACCELERATORS)} or none")
    modes = quantize.split(",") if isinstance(quantize, str) else [str(q) for q in quantize]
    if not {"int8", "all"} & {m.strip().lower() for m in modes}:
        raise InputError("--format tflm needs --quantize int8: TFLite Micro runs fully-int8 graphs")
    if io not in (None, REQUIRED_IO):
        raise InputError(f"--format tflm needs --io {REQUIRED_IO}, not {io}: microcontrollers take int8")
    if board is not None:
        boards.board(board)


# -- 1. check --------------------------------------------------------------------------------------------
def check(name: str, ops: list[str], float_ops: list[str]) -> None:
    """Refuse in one line, naming each operator TFLM lacks (with what to change) and each float one."""
    problems = [f"{op} ({tflm_ops.advice(op)})" for op in ops if not tflm_ops.is_supported(op)]
    if float_ops:
        problems.append(
            "float arithmetic in " + ", ".join(float_ops) + " (quantise fully: --quantize int8 --io int8)"
        )
    if problems:
        raise UnsupportedOnMicro(f"{name} cannot run on TFLite Micro: " + "; ".join(problems))


# -- 2.-4. measure and write -----------------------------------------------------------------------------
def build(
    model_path: str | Path,
    card: ModelCard,
    *,
    out_dir: str | Path,
    board: str | None = None,
    parity_images: np.ndarray | None = None,
    accelerator: str | None = None,
    sha256: str = "",
) -> dict:
    """Check, measure and write the C sources of an int8 ``.tflite``; return the figures for the card."""
    from edgewise.export import tflite
    from edgewise.runtime.backends import load_backend

    model_path = Path(model_path)
    data = model_path.read_bytes()
    graph = tflite.graph_ops(data)
    check(model_path.name, graph.ops, graph.float_ops)
    target = boards.board(board) if board else None

    micro = load_backend(model_path, engine="tflm")
    spec_in, spec_out = _int8_io(model_path.name, micro)
    memory = _memory(len(data), micro.arena, card)
    info = _figures(graph.ops, memory, micro.describe()["engine_version"])
    if parity_images is not None and len(parity_images):
        from edgewise.runtime.micro_parity import compare

        log.info("%s: %d parity images through TFLM and LiteRT", model_path.name, len(parity_images))
        info["vs_litert"] = compare(model_path, parity_images)
    if target is not None:
        info["fits"] = boards.fits(target, memory["flash"]["model_bytes"], memory["ram"]["peak_ram_bytes"])
    if accelerator:
        info["ethos_u"] = _vela(model_path, accelerator)

    settings = c_source.MicroSettings(
        source=model_path.name,
        sha256=sha256,
        input_shape=tuple(card.input.shape),
        input_scale=spec_in.scale,
        input_zero_point=spec_in.zero_point,
        output_scale=spec_out.scale,
        output_zero_point=spec_out.zero_point,
        labels=card.labels,
        arena_bytes=memory["ram"]["arena_reserved_bytes"],
        ops=graph.ops,
    )
    c_source.write(Path(out_dir) / SOURCE_DIR, data, settings)
    return info


def _int8_io(name: str, micro):
    """The input and output specs; refuses a model whose I/O is not quantised int8."""
    spec_in, spec_out = micro.inputs[0], micro.outputs[0]
    if not (spec_in.dtype == spec_out.dtype == REQUIRED_IO and spec_in.quantized and spec_out.quantized):
        raise UnsupportedOnMicro(
            f"{name}: input {spec_in.dtype}, output {spec_out.dtype}; TFLite Micro export "
            f"needs int8 input and output (--io {REQUIRED_IO})"
        )
    return spec_in, spec_out


def _figures(ops: list[str], memory: dict, engine_version: str) -> dict:
    """The card's ``extra["tflm"]`` before the optional checks: sources, ops, memory, how it was measured."""
    return {
        "sources": f"{SOURCE_DIR}/",
        "files": list(c_source.FILES),
        "ops": ops,
        **memory,
        "measured_with": {
            "engine": "tflm",
            "engine_version": engine_version,
            "host": f"{platform.system()} {platform.machine()}",
            "kernels": "reference",
        },
    }


def _memory(model_bytes: int, arena: dict[str, int], card: ModelCard) -> dict:
    """Flash and RAM figures. Peak RAM = the arena (which holds the input and output tensors) + the
    application's own buffers: one raw uint8 frame and the dequantised float32 scores."""
    height, width, channels = card.input.shape
    input_buffer = height * width * channels
    output_buffer = 4 * card.num_classes
    reserved = -(-arena["total"] // c_source.ALIGNMENT) * c_source.ALIGNMENT
    return {
        "flash": {
            "model_bytes": model_bytes,
            "note": "the model array only; the TFLM runtime and the firmware's code come on top",
        },
        "ram": {
            "arena_bytes": arena["total"],
            "arena_head_bytes": arena.get("head"),
            "arena_tail_bytes": arena.get("tail"),
            "arena_reserved_bytes": reserved,
            "input_buffer_bytes": input_buffer,
            "output_buffer_bytes": output_buffer,
            "peak_ram_bytes": reserved + input_buffer + output_buffer,
        },
    }


def _vela(model_path: Path, accelerator: str) -> dict:
    from edgewise.export import vela

    if not vela.available():
        return {"skipped": 'ethos-u-vela is not installed; pip install "edgewise[micro]"'}
    try:
        return vela.estimate(model_path, accelerator)
    except (vela.VelaError, OSError, KeyError, ValueError) as e:
        log.warning("%s", e)
        return {"error": str(e)}


def check_fit(name: str, info: dict, result=None) -> None:
    """Raise :class:`DoesNotFit` when ``--fits`` named a board the model does not fit."""
    verdict = info.get("fits")
    if verdict is None or verdict["fits"]:
        return
    short = []
    if verdict["flash_headroom_bytes"] < 0:
        short.append(
            f"flash needs {_size(info['flash']['model_bytes'])} of {_size(verdict['flash_bytes'])} "
            "(model array)"
        )
    if verdict["ram_headroom_bytes"] < 0:
        ram = info["ram"]
        short.append(
            f"RAM needs {_size(ram['peak_ram_bytes'])} of {_size(verdict['ram_bytes'])} "
            f"(arena {_size(ram['arena_reserved_bytes'])} + I/O buffers "
            f"{_size(ram['input_buffer_bytes'] + ram['output_buffer_bytes'])})"
        )
    raise DoesNotFit(
        f"{name} does not fit {verdict['title']} ({verdict['board']}): " + "; ".join(short), result
    )


# -- report ------------------------------------------------------------------------------------------------
def summary(name: str, info: dict) -> list[str]:
    """The lines ``edgewise export --format tflm`` prints under its table."""
    ram = info["ram"]
    lines = [
        f"TFLite Micro: {name} -> {info['sources']} ({', '.join(info['files'])})",
        f"  ops       {len(info['ops'])}: {', '.join(info['ops'])}",
        f"  flash     {_size(info['flash']['model_bytes'])} model array (+ TFLM runtime and your code)",
        f"  arena     {_size(ram['arena_bytes'])} measured by the TFLM interpreter "
        f"(head {_size(ram['arena_head_bytes'])}, tail {_size(ram['arena_tail_bytes'])})",
        f"  peak RAM  {_size(ram['peak_ram_bytes'])} = arena {_size(ram['arena_reserved_bytes'])} + input "
        f"frame {_size(ram['input_buffer_bytes'])} + scores {_size(ram['output_buffer_bytes'])}",
    ]
    parity = info.get("vs_litert")
    if parity:
        for label, figures in (("LiteRT", parity), ("LiteRT ref. kernels", parity["reference_kernels"])):
            lines.append(
                f"  vs {label}: top-1 identical on {figures['top1_identical']}/{parity['samples']} parity "
                f"images, outputs identical on {figures['outputs_identical']}, max difference "
                f"{figures['max_step_diff']} quantised step(s)"
            )
    verdict = info.get("fits")
    if verdict:
        word = "fits" if verdict["fits"] else "does NOT fit"
        lines.append(
            f"  {word} {verdict['title']}: flash headroom {_size(verdict['flash_headroom_bytes'])}, "
            f"RAM headroom {_size(verdict['ram_headroom_bytes'])}"
        )
    ethos = info.get("ethos_u")
    if ethos:
        from edgewise.export import vela

        if "inference_ms" in ethos:
            lines.append(f"  Ethos-U   {vela.summary(ethos)} (Vela estimate)")
        else:
            lines.append(f"  Ethos-U   {ethos.get('skipped') or ethos.get('error')}")
    return lines


def _size(n: int | None) -> str:
    return formatting.size(n, missing="?")
