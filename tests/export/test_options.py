"""The options of one export: gathered by name, checked before the model loads."""

import dataclasses
import inspect

import pytest

from edgewise.export import api, options
from edgewise.runtime.card import Format, Quantize
from edgewise.runtime.errors import InputError


def _options(**given):
    """Options with export()'s defaults, overridden by ``given``."""
    defaults = {
        name: (p.default if p.default is not inspect.Parameter.empty else None)
        for name, p in inspect.signature(api.export).parameters.items()
    }
    return options.Options(**{**defaults, **given})


def test_options_has_exactly_the_keywords_of_export():
    fields = [f.name for f in dataclasses.fields(options.Options)]
    assert fields == list(inspect.signature(api.export).parameters)


def test_plan_is_every_format_times_every_mode_in_order():
    plan = options.plan(_options(format="onnx,tflite", quantize="fp32,int8,fp32"))
    assert plan.artifacts == [
        (Format.ONNX, Quantize.FP32),
        (Format.ONNX, Quantize.INT8),
        (Format.TFLITE, Quantize.FP32),
        (Format.TFLITE, Quantize.INT8),
    ]
    assert plan.int8 and not plan.micro


def test_tflm_rides_on_int8_tflite():
    plan = options.plan(_options(format="tflm", quantize="int8"))
    assert plan.artifacts == [(Format.TFLITE, Quantize.INT8)]
    assert plan.micro


def test_no_int8_means_no_calibration():
    assert not options.plan(_options(format="all", quantize="fp32,fp16")).int8


@pytest.mark.parametrize(
    "given, message",
    [
        ({"format": "coreml"}, "--format 'coreml'"),
        ({"quantize": "int4"}, "--quantize 'int4'"),
        ({"threads": 0}, "--threads must be at least 1"),
        ({"opset": 11, "format": "onnx"}, "--opset 11"),
        ({"fits": "nano33"}, "--fits checks a microcontroller build"),
        ({"int8_variant": "slowest"}, "--int8-variant 'slowest'"),
        ({"max_drop": -1.0}, "--max-drop must be a non-negative"),
        ({"qat_epochs": 1, "quantize": "fp32"}, "add int8 to --quantize"),
        ({"qat_epochs": 1, "max_drop": 0.5}, "choose one"),
    ],
)
def test_bad_options_are_one_line_errors(given, message):
    with pytest.raises(InputError, match=message) as caught:
        options.plan(_options(**given))
    assert "\n" not in str(caught.value)
