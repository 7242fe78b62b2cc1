"""TF-free runtime: model card, preprocessing, backends and the Classifier.

Imports only the standard library, numpy and Pillow; an inference engine (ai_edge_litert,
tflite_runtime or onnxruntime) is imported lazily by the backend that needs it.
"""
