"""Parallel runs: the demo comparison with ``workers=1``, ``workers=2`` and on a local Ray instance with 2 CPUs.

Goals (issue 17): on this 2-core machine, ``--workers 2`` takes **≤ 0.65×** the wall time of ``--workers 1``, and Ray
local with 2 CPUs **≤ 0.75×**, measured side by side in one run, with the same per-run numbers.

Method:

* The comparison is ``make demo``'s own (``imbalance.cli.DEMOS[dataset]``: the embedded dataset, objective, class,
  epochs, seeds and folds; ``digits_lt`` in full mode, the smaller ``fraud`` in quick mode), through the public
  ``imbalance.experiment.compare``.
* Each configuration runs in a **fresh interpreter** (``python -m benchmarks.parallel_speed --worker '<json>'``), so
  none finds another's warm workers; the clock covers the ``compare`` call only — worker start-up (spawning the
  processes, importing Keras in each, Ray's start) is inside it, the driver's own imports are not.
* Configurations run one after another in the order 1 worker, 2 workers, Ray, and a fault run: 2 workers whose
  model factory kills its own process (SIGKILL) in the first run it starts, once (a marker file), as the OOM
  killer would; the load average is shown before and after. A correctness check rides along: every configuration must give the same per-run objective, threshold and
  PR-AUC (bit for bit).
* **Scaling estimate** for 8 workers: the 2-worker run splits into start-up plus run time, ``T2 = S + R2 / 2``,
  where ``R2`` is the sum of the runs' own durations (``RunRecord.seconds``) in that run; with 8 workers on 8 free
  cores, ``T8 ≈ S + max(R2 / 8, longest run)``. It assumes each worker runs as fast as here (one thread each) and
  the start-up does not grow with the workers (they start in parallel): an estimate, not a measurement.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

from benchmarks._report import Section, run_worker, environment, load_average, log, md_table, now_iso, store_section

NAME = "parallel_speed"
TITLE = "Parallel runs: the demo comparison on 1 and 2 workers and on Ray"
GOAL_WORKERS = 0.65
GOAL_RAY = 0.75

CONFIGS = [("1 worker (in process)", {"workers": 1}), ("2 workers", {"workers": 2}),
           ("Ray local, 2 CPUs", {"workers": 2, "ray": "local"}),
           ("2 workers, one killed (SIGKILL) in its first run", {"workers": 2, "kill_once": True})]


def _mlp_killed_once(input_shape: Any, outputs: int, seed: int, marker: str) -> Any:
    """The default model, except that the first call anywhere kills its own process (SIGKILL), as the OOM killer
    would: the fault row's worker death."""
    import signal

    from imbalance.experiment import build_mlp

    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return build_mlp(input_shape, outputs, seed)
    os.kill(os.getpid(), signal.SIGKILL)


def _worker(settings: dict[str, Any]) -> None:
    """One configuration in this interpreter: print the wall time of compare() and the per-run numbers as JSON."""
    from imbalance.cli import DEMOS
    from imbalance.datasets import load_demo
    from imbalance.experiment import compare

    spec = DEMOS[settings["dataset"]]
    data = load_demo(settings["dataset"], **spec["load"])
    model: Any = "mlp"
    if settings.get("kill_once"):
        import functools
        import tempfile

        marker = os.path.join(tempfile.mkdtemp(), "killed")
        model = functools.partial(_mlp_killed_once, marker=marker)
    started = time.perf_counter()
    results = compare(data, folds=spec["folds"], objective=spec["objective"], class_id=spec["class_id"],
                      epochs=spec["epochs"], seeds=spec["seeds"], progress=False, workers=settings["workers"],
                      ray=settings.get("ray"), model=model)
    wall = time.perf_counter() - started
    runs = [{"key": [r.strategy, r.seed, r.fold], "objective": r.objective, "threshold": r.threshold,
             "pr_auc": r.pr_auc, "seconds": r.seconds, "attempts": r.attempts or 1} for r in results.runs]
    print(json.dumps({"wall": wall, "runs": runs, "failed": len(results.failed),
                      "recommended": results.verdict.recommended}))


def _run_config(dataset: str, settings: dict[str, Any]) -> dict[str, Any]:
    return run_worker("benchmarks.parallel_speed", {"dataset": dataset, **settings})


def measure(dataset: str, log: Callable[[str], None] = log) -> dict[str, Any]:
    out: dict[str, Any] = {"dataset": dataset, "configs": {}}
    for label, settings in CONFIGS:
        before = load_average()
        log(f"parallel_speed: {dataset}, {label} …")
        result = _run_config(dataset, settings)
        result["load_before"] = before
        result["load_after"] = load_average()
        out["configs"][label] = result
        log(f"  {result['wall']:.1f} s, {len(result['runs'])} runs")
    return out


