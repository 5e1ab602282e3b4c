"""Image folders streamed through ``tf.data``: memory flat in the data size, and the epoch's speed vs Keras' loader.

Goals (issue 16, benchmarks rather than timed tests):

* **Memory flat in the data size**: ``compare`` on a generated folder of 2,000 and of 20,000 64×64 RGB PNGs (the
  larger ≈ 1 GB as a float32 array): peak RSS grows by **< 300 MB** between the two.
* **Throughput**: one epoch of the streamed image pipeline within **1.5×** the time of a hand-written
  ``keras.utils.image_dataset_from_directory`` pipeline feeding the same model.

Method:

* **Data.** Two folders of 64×64 RGB PNGs generated once per run in a temporary directory (PIL, seeded NumPy),
  removed at the end: ``common`` and ``rare`` (exactly 10 %; label 1, the positive class of binary data, so the
  F1 that ``compare`` reports is the rare class's). Every image is Gaussian noise around a random grey level; a
  rare image also holds a faint reddish square at a random place, so a small CNN learns it but not at once.
  2,000 and 20,000 images (quick mode: 1,500 and 6,000).
* **Memory.** Each configuration in a **fresh interpreter** (``python -m benchmarks.image_source --worker
  '<json>'``): the heavy imports first (TensorFlow, Keras, ``imbalance``), then ``compare(folder,
  strategies=["baseline", "oversample"], objective="f1", epochs=1, seeds=1, folds=None, workers=1,
  progress=False, out_dir=tmp)`` through the public API, a folder path as the data. Peak RSS is
  ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the imports and after ``compare``; the goal is on the
  growth of the latter between the two sizes. ``compare``'s default batch is 64 below 5,000 rows and 256 above,
  so the sizes train on different batches; a third run, the large folder at the small one's batch, separates the
  growth with the data from the growth with the batch. Quick mode uses 1,500 and 6,000 images: below ~1,100
  images (≈ 110 rare) ``compare`` cross-validates instead of one holdout split, a different protocol.
* **Throughput.** One fresh interpreter, the smaller folder (2,000 images; quick: 1,500), batch 64 (``compare``'s
  default below 5,000 rows), the library's default image model ``build_mlp((64, 64, 3), 1, rescale=1/255)`` with
  Adam and binary cross-entropy on logits, a fresh model (same seed) per pipeline:

  - *ours*: ``imbalance.experiment.feeding.fit_dataset`` on a ``Rows`` view of every row of
    ``image_folder(folder)`` with a plain shuffle (``feeding.shuffled``) — what a baseline run of ``compare``
    trains on — then ``model.fit(ds, epochs=1 + reps, steps_per_epoch=steps)``;
  - *Keras*: ``image_dataset_from_directory(folder, image_size=(64, 64), batch_size=64, label_mode="binary",
    shuffle=True).prefetch(AUTOTUNE)`` then ``model.fit(ds, epochs=1 + reps)``.

  A callback times every epoch; the first (tracing, warm-up) is excluded, the next ``reps`` = 3 count. The two
  pipelines alternate (ours, Keras; in full mode then Keras, ours again), and each epoch's time is divided by the
  images it fed (``fit_dataset`` trains on whole batches only: ``steps × 64`` images, Keras' last batch is
  partial), so the ratio is of seconds **per image**. For the diagnosis, the same two pipelines are also iterated
  without a model (input pipeline alone, images per second).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks._report import Section, run_worker, environment, load_average, log, md_table, now_iso, store_section

NAME = "image_source"
TITLE = "Image folders streamed through tf.data: memory vs data size, epoch speed vs Keras' loader"
GOAL_MEMORY_MB = 300.0
GOAL_RATIO = 1.5
IMAGE = (64, 64, 3)
BATCH = 64
REPS = 3
RARE_FRACTION = 0.10
#: Class folders, sorted as Keras and ``image_folder`` sort them: the rare class is label 1, the positive class of
#: binary data, so the F1 ``compare`` reports is the rare class's.
COMMON, RARE = "common", "rare"


# --- data ----------------------------------------------------------------------------------------------------


def generate_folder(root: Path, n: int, seed: int) -> dict[str, Any]:
    """``n`` 64×64 RGB PNGs in Keras' layout under ``root`` (``rare`` ≈ 10 %, ``common``); their counts."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    rare = np.zeros(n, bool)
    rare[rng.permutation(n)[:round(RARE_FRACTION * n)]] = True  # exactly 10 %: the same protocol at every size
    h, w, c = IMAGE
    for name in (COMMON, RARE):
        (root / name).mkdir(parents=True, exist_ok=True)
    chunk = 500
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = stop - start
        grey = rng.uniform(70, 180, size=(m, 1, 1, 1))
        images = grey + rng.normal(0, 40, size=(m, h, w, c))
        for k in np.flatnonzero(rare[start:stop]):
            size = int(rng.integers(12, 24))
            top, left = (int(v) for v in rng.integers(0, h - size, size=2))
            images[k, top:top + size, left:left + size] += np.array([55.0, -20.0, -20.0])
        pixels = np.clip(images, 0, 255).astype(np.uint8)
        for k in range(m):
            i = start + k
            folder = RARE if rare[i] else COMMON
            Image.fromarray(pixels[k]).save(root / folder / f"{i:06d}.png", compress_level=1)
    size_bytes = sum(f.stat().st_size for f in root.rglob("*.png"))
    return {"images": n, "rare": int(rare.sum()), "disk_mb": size_bytes / 2**20,
            "float32_mb": n * h * w * c * 4 / 2**20}


