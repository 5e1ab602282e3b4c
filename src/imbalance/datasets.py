"""Embedded demo datasets, one per seed problem. Nothing is downloaded: they are generated, or built from data that
scikit-learn ships.

================  ============  =====================================================================================
name              task          what it is
================  ============  =====================================================================================
``digits_lt``     multiclass    scikit-learn's 8×8 digits, subsampled to a long tail with class 0 the rarest (seed 000)
``fraud``         binary        ~1 % positives with real signal, ``make_classification`` (seed 001)
``multilabel30``  multilabel    seed 002's generator, vectorised: 30 labels, p=1/30 each, the matching feature is 1
                                for 10 % of positives
================  ============  =====================================================================================

>>> data = load_demo("multilabel30", n_samples=1000)
>>> data.x.shape, data.y.shape, data.task
((1000, 30), (1000, 30), 'multilabel')
>>> x, y = load_demo("fraud", n_samples=2000)
>>> round(float(y.mean()), 3)
0.01
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["DemoDataset", "DEMOS", "digits_image_folder", "load_demo", "multilabel30", "digits_lt", "fraud", "multilabel30_bayes_f1"]


@dataclass
class DemoDataset:
    """Features ``x`` (float32), labels ``y`` and what they are. Unpacks as ``x, y = load_demo(name)``."""

    name: str
    task: str
    x: np.ndarray
    y: np.ndarray
    description: str
    class_names: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x, self.y))


def multilabel30(n_samples: int = 30000, num_labels: int = 30, signal: float = 0.1, seed: int = 0) -> DemoDataset:
    """Seed 002's generator: each label positive with probability ``1/num_labels``; for a positive label the
    matching feature is 1 with probability ``signal`` (the seed's ``np.random.rand(1) > 0.9``), else all features 0.

    Draws are made in the seed's order (labels first, then one uniform per positive in row-major order), so
    ``seed=0`` reproduces the seed's arrays exactly — vectorised instead of its Python double loop.
    """
    rng = np.random.RandomState(seed)
    y = (rng.rand(n_samples, num_labels) <= 1.0 / num_labels).astype(np.int64)
    rows, cols = np.nonzero(y)
    x = np.zeros((n_samples, num_labels), dtype=np.float32)
    x[rows, cols] = (rng.rand(len(rows)) > 1.0 - signal).astype(np.float32)
    return DemoDataset(
        name="multilabel30",
        task="multilabel",
        x=x,
        y=y.astype(np.float32),
        description=(
            f"Seed 002: {num_labels} independent sparse labels (p=1/{num_labels}); a positive label lights its "
            f"feature with probability {signal}. Most positives carry no signal: the best possible micro-F1 is "
            f"{multilabel30_bayes_f1(num_labels, signal):.3f}."
        ),
        class_names=[f"label_{k}" for k in range(num_labels)],
    )


def multilabel30_bayes_f1(num_labels: int = 30, signal: float = 0.1) -> float:
    """Best micro-F1 any decision rule can reach on :func:`multilabel30` data (in the large-sample limit).

    A feature equal to 1 proves its label (predict it: precision 1); the label of a 0 feature is positive with
    probability ``q = π(1-s) / (1 - π s)``, the same for every such cell. So the optimal rule predicts the lit cells,
    and either all or none of the dark cells: with π=1/30 and s=0.1, F1 = 2·TP / (2·TP + FP + FN) per row.

    >>> round(multilabel30_bayes_f1(), 4)  # 2/11
    0.1818
    """
    pi, s = 1.0 / num_labels, signal
    lit = pi * s  # cells with feature 1 (all positive), per cell
    dark_pos = pi * (1 - s)  # positive cells with feature 0
    dark_neg = 1 - pi  # negative cells (feature always 0)
    f1_lit_only = 2 * lit / (2 * lit + dark_pos)
    f1_all = 2 * pi / (2 * pi + dark_neg)
    return float(max(f1_lit_only, f1_all))


def digits_lt(imbalance_ratio: float = 10.0, seed: int = 0, noise: float = 0.0) -> DemoDataset:
    """scikit-learn digits subsampled to an exponential long tail: class 9 keeps all its images, class 0 keeps
    ``1/imbalance_ratio`` of them (about 18 of 178 with the default ratio 10), classes between decay geometrically.
    Pixels are scaled to [0, 1].

    ``noise`` adds Gaussian pixel noise of that standard deviation (then clips to [0, 1]). Clean digits are easy
    (a small MLP separates class 0 perfectly, so every strategy ties at 1.0); ``imbalance demo`` uses ``noise=0.4``
    so that the rare class is hard, as in seed 000.

    >>> clean, noisy = digits_lt(), digits_lt(noise=0.4)
    >>> bool((clean.y == noisy.y).all()), bool(0 <= noisy.x.min() and noisy.x.max() <= 1), bool((clean.x != noisy.x).any())
    (True, True, True)
    """
    from sklearn.datasets import load_digits

    if imbalance_ratio < 1:
        raise ValueError(f"`imbalance_ratio` must be >= 1. Received: imbalance_ratio={imbalance_ratio}")
    digits = load_digits()
    rng = np.random.RandomState(seed)
    keep = []
    for k in range(10):
        idx = np.flatnonzero(digits.target == k)
        n_keep = max(2, int(round(len(idx) * imbalance_ratio ** (-(9 - k) / 9))))
        keep.append(rng.choice(idx, size=n_keep, replace=False))
    order = rng.permutation(np.concatenate(keep))
    counts = np.bincount(digits.target[order], minlength=10)
    if noise < 0:
        raise ValueError(f"`noise` must be >= 0. Received: noise={noise}")
    x = (digits.data[order] / 16.0).astype(np.float32)
    if noise > 0:
        x = np.clip(x + np.random.RandomState(seed + 1).normal(0.0, noise, x.shape), 0.0, 1.0).astype(np.float32)
    return DemoDataset(
        name="digits_lt",
        task="multiclass",
        x=x,
        y=digits.target[order].astype(np.int64),
        description=(
            f"Seed 000: scikit-learn digits, long-tailed (imbalance ratio {imbalance_ratio:g}), class 0 rarest: "
            f"counts {counts.tolist()}" + (f"; pixel noise sd {noise:g}." if noise else ".")
        ),
        class_names=[str(k) for k in range(10)],
    )


def fraud(n_samples: int = 20000, positive_rate: float = 0.01, seed: int = 0) -> DemoDataset:
    """Binary "fraud" data with real, partly overlapping signal: ``make_classification`` with 20 features (8
    informative), ``positive_rate`` positives and 1 % label noise."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n_samples,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        n_clusters_per_class=2,
        weights=[1.0 - positive_rate],
        class_sep=1.0,
        flip_y=0.0,
        random_state=seed,
    )
    return DemoDataset(
        name="fraud",
        task="binary",
        x=x.astype(np.float32),
        y=y.astype(np.int64),
        description=f"Seed 001: {n_samples} transactions, {int(y.sum())} frauds ({y.mean():.1%}), 20 features.",
        class_names=["legit", "fraud"],
    )


