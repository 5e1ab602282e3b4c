"""Tables bigger than memory: peak RSS of a streamed table at 1 M and 10 M rows (quick: 100 k and 1 M).

Goal (issue 16): ``compare`` on a Parquet table read in chunks (``imbalance.data.table_source``), preprocessing
fitted on a sample of the training rows: **peak RSS grows by less than 300 MB** between the 1 M-row and the 10 M-row
table (labels in memory, features streamed).

Method:

* Each table is written in chunks with ``pyarrow.parquet.ParquetWriter`` (row groups of 250 k rows) in a temporary
  folder: 20 float64 columns (three of them shifted for the positive class, so a model has something to learn), two
  text columns (12 and 5 categories) and an ``int8`` label with 1 % positives. The driver only writes; it is not
  measured.
* Every measurement runs in a **fresh interpreter** (``python -m benchmarks.table_memory --worker '<json>'``), so
  none inherits another's memory. It reports ``ru_maxrss`` (peak resident set size) after its imports (TensorFlow,
  Keras, imbalance: the baseline), after each phase, and at the end, and the wall time of each phase.
* Two measurements per size:

  - **stream**: ``table_source(path, "label")``, ``fit_transform`` on all rows (a 50 k-row sample), then one epoch
    of ``rows_dataset`` over every row, batched 256 (the pure streaming path, no model);
  - **compare**: ``imbalance.experiment.compare(table_source(path, "label"), strategies=["baseline",
    "oversample"], epochs=1, seeds=1, folds=None, workers=1, progress=False, out_dir=tmp)`` through the public
    API.

* Each measurement is repeated in ``REPEATS`` fresh interpreters (full mode; one in quick mode) and the run with
  the **median** peak RSS stands for it: RSS after the imports alone varies by up to ~250 MB between interpreters on
  a shared machine, so one run per size is noise of that order. Every run's peak is listed.
* Growth = median peak RSS at the larger size minus median peak RSS at the smaller one, per measurement, against the
  goal.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any, Callable

from benchmarks._report import Section, WorkerFailed, run_worker, environment, log, md_table, now_iso, store_section

NAME = "table_memory"
TITLE = "Tables bigger than memory: peak RSS of a streamed comparison, 1 M vs 10 M rows"
GOAL_MB = 300.0
NUMERIC = 20
CATEGORIES = {"region": 12, "channel": 5}
POSITIVES = 0.01
WRITE_ROWS = 250_000
MODES = ("stream", "compare")
REPEATS = 3


def write_table(path: str, rows: int, seed: int = 0) -> int:
    """Write the synthetic table of ``rows`` rows to ``path`` in chunks; returns the file size in bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    fields = [(f"x{j}", pa.float64()) for j in range(NUMERIC)] + [(c, pa.string()) for c in CATEGORIES]
    schema = pa.schema(fields + [("label", pa.int8())])
    levels = {c: np.array([f"{c}_{k}" for k in range(n)], dtype=object) for c, n in CATEGORIES.items()}
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, WRITE_ROWS):
            n = min(WRITE_ROWS, rows - start)
            label = (rng.random(n) < POSITIVES).astype(np.int8)
            block: dict[str, Any] = {}
            for j in range(NUMERIC):
                values = rng.normal(size=n)
                block[f"x{j}"] = values + (1.5 * label if j < 3 else 0.0)
            for c, names in levels.items():
                block[c] = names[rng.integers(0, len(names), size=n)]
            block["label"] = label
            writer.write_table(pa.table(block, schema=schema))
    return os.path.getsize(path)


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _worker(settings: dict[str, Any]) -> None:
    """One measurement in this interpreter; prints one JSON line."""
    started = time.perf_counter()
    import numpy as np
    import tensorflow as tf  # noqa: F401  (the baseline includes the framework)

    import imbalance.experiment
    from imbalance.data.table_source import table_source

    out: dict[str, Any] = {"mode": settings["mode"], "rows": settings["rows"],
                           "imports_s": time.perf_counter() - started, "rss_base_mb": _peak_mb(), "phases": {}}

    def phase(name: str, t0: float) -> None:
        out["phases"][name] = {"seconds": round(time.perf_counter() - t0, 2), "peak_mb": round(_peak_mb(), 1)}

    t0 = time.perf_counter()
    source = table_source(settings["path"], "label")
    phase("source (labels)", t0)
    if settings["mode"] == "stream":
        rows = np.arange(len(source))
        t0 = time.perf_counter()
        transform = source.fit_transform(rows, seed=0)
        phase("fit_transform", t0)
        t0 = time.perf_counter()
        seen = 0
        for batch_rows, _ in source.rows_dataset(lambda epoch: rows, 1, transform).batch(256).as_numpy_iterator():
            seen += len(batch_rows)
        phase("one epoch", t0)
        out["rows_seen"] = seen
        out["width"] = transform.width
    else:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            results = imbalance.experiment.compare(source, strategies=["baseline", "oversample"], epochs=1, seeds=1,
                                                   folds=None, workers=1, progress=False, out_dir=tmp)
        phase("compare", t0)
        out["runs"] = len(results.runs)
        out["failed"] = len(results.failed)
    out["rss_peak_mb"] = _peak_mb()
    out["wall_s"] = time.perf_counter() - started
    print(json.dumps(out))


