"""Training with tf.keras. TensorFlow is imported lazily inside the functions that need it."""