# --- workers (each in a fresh interpreter) ------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _current_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _memory_worker(settings: dict[str, Any]) -> dict[str, Any]:
    """compare() on the folder; peak RSS after the imports and at the end, wall time, the runs' F1."""
    import keras  # noqa: F401  (the heavy imports happen before the first measurement)
    import tensorflow as tf  # noqa: F401

    import imbalance.data.sources  # noqa: F401
    from imbalance.experiment import compare

    after_imports = _peak_mb()
    out_dir = tempfile.mkdtemp(prefix="imbalance-bench-out-")
    try:
        started = time.perf_counter()
        results = compare(settings["folder"], strategies=["baseline", "oversample"], objective="f1", epochs=1,
                          seeds=1, folds=None, workers=1, progress=False, out_dir=out_dir,
                          batch_size=settings.get("batch_size"))
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return {"peak_after_imports_mb": after_imports, "peak_end_mb": _peak_mb(), "rss_end_mb": _current_mb(),
            "wall": wall, "runs": [{"strategy": r.strategy, "f1": r.objective, "pr_auc": r.pr_auc,
                                     "seconds": r.seconds} for r in results.runs],
            "failed": len(results.failed)}


class _EpochTimer:
    """A Keras callback recording each epoch's wall time."""

    def __new__(cls) -> Any:
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.seconds: list[float] = []
                self._start = 0.0

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                self.seconds.append(time.perf_counter() - self._start)

        return Timer()


def _model(seed: int = 0) -> Any:
    import keras

    from imbalance.experiment import build_mlp

    net = build_mlp(IMAGE, 1, seed, rescale=1 / 255)
    net.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return net


def _ours(folder: str, epochs: int, seed: int = 0) -> tuple[Any, int, int]:
    """The library's training dataset over every row of the folder (plain shuffle): (dataset, steps, images/epoch)."""
    import numpy as np

    from imbalance.data.sources import Rows, image_folder
    from imbalance.experiment.feeding import fit_dataset, shuffled

    src = image_folder(folder)
    n = len(src)
    rows = Rows(src, np.arange(n))
    targets = np.asarray(src.labels, np.float32).reshape(-1, 1)
    ds, steps = fit_dataset(rows, targets, shuffled(n, seed), epochs=epochs, batch_size=BATCH)
    return ds, steps, steps * min(BATCH, n)


def _keras(folder: str, seed: int = 0) -> tuple[Any, int]:
    import keras
    import tensorflow as tf

    ds = keras.utils.image_dataset_from_directory(folder, image_size=IMAGE[:2], batch_size=BATCH,
                                                  label_mode="binary", shuffle=True, seed=seed, verbose=False)
    return ds.prefetch(tf.data.AUTOTUNE), int(ds.cardinality().numpy())


def _fit_ours(folder: str, reps: int) -> dict[str, Any]:
    ds, steps, images = _ours(folder, 1 + reps)
    timer = _EpochTimer()
    _model().fit(ds, epochs=1 + reps, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[timer])
    return {"epoch_s": timer.seconds[1:], "warmup_s": timer.seconds[0], "images": images, "steps": steps}


def _fit_keras(folder: str, reps: int, n: int) -> dict[str, Any]:
    ds, steps = _keras(folder)
    timer = _EpochTimer()
    _model().fit(ds, epochs=1 + reps, verbose=0, shuffle=False, callbacks=[timer])
    return {"epoch_s": timer.seconds[1:], "warmup_s": timer.seconds[0], "images": n, "steps": steps}