def _run_worker(settings: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    try:
        return run_worker("benchmarks.table_memory", settings, timeout)
    except WorkerFailed as failed:  # a failed size is a row of the table, not a crash of the section
        out = {"mode": settings["mode"], "rows": settings["rows"], "error": failed.error}
        return {**out, "stderr": failed.stderr} if failed.stderr else out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median peak RSS (the lower middle one of an even number; a failed run when any failed),
    with every run's peak as ``peaks_mb``.

    >>> r = median_run([{"rss_peak_mb": 900.0}, {"rss_peak_mb": 1200.0}, {"rss_peak_mb": 1000.0}])
    >>> r["rss_peak_mb"], r["peaks_mb"]
    (1000.0, [900.0, 1200.0, 1000.0])
    >>> "error" in median_run([{"rss_peak_mb": 900.0}, {"error": "killed"}])
    True
    """
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    ranked = sorted(runs, key=lambda r: float(r["rss_peak_mb"]))
    return {**ranked[(len(ranked) - 1) // 2], "peaks_mb": [float(r["rss_peak_mb"]) for r in runs]}


def measure(sizes: tuple[int, ...], modes: tuple[str, ...] = MODES, log: Callable[[str], None] = log,
            folder: str | None = None, repeats: int = REPEATS) -> dict[str, Any]:
    """Write each table and measure each mode at each size (``repeats`` fresh interpreters; the median run)."""
    out: dict[str, Any] = {"sizes": list(sizes), "repeats": repeats, "tables": {},
                           "results": {m: {} for m in modes}}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for rows in sizes:
            path = os.path.join(tmp, f"table_{rows}.parquet")
            t0 = time.perf_counter()
            size = write_table(path, rows)
            out["tables"][str(rows)] = {"bytes": size, "write_s": round(time.perf_counter() - t0, 1)}
            log(f"table_memory: wrote {rows:,} rows ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
            for mode in modes:
                runs = []
                for _ in range(repeats):
                    result = _run_worker({"mode": mode, "rows": rows, "path": path})
                    runs.append(result)
                    if "error" in result:
                        log(f"  {mode}: failed: {result['error']}")
                        break
                    log(f"  {mode}: peak RSS {result['rss_peak_mb']:.0f} MB (after imports "
                        f"{result['rss_base_mb']:.0f} MB), {result['wall_s']:.1f} s")
                out["results"][mode][str(rows)] = median_run(runs)
            os.remove(path)
    return out


def growth(results: dict[str, Any], small: int, large: int) -> float | None:
    """Peak RSS at ``large`` rows minus at ``small`` rows (MB), or None when either failed.

    >>> growth({"1": {"rss_peak_mb": 900.0}, "10": {"rss_peak_mb": 1050.5}}, 1, 10)
    150.5
    >>> growth({"1": {"error": "no"}, "10": {"rss_peak_mb": 1.0}}, 1, 10) is None
    True
    """
    a, b = results.get(str(small), {}), results.get(str(large), {})
    if "rss_peak_mb" not in a or "rss_peak_mb" not in b:
        return None
    return round(float(b["rss_peak_mb"]) - float(a["rss_peak_mb"]), 1)


def render(data: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """The section's markdown body, wins and losses."""
    small, large = data["sizes"][0], data["sizes"][-1]
    rows, wins, losses = [], [], []
    for mode, results in data["results"].items():
        for size in data["sizes"]:
            r = results.get(str(size), {})
            table = data["tables"].get(str(size), {})
            if "error" in r:
                rows.append([mode, f"{size:,}", f"{table.get('bytes', 0) / 1e6:.0f}", "—", "—", "—", "—",
                             f"failed: {r['error']}"])
                continue
            phases = "; ".join(f"{name} {p['seconds']:.1f} s → {p['peak_mb']:.0f} MB"
                               for name, p in r.get("phases", {}).items())
            peaks = ", ".join(f"{p:.0f}" for p in r.get("peaks_mb", [r["rss_peak_mb"]]))
            rows.append([mode, f"{size:,}", f"{table.get('bytes', 0) / 1e6:.0f}", f"{r['rss_base_mb']:.0f}",
                         f"{r['rss_peak_mb']:.0f}", peaks, f"{r['wall_s']:.1f}", phases])
        grown = growth(results, small, large)
        label = "streaming one epoch" if mode == "stream" else "compare (baseline, oversample)"
        if grown is None:
            losses.append(f"{label}: no growth measured ({small:,} → {large:,} rows): a run failed")
        else:
            statement = (f"{label}: median peak RSS grew by {grown:.0f} MB from {small:,} to {large:,} Parquet "
                         f"rows (goal < {GOAL_MB:.0f} MB; {data.get('repeats', 1)} fresh interpreters per size)")
            (wins if grown < GOAL_MB else losses).append(statement)
    table = md_table(["Measurement", "Rows", "File (MB)", "RSS after imports (MB)", "Median peak RSS (MB)",
                      "Every run's peak (MB)", "Wall (s)", "Phases (time → peak RSS so far)"], rows,
                     align=["l", "r", "r", "r", "r", "r", "r", "l"])
    body = "\n\n".join([
        f"Goal: peak RSS grows by **< {GOAL_MB:.0f} MB** between a {small:,}-row and a {large:,}-row Parquet "
        f"table ({NUMERIC} numeric + {len(CATEGORIES)} categorical columns, {POSITIVES:.0%} positives), read in "
        "chunks by `imbalance.data.table_source` (labels in memory, features streamed, the preprocessor fitted on "
        f"a 50 k-row sample). Each measurement repeated in {data.get('repeats', 1)} fresh interpreters, the run with "
        "the median peak shown (its after-imports RSS, wall time and phases); see `benchmarks/table_memory.py`.",
        table,
    ])
    return body, wins, losses


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    sizes = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    started = time.perf_counter()
    data = measure(sizes, log=log, repeats=1 if quick else REPEATS)
    elapsed = time.perf_counter() - started
    body, wins, losses = render(data)
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "environment": environment(),
               "seconds": round(elapsed, 1), "data": data}
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(json.loads(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--sizes":  # a trial at other sizes: prints, stores nothing
        result = measure(tuple(int(s) for s in sys.argv[2].split(",")), log=print)
        print(render(result)[0])
    else:
        raise SystemExit("usage: python -m benchmarks.run --only table_memory [--quick]\n"
                         "       python -m benchmarks.table_memory --sizes 20000,200000  (a trial; stores nothing)")
