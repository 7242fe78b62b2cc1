"""Export tf.keras models to TFLite and ONNX; TensorFlow is imported lazily.

``edgewise.export.export(run, format="tflite", quantize="int8")`` is ``edgewise export RUN``.
"""

from edgewise.export.api import ExportRejected, ExportResult, export

__all__ = ["export", "ExportResult", "ExportRejected"]
