"""TensorFlow for the ``tf.data`` rooms (samplers, augmentation, weighted streams), or one clear line saying which
extra to install. Keras 3 feeds a ``tf.data.Dataset`` to ``fit`` on every backend, so these rooms work beside the
JAX and PyTorch backends too, as long as TensorFlow is installed."""

try:
    import tensorflow as tf
except ModuleNotFoundError as error:  # pragma: no cover - exercised in the TensorFlow-free test run
    if error.name != "tensorflow":
        raise
    raise ModuleNotFoundError(
        "imbalance's tf.data samplers, augmentation and weighted streams need TensorFlow, which is not installed: "
        "pip install 'imbalance[tensorflow]' (it works beside the JAX and PyTorch backends).",
        name="tensorflow",
    ) from None

__all__ = ["tf"]
