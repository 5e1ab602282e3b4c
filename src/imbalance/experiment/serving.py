"""The served model: one Keras model that outputs ``scores`` (probabilities) and ``decisions`` (the candidate's
rule as a layer); every file of it written atomically and checked before it is used.

* :func:`save_model_atomically`: a ``.keras`` file is never half-written (temporary beside it, ``fsync``, rename);
* :func:`model_file_ok` / :func:`load_model_file`: a ``.keras`` file is complete (a zip whose every member passes
  its CRC) before it is copied or served; a truncated one gives one line naming it and how to recover;
* :func:`export_saved_model`: the same model as a TensorFlow SavedModel folder that serves without ``imbalance``
  installed (``tf.saved_model.load``, TensorFlow Serving): signature ``serving_default``, input ``inputs``,
  outputs ``scores`` and ``decisions`` (the decision layers traced into plain TensorFlow ops). Written on the
  TensorFlow backend only; :func:`export_unavailable` says why not elsewhere.
"""

from __future__ import annotations

import os
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

from imbalance._files import atomic_file, fsync_tree, remove_stale_temporaries, replace_tree, temporary_sibling
from imbalance.experiment.data import ComparisonData
from imbalance.heads import head_output

__all__ = ["EXPORT_DIR", "INPUT_NAME", "SIGNATURE", "ExportSkippedWarning", "ModelFileError", "export_saved_model",
           "export_unavailable", "load_model_file", "model_file_ok", "save_model_atomically", "served_model",
           "with_decision"]

#: The folder beside ``best.keras`` that holds the served model as a TensorFlow SavedModel.
EXPORT_DIR = "best_savedmodel"
#: The SavedModel's serving signature (TensorFlow Serving's default) and the name of its one input.
SIGNATURE = "serving_default"
INPUT_NAME = "inputs"

#: Members every ``.keras`` archive written by Keras 3 holds.
_KERAS_MEMBERS = ("metadata.json", "config.json")


class ExportSkippedWarning(UserWarning):
    """``Results.save`` wrote no SavedModel export here (another backend, or no TensorFlow); the text says why."""


class ModelFileError(ValueError):
    """A model file that is missing, truncated or unreadable (an interrupted save); the message is one line that
    names the file and how to recover."""


def served_model(d: ComparisonData, fitted: list[Any], rule: Any) -> Any:
    """``scores`` (probabilities, averaged over the fitted models) and, when ``rule`` has a layer (a tuned or a
    fixed threshold), ``decisions``; ``rule=None`` (multi-class argmax without ``class_id``) serves scores only."""
    import keras

    first = fitted[0]
    inputs = _inputs_like(first)
    if len(fitted) > 1:
        for k, m in enumerate(fitted):
            m.name = f"fold_model_{k}"  # unique names: the ensemble is one saved model
    logits = [head_output(m, m(inputs), d.output) for m in fitted]
    activation = "softmax" if d.task == "multiclass" else "sigmoid"
    probs = [keras.layers.Activation(activation)(z) for z in logits]
    scores = probs[0] if len(probs) == 1 else keras.layers.Average()(probs)
    outputs = {"scores": scores}
    layer = rule.to_layer() if rule is not None else None
    if layer is not None:
        outputs["decisions"] = layer(scores)
    return keras.Model(inputs, outputs, name="imbalance_served")


def _inputs_like(model: Any) -> Any:
    """Fresh ``keras.Input`` s of the same structure (one, a list or a dict of named inputs), shapes and dtypes."""
    import keras

    structure = model.input if len(model.inputs) > 1 else model.inputs[0]
    return keras.tree.map_structure(lambda t: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]),
                                    structure)


def with_decision(served: Any, rule: Any) -> Any:
    """A served model (``scores`` and maybe ``decisions``) rewired to decide with ``rule`` (e.g. a
    :class:`~imbalance.thresholds.FixedThreshold` at 0.5 or argmax)."""
    import keras

    inputs = _inputs_like(served)
    scores = served(inputs)["scores"]
    return keras.Model(inputs, {"scores": scores, "decisions": rule.to_layer(name="decisions")(scores)},
                       name="imbalance_served")


# --- the .keras file ---------------------------------------------------------------------------------------------