def _iterate(ds: Any, batches: int) -> float:
    """Seconds to pull ``batches`` batches (the input pipeline alone)."""
    started = time.perf_counter()
    for k, _ in enumerate(ds):
        if k + 1 >= batches:
            break
    return time.perf_counter() - started


def _throughput_worker(settings: dict[str, Any]) -> dict[str, Any]:
    """Epochs of the same model fed by ours and by Keras' loader, alternating; then the pipelines alone."""
    import numpy as np

    folder, reps, rounds = settings["folder"], int(settings["reps"]), int(settings["rounds"])
    n = sum(1 for _ in Path(folder).rglob("*.png"))
    out: dict[str, Any] = {"ours": [], "keras": [], "order": []}
    for r in range(rounds):
        order = ("ours", "keras") if r % 2 == 0 else ("keras", "ours")
        for which in order:
            result = _fit_ours(folder, reps) if which == "ours" else _fit_keras(folder, reps, n)
            result["load_after"] = load_average()
            out[which].append(result)
            out["order"].append(which)
    # The input pipelines alone (no model): a warm-up pass, then `reps` epochs of batches.
    ds_ours, steps, images = _ours(folder, 1 + reps)
    it = iter(ds_ours)
    pipeline_ours = []
    for _ in range(1 + reps):
        started = time.perf_counter()
        for _ in range(steps):
            next(it)
        pipeline_ours.append(images / (time.perf_counter() - started))
    ds_keras, _ = _keras(folder)
    pipeline_keras = []
    for _ in range(1 + reps):
        started = time.perf_counter()
        for _ in ds_keras:
            pass
        pipeline_keras.append(n / (time.perf_counter() - started))
    out["pipeline_images_per_s"] = {"ours": float(np.median(pipeline_ours[1:])),
                                    "keras": float(np.median(pipeline_keras[1:]))}
    out["n"] = n
    return out


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "memory": _memory_worker, "throughput": _throughput_worker}


def _run_worker(settings: dict[str, Any]) -> dict[str, Any]:
    return run_worker("benchmarks.image_source", settings)


# --- the section ---------------------------------------------------------------------------------------------


def measure(quick: bool, log: Callable[[str], None] = log) -> dict[str, Any]:
    sizes = (1500, 6000) if quick else (2000, 20000)
    small, large = sizes
    out: dict[str, Any] = {"sizes": list(sizes), "folders": {}, "memory": {}, "throughput": {}}
    root = Path(tempfile.mkdtemp(prefix="imbalance-bench-images-"))
    try:
        folders = {}
        for n in sizes:
            started = time.perf_counter()
            folders[n] = root / f"images_{n}"
            info = generate_folder(folders[n], n, seed=1000 + n)
            info["generate_s"] = time.perf_counter() - started
            out["folders"][str(n)] = info
            log(f"image_source: generated {n} PNGs ({info['disk_mb']:.0f} MB on disk) in {info['generate_s']:.0f} s")
        # compare's default batch (64 below 5,000 rows, 256 above) differs between the sizes; the large folder at
        # the small one's batch separates the growth with the data from the growth with the batch.
        for key, n, batch in ((str(small), small, None), (str(large), large, None),
                              (f"{large}@{default_batch(small)}", large, default_batch(small))):
            before = load_average()
            log(f"image_source: memory, compare on {n} images, batch {batch or default_batch(n)} …")
            result = _run_worker({"mode": "memory", "folder": str(folders[n]), "batch_size": batch})
            result["load_before"], result["load_after"] = before, load_average()
            result["images"], result["batch"] = n, batch or default_batch(n)
            out["memory"][key] = result
            log(f"  peak RSS {result['peak_end_mb']:.0f} MB, {result['wall']:.1f} s")
        before = load_average()
        log(f"image_source: throughput on {small} images …")
        result = _run_worker({"mode": "throughput", "folder": str(folders[small]), "reps": REPS,
                              "rounds": 1 if quick else 2})
        result["load_before"], result["load_after"] = before, load_average()
        out["throughput"] = result
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def default_batch(rows: int) -> int:
    """compare's default batch for ``rows`` rows (64 below 5,000, 256 above)."""
    from imbalance.experiment.training import default_batch_size

    return default_batch_size(None, rows)


def _median(values: list[float]) -> float:
    import numpy as np

    return float(np.median(values))


