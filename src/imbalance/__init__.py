"""imbalance: make Keras 3 / TensorFlow classifiers work on imbalanced data."""

from imbalance import datasets, labels, losses, weighting

__version__ = "0.1.0"

__all__ = ["datasets", "labels", "losses", "weighting", "__version__"]