def _numbers(result: dict[str, Any]) -> list[Any]:
    return [(r["key"], r["objective"], r["threshold"], r["pr_auc"]) for r in result["runs"]]


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    dataset = "fraud" if quick else "digits_lt"
    started = time.perf_counter()
    data = measure(dataset, log=log)
    elapsed = time.perf_counter() - started
    configs = data["configs"]
    one = configs[CONFIGS[0][0]]
    rows, ratios = [], {}
    for label, _ in CONFIGS:
        result = configs[label]
        ratio = result["wall"] / one["wall"]
        redone = sum(r.get("attempts", 1) > 1 for r in result["runs"])
        ratios[label] = ratio
        same = _numbers(result) == _numbers(one)
        busy = sum(r["seconds"] for r in result["runs"])
        load = result.get("load_before"), result.get("load_after")
        load_text = f"{load[0][0]:.2f} → {load[1][0]:.2f}" if load[0] and load[1] else "n/a"
        rows.append([label, f"{result['wall']:.1f}", f"{ratio:.2f}×", f"{busy:.1f}", str(len(result["runs"])),
                     f"{redone} redone, {result['failed']} failed", "yes" if same else "**no**", load_text])
    two = configs[CONFIGS[1][0]]
    busy2 = sum(r["seconds"] for r in two["runs"])
    startup = max(0.0, two["wall"] - busy2 / 2)
    longest = max(r["seconds"] for r in two["runs"])
    estimate8 = startup + max(busy2 / 8, longest)
    ray_ratio, workers_ratio = ratios[CONFIGS[2][0]], ratios[CONFIGS[1][0]]
    wins, losses = [], []
    identical = all(_numbers(configs[label]) == _numbers(one) for label, _ in CONFIGS[:3])
    statement = (f"compare with 2 workers took {workers_ratio:.2f}× the wall time of 1 worker on the {dataset} demo "
                 f"(goal ≤ {GOAL_WORKERS}×); Ray local with 2 CPUs {ray_ratio:.2f}× (goal ≤ {GOAL_RAY}×)")
    (wins if workers_ratio <= GOAL_WORKERS and ray_ratio <= GOAL_RAY else losses).append(statement)
    (wins if identical else losses).append(
        "per-run objective, threshold and PR-AUC " + ("identical" if identical else "NOT identical")
        + " across 1 worker, 2 workers and Ray")
    losses.append(f"start-up is the fixed cost of parallel runs: about {startup:.0f} s here (spawning the workers and "
                  "importing Keras in each); below a few runs of work, workers=1 is as fast")
    killed = configs[CONFIGS[3][0]]
    killed_redone = sum(r.get("attempts", 1) > 1 for r in killed["runs"])
    fault_ok = (_numbers(killed) == _numbers(one) and killed["failed"] == 0 and 1 <= killed_redone <= 2
                and len(killed["runs"]) == len(one["runs"]))
    (wins if fault_ok else losses).append(
        f"a worker killed mid-run: the comparison finished with every run once ({killed_redone} redone, "
        f"{killed['failed']} failed), the same numbers, in {killed['wall'] / two['wall']:.2f}× the time of the "
        "undisturbed 2-worker run")
    table = md_table(["Configuration", "Wall time of compare (s)", "vs 1 worker", "Sum of run times (s)", "Runs",
                      "Faults", "Same numbers", "Load (1 min)"], rows, align=["l", "r", "r", "r", "r", "l", "l", "l"])
    env = environment()
    body = "\n\n".join([
        f"Goals: `--workers 2` **≤ {GOAL_WORKERS}×** and Ray local (2 CPUs) **≤ {GOAL_RAY}×** the wall time of "
        f"`--workers 1`, with the same per-run numbers. Machine: {env.get('cpu_model') or 'n/a'}, "
        f"{os.cpu_count()} logical CPUs (the environment at the top of this page).",
        f"**Setup.** `make demo`'s comparison on `{dataset}` (`imbalance.cli.DEMOS`), every strategy that applies, "
        f"through `compare(workers=…, ray=…)`; each configuration in a fresh interpreter, timed around `compare` "
        "(worker start-up included). See `benchmarks/parallel_speed.py` for the method.",
        table,
        f"**Scaling.** With 2 workers, start-up ≈ {startup:.1f} s and the runs' own time {busy2:.1f} s (longest "
        f"{longest:.1f} s). Estimate for 8 workers on 8 free cores: ≈ {estimate8:.0f} s "
        f"({estimate8 / one['wall']:.2f}× of 1 worker here) — assuming start-up does not grow with the workers and "
        "each worker runs as fast as here; an estimate, not a measurement.",
        "**When to use which.** `workers` (processes on one machine) and `ray` (a cluster) run *many small models* "
        "side by side, one per core or GPU: that is what a comparison is. To train *one big model* on several GPUs "
        "or machines, use `tf.distribute` (README, *Sampling and augmentation inside tf.data*): the samplers and "
        "losses work under `MirroredStrategy` and `MultiWorkerMirroredStrategy`.",
    ])
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "environment": env,
               "seconds": round(elapsed, 1), "data": data,
               "derived": {"ratios": ratios, "startup": startup, "estimate8": estimate8}}
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(json.loads(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m benchmarks.run --only parallel_speed [--quick]")