def digits_image_folder(directory: Any, size: int = 32, imbalance_ratio: float = 5.0, noise: float = 0.25,
                        seed: int = 0) -> Path:
    """Write the long-tailed digits as an image folder in Keras' layout (``directory/0/*.png`` … ``directory/9``):
    each 8×8 digit upscaled to ``size``×``size`` grayscale (bilinear), with Gaussian pixel noise of sd ``noise``
    (in [0, 1] units) added after upscaling; class 0 the rarest. Returns the folder. What ``imbalance demo
    --dataset images`` compares on (seed 000's user reads images from files).

    >>> import tempfile
    >>> root = digits_image_folder(Path(tempfile.mkdtemp()) / "digits", size=16)
    >>> sorted(p.name for p in root.iterdir())[:3], len(list((root / "0").glob("*.png")))
    (['0', '1', '2'], 36)
    """
    from PIL import Image

    root = Path(directory)
    data = digits_lt(imbalance_ratio=imbalance_ratio, seed=seed)
    rng = np.random.RandomState(seed + 2)
    root.mkdir(parents=True, exist_ok=True)
    for k in range(10):
        (root / str(k)).mkdir(exist_ok=True)
    for i, (pixels, label) in enumerate(zip(data.x, data.y)):
        small = Image.fromarray((pixels.reshape(8, 8) * 255).astype(np.uint8))
        big = np.asarray(small.resize((size, size), Image.BILINEAR), np.float32) / 255.0
        big = np.clip(big + rng.normal(0.0, noise, big.shape), 0.0, 1.0)
        Image.fromarray((big * 255).round().astype(np.uint8)).save(root / str(int(label)) / f"{i:05d}.png")
    return root


DEMOS = {"digits_lt": digits_lt, "fraud": fraud, "multilabel30": multilabel30}


def load_demo(name: str, **kwargs) -> DemoDataset:
    """One of the embedded datasets by name (``digits_lt``, ``fraud``, ``multilabel30``); keyword arguments go to
    its generator."""
    if name not in DEMOS:
        raise ValueError(f"Unknown demo dataset {name!r}; choose one of: {', '.join(DEMOS)}.")
    return DEMOS[name](**kwargs)
