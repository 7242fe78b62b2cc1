"""Export tf.keras models to TFLite and ONNX; TensorFlow is imported lazily."""