def save_model_atomically(model: Any, path: str | os.PathLike[str]) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``path``, ``fsync``, then renamed over ``path``: a
    reader (or a run killed mid-save) finds the old file or the new one, never a half-written one. Temporaries left
    by an earlier, killed save of the same file are removed first."""
    with atomic_file(path, ".keras") as tmp:  # Keras wants the .keras suffix
        model.save(tmp)


def _keras_file_problem(path: Path) -> str | None:
    """What is wrong with a ``.keras`` file, or ``None`` when it is complete."""
    if not path.is_file():
        return "missing"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            absent = [m for m in _KERAS_MEMBERS if m not in names]
            if absent:
                return f"not a Keras model archive (no {absent[0]})"
            broken = archive.testzip()  # reads every member and checks its CRC
            if broken is not None:
                return f"corrupt ({broken} fails its CRC check; an interrupted save?)"
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as error:
        detail = " ".join(str(error).split())
        return f"truncated or corrupt ({detail}; an interrupted save?)"
    return None


def model_file_ok(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a complete ``.keras`` file: a zip archive holding Keras' ``metadata.json`` and
    ``config.json`` whose every member passes its CRC check. ``False`` for a missing file and for what a killed
    ``model.save`` leaves (a truncated zip, or no zip at all). Cheap (no Keras, no model built): made for deciding,
    on resume, whether a saved model must be trained again.

    >>> import tempfile, pathlib
    >>> broken = pathlib.Path(tempfile.mkdtemp()) / "m.keras"
    >>> model_file_ok(broken)  # missing
    False
    >>> _ = broken.write_bytes(b"PK\\x03\\x04 cut short"); model_file_ok(broken)
    False
    """
    return _keras_file_problem(Path(path)) is None


def _unreadable(path: Path, problem: str, recovery: str | None) -> ModelFileError:
    return ModelFileError(f"{path} is {problem}; {recovery or 'delete it and save the model again'}.")


def load_model_file(path: str | os.PathLike[str], recovery: str | None = None) -> Any:
    """``keras.models.load_model(path)`` after :func:`model_file_ok`; a missing, truncated or unreadable file raises
    :class:`ModelFileError`, one line naming ``path`` and ``recovery`` (what the user does about it)."""
    import keras

    path = Path(path)
    problem = _keras_file_problem(path)
    if problem is not None:
        raise _unreadable(path, problem, recovery)
    try:
        return keras.models.load_model(path)
    except Exception as error:  # a complete archive Keras still cannot read
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise _unreadable(path, f"not loadable ({type(error).__name__}: {first})", recovery) from error


# --- the SavedModel export ---------------------------------------------------------------------------------------


def export_unavailable() -> str | None:
    """Why :func:`export_saved_model` cannot run here (``None`` when it can): it traces the model with TensorFlow,
    so it needs the TensorFlow backend (the other backends' exporters are left out: ``best.keras`` serves there)."""
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        return (f"the SavedModel export needs the TensorFlow backend (this run uses {backend}; "
                "KERAS_BACKEND=tensorflow to write it)")
    try:
        import tensorflow  # noqa: F401
    except ImportError as error:
        return f"the SavedModel export needs TensorFlow ({error}; pip install 'imbalance[tensorflow]')"
    return None


def export_saved_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Export ``model`` (one input; outputs a dict such as ``{"scores", "decisions"}``) as a TensorFlow SavedModel
    folder at ``path`` that loads without ``imbalance`` installed.

    Its signature ``serving_default`` (also the endpoint ``serve``) takes one float tensor named ``inputs`` of the
    model's input shape with any batch size and returns the model's outputs under their names. Built in a temporary
    folder beside ``path``, ``fsync``-ed, then swapped in for an old export (:func:`~imbalance._files.replace_tree`):
    ``path`` is never half-written. Raises ``RuntimeError`` with :func:`export_unavailable`'s reason where it
    cannot run.
    """
    reason = export_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    import keras
    import tensorflow as tf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    if len(model.inputs) != 1:
        raise ValueError(f"The SavedModel export serves a model with one input; this one has {len(model.inputs)}.")
    spec = model.inputs[0]
    signature = [tf.TensorSpec((None, *spec.shape[1:]), tf.as_dtype(spec.dtype), name=INPUT_NAME)]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda inputs: model(inputs, training=False), input_signature=signature)
    tmp = temporary_sibling(path)
    try:
        archive.write_out(str(tmp), verbose=False)
        fsync_tree(tmp)
        replace_tree(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path
