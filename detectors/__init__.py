"""driftwarden detectors."""