def _load_text(before: Any, after: Any) -> str:
    return f"{before[0]:.2f} → {after[0]:.2f}" if before and after else "n/a"


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    started = time.perf_counter()
    load_start = load_average()
    data = measure(quick, log=log)
    elapsed = time.perf_counter() - started
    load_end = load_average()
    small, large = data["sizes"]
    memory = data["memory"]
    mem_s, mem_l = memory[str(small)], memory[str(large)]
    mem_same = memory[f"{large}@{default_batch(small)}"]
    growth = mem_l["peak_end_mb"] - mem_s["peak_end_mb"]
    growth_same = mem_same["peak_end_mb"] - mem_s["peak_end_mb"]
    float_growth = data["folders"][str(large)]["float32_mb"] - data["folders"][str(small)]["float32_mb"]

    mem_rows = []
    for m in (mem_s, mem_l, mem_same):
        info = data["folders"][str(m["images"])]
        f1 = ", ".join(f"{r['strategy']} {r['f1']:.2f}" for r in m["runs"])
        mem_rows.append([f"{m['images']:,} ({info['rare']} rare)", str(m["batch"]), f"{info['disk_mb']:.0f}",
                         f"{info['float32_mb']:.0f}", f"{m['peak_after_imports_mb']:.0f}", f"{m['peak_end_mb']:.0f}",
                         f"{m['peak_end_mb'] - m['peak_after_imports_mb']:.0f}", f"{m['wall']:.1f}",
                         f1 + (f"; {m['failed']} failed" if m["failed"] else ""),
                         _load_text(m.get("load_before"), m.get("load_after"))])
    mem_rows.append([f"growth {small:,} → {large:,} (compare's defaults)", "", "", f"{float_growth:.0f}", "",
                     f"**{growth:.0f}**", "", "", f"goal < {GOAL_MEMORY_MB:.0f} MB", ""])
    mem_rows.append([f"growth {small:,} → {large:,}, same batch {mem_s['batch']}", "", "", f"{float_growth:.0f}", "",
                     f"{growth_same:.0f}", "", "", "", ""])
    mem_table = md_table(["Images", "Batch", "PNG on disk (MB)", "As float32 array (MB)",
                          "Peak RSS after imports (MB)", "Peak RSS after compare (MB)", "compare's own peak (MB)",
                          "Wall time of compare (s)", "F1 of the runs (test)", "Load (1 min)"], mem_rows,
                         align=["l", "r", "r", "r", "r", "r", "r", "r", "l", "l"])

    tp = data["throughput"]
    n_tp = tp["n"]
    per_image = {k: [s / r["images"] for r in tp[k] for s in r["epoch_s"]] for k in ("ours", "keras")}
    epoch = {k: [s for r in tp[k] for s in r["epoch_s"]] for k in ("ours", "keras")}
    ratios = [a / b for a, b in zip(per_image["ours"], per_image["keras"])]
    ratio = _median(per_image["ours"]) / _median(per_image["keras"])
    pipe = tp["pipeline_images_per_s"]
    tp_rows = []
    for key, label in (("ours", "ours: `fit_dataset` on `image_folder` (plain shuffle)"),
                       ("keras", "Keras: `image_dataset_from_directory(…).prefetch(AUTOTUNE)`")):
        runs = tp[key]
        tp_rows.append([label, str(runs[0]["images"]), str(runs[0]["steps"]),
                        f"{_median([r['warmup_s'] for r in runs]):.2f}",
                        f"{_median(epoch[key]):.2f} ({', '.join(f'{s:.2f}' for s in epoch[key])})",
                        f"{1 / _median(per_image[key]):.0f}", f"{pipe[key]:.0f}",
                        f"{ratio:.2f}×" if key == "ours" else "1.00×"])
    tp_table = md_table(["Pipeline", "Images per epoch", "Steps", "Warm-up epoch (s)",
                         f"Epoch (s), median of {len(epoch['ours'])}", "Images/s with the model",
                         "Images/s, pipeline alone", "Time per image vs Keras"], tp_rows,
                        align=["l", "r", "r", "r", "l", "r", "r", "r"])

    wins, losses = [], []
    mem_statement = (f"peak RSS of compare on an image folder grew by {growth:.0f} MB from {small:,} to {large:,} "
                     f"64×64 PNGs (goal < {GOAL_MEMORY_MB:.0f} MB; the images as a float32 array would grow by "
                     f"{float_growth:.0f} MB); {growth_same:.0f} MB at the same batch ({mem_s['batch']}), the rest "
                     f"is compare's larger default batch ({mem_l['batch']}) from 5,000 rows on")
    (wins if growth < GOAL_MEMORY_MB else losses).append(mem_statement)
    if growth_same > 25:
        losses.append(f"not yet flat: at the same batch ({mem_s['batch']}), peak RSS of compare still grew by "
                      f"{growth_same:.0f} MB from {small:,} to {large:,} images")
    tp_statement = (f"one epoch streamed from the image folder took {ratio:.2f}× the time per image of Keras' "
                    f"image_dataset_from_directory feeding the same CNN ({n_tp:,} images, batch {BATCH}; "
                    f"goal ≤ {GOAL_RATIO}×)")
    (wins if ratio <= GOAL_RATIO else losses).append(tp_statement)
    if pipe["ours"] < 0.8 * pipe["keras"]:
        losses.append(f"the input pipeline alone reads {pipe['ours']:.0f} images/s vs Keras' {pipe['keras']:.0f}")
    failed = mem_s["failed"] + mem_l["failed"]
    if failed:
        losses.append(f"{failed} run(s) of compare on the image folders failed")

    env = environment()
    load_fmt = (lambda v: "n/a" if not v else " / ".join(f"{x:.2f}" for x in v))
    sizes_text = f"{small:,} and {large:,}"
    body = "\n\n".join([
        f"Goals (issue 16): `compare` on an image folder of 2,000 and of 20,000 64×64 RGB PNGs — peak RSS grows by "
        f"**< {GOAL_MEMORY_MB:.0f} MB** between the two; one epoch of the streamed pipeline **≤ {GOAL_RATIO}×** "
        f"the time of `keras.utils.image_dataset_from_directory` feeding the same model."
        + (f" Quick mode: {sizes_text} images (the same protocol — one holdout split with a validation split — "
           "and the same batch rule as 2,000 and 20,000), so the memory goal is checked on a smaller step "
           "(indicative)."
           if quick else ""),
        f"Machine: {env.get('cpu_model') or 'n/a'}, {os.cpu_count()} logical CPUs; load average (1/5/15 min) "
        f"{load_fmt(load_start)} at the start, {load_fmt(load_end)} at the end. Method: "
        "`benchmarks/image_source.py` (docstring).",
        f"**Memory.** Generated folders of {sizes_text} PNGs (≈ {RARE_FRACTION:.0%} in class `rare`, the positive "
        "class), each configuration in a fresh interpreter: `compare(folder, strategies=[\"baseline\", "
        "\"oversample\"], objective=\"f1\", epochs=1, "
        "seeds=1, folds=None, workers=1, progress=False, out_dir=tmp)` with its default batch, and the large "
        f"folder once more at the small one's batch (`batch_size={mem_s['batch']}`). Peak RSS = `ru_maxrss`.",
        mem_table,
        f"**Throughput.** {n_tp:,} images, batch {BATCH}, the same CNN (`build_mlp((64, 64, 3), 1, "
        "rescale=1/255)`, Adam, BCE on logits), a fresh model per pipeline; first epoch excluded, "
        f"{REPS} epochs timed per fit; the ratio is of median seconds per image (per-epoch ratios: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}). Load (1 min) "
        f"{_load_text(tp.get('load_before'), tp.get('load_after'))}.",
        tp_table,
        "**Commands.**\n\n```sh\n"
        f"TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m benchmarks.image_source{' --quick' if quick else ''}\n"
        "# one configuration in its own interpreter, as the section runs it:\n"
        ".venv/bin/python -m benchmarks.image_source --worker '{\"mode\": \"memory\", \"folder\": \"photos/\", "
        "\"batch_size\": null}'\n"
        ".venv/bin/python -m benchmarks.image_source --worker "
        "'{\"mode\": \"throughput\", \"folder\": \"photos/\", \"reps\": 3, \"rounds\": 1}'\n```",
    ])
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "environment": env,
               "seconds": round(elapsed, 1), "data": data, "load": {"start": load_start, "end": load_end},
               "derived": {"memory_growth_mb": growth, "memory_growth_same_batch_mb": growth_same,
                           "float32_growth_mb": float_growth, "ratio": ratio,
                           "epoch_ratios": ratios}}
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        settings = json.loads(sys.argv[2])
        print(json.dumps(WORKERS[settings["mode"]](settings)))
    elif len(sys.argv) <= 2 and set(sys.argv[1:]) <= {"--quick"}:
        section = run(quick="--quick" in sys.argv)
        print(section.body)
        print("\nWins:\n" + "\n".join(f"- {w}" for w in section.wins))
        print("Losses:\n" + "\n".join(f"- {x}" for x in section.losses))
    else:
        raise SystemExit("usage: python -m benchmarks.image_source [--quick]  (or benchmarks.run --only "
                         "image_source once registered)")
