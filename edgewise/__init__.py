"""edgewise: train an image classifier, export it to TFLite and ONNX, and prove it works on a small device.

The import package stays light: ``import edgewise`` pulls in nothing heavier than numpy.
TensorFlow is imported only inside ``edgewise.train`` and ``edgewise.export`` when they run.
"""

__version__ = "0.1.0"
