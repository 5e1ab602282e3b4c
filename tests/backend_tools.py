"""The few test operations Keras 3 does not make backend-neutral: a gradient and a compiled metric update.

The suites that use these run under every backend (``KERAS_BACKEND=tensorflow | jax | torch``; see the Makefile's
``test`` and ``test-torch``)."""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()


def slow_on_tensorflow(test: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``test`` slow under TensorFlow only: a check of the product on the other backends that the TensorFlow
    suite already makes elsewhere (the behaviour pin, ``tests/test_experiment_compare.py``), so ``make test`` runs it
    under JAX and ``make test-slow`` under TensorFlow."""
    return pytest.mark.slow(test) if BACKEND == "tensorflow" else test


def tensorflow_importable() -> bool:
    """Whether ``import tensorflow`` works here (not in the torch venv, nor in the run that blocks it)."""
    try:
        import tensorflow  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def has_float64() -> bool:
    """Whether the backend computes in float64 (JAX only with ``jax_enable_x64``)."""
    if BACKEND != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


def value_and_gradient(fn: Callable[[Any], Any], x: np.ndarray) -> tuple[float, np.ndarray]:
    """``fn(z)`` (a scalar) and its gradient with respect to ``z``, a tensor holding ``x`` in ``x.dtype``."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        z = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = fn(z)
        grad = tape.gradient(value, z)
        assert grad is not None, "no gradient"
        return float(value), np.asarray(grad.numpy(), np.float64)
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        value, grad = jax.value_and_grad(lambda z: fn(z))(jnp.asarray(x))
        return float(value), np.asarray(grad, np.float64)
    if BACKEND == "torch":
        import torch

        if x.dtype == "bfloat16":  # numpy's bfloat16 (ml_dtypes) has no torch counterpart to convert from
            z = torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16)
        else:
            z = torch.from_numpy(np.ascontiguousarray(x))
        z.requires_grad_(True)
        value = fn(z)
        value.backward()
        assert z.grad is not None, "no gradient"
        return float(value.detach().float()), z.grad.detach().float().numpy().astype(np.float64)
    raise NotImplementedError(BACKEND)


def compiled_update(metric: keras.metrics.Metric) -> Callable[..., None] | None:
    """``metric.update_state`` compiled with XLA (TensorFlow: ``tf.function(jit_compile=True)``; JAX:
    ``jax.jit`` of the stateless update, after an eager first batch creates the state). ``None`` on torch, which
    has no XLA compilation of an update."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(metric.update_state, jit_compile=True)
    if BACKEND == "jax":
        import jax

        step = jax.jit(lambda variables, y, p, w: metric.stateless_update_state(variables, y, p, w))

        def update(y: Any, p: Any, w: Any = None) -> None:
            if not metric.variables:
                metric.update_state(y, p, w)  # the first batch decides the layout and creates the state
                return
            new = step([v.value for v in metric.variables], y, p, w)
            for variable, value in zip(metric.variables, new):
                variable.assign(value)

        return update
    return None
