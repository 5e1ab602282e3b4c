"""imbalance: make Keras 3 / TensorFlow classifiers work on imbalanced data.

Importing the package registers every loss, metric and layer with Keras, so ``keras.models.load_model`` reads a
saved model that uses them.
"""

from imbalance import data, datasets, diagnose, labels, losses, metrics, thresholds, weighting

__version__ = "0.1.0"

__all__ = ["data", "datasets", "diagnose", "labels", "losses", "metrics", "thresholds", "weighting", "__version__"]
