"""Pieces shared by every benchmark section: the ``Section`` result, machine / version facts, robust statistics,
markdown helpers and atomic file writes."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Section:
    """What a benchmark section hands back to :mod:`benchmarks.run`.

    ``body`` is markdown without the section heading; ``wins`` / ``losses`` are one-line plain statements (what we
    do better or no worse than the reference, and where we cost more or do worse) shown in the section and in the
    summary at the top of BENCHMARKS.md.
    """

    name: str
    title: str
    command: str
    body: str
    wins: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    quick: bool = False
    generated: str = ""
    seconds: float = 0.0
    failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Section":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


# --- files ---------------------------------------------------------------------------------------------------


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically (the package's own writer: temporary file in the same directory, then
    ``os.replace``): readers see the old file or the new one, never a half-written one."""
    from imbalance._files import atomic_write_text as write

    write(path, text)


def stored_path(name: str, quick: bool, suffix: str = ".json") -> Path:
    """Where a run stores a section's file (``.json`` raw results, ``.section.json`` the rendered section):
    ``results/<name><suffix>``, except that a quick run never overwrites a full run's file (hours of measurement,
    and what the committed BENCHMARKS.md and ``compare``'s tie-break order come from); it goes to
    ``results/<name>.quick<suffix>`` then (ignored by git)."""
    path = RESULTS_DIR / f"{name}{suffix}"
    if quick and _is_full_run(path):
        return RESULTS_DIR / f"{name}.quick{suffix}"
    return path


def _is_full_run(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("quick") is False
    except (OSError, ValueError, AttributeError):
        return False


def load_raw(name: str) -> dict[str, Any] | None:
    """The newest raw results of a section (full or quick, by ``generated``), or ``None``."""
    found = []
    for path in (RESULTS_DIR / f"{name}.json", RESULTS_DIR / f"{name}.quick.json"):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return max(found, key=lambda d: str(d.get("generated", ""))) if found else None


def store_section(name: str, title: str, quick: bool, payload: dict[str, Any], body: str, wins: list[str],
                  losses: list[str], elapsed: float) -> "Section":
    """Write a section's raw results (``payload``, which holds ``generated``) atomically to
    :func:`stored_path` and return its :class:`Section` for BENCHMARKS.md."""
    atomic_write_json(stored_path(name, quick), payload)
    return Section(
        name=name,
        title=title,
        command=f".venv/bin/python -m benchmarks.run --only {name}" + (" --quick" if quick else ""),
        body=body,
        wins=wins,
        losses=losses,
        quick=quick,
        generated=payload["generated"],
        seconds=round(elapsed, 1),
    )


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _pinned_worker() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from imbalance.experiment.task import pin_threads

    pin_threads()


def run_resumable(work: Any, tasks: Sequence[tuple[Any, ...]], checkpoint: Path, settings: Any, workers: int,
                  done_line: Any, chunk: int = 8) -> dict[str, Any]:
    """``work(*task)`` for every task, in ``workers`` spawned processes pinned to one thread each (fresh ones every
    ``chunk`` tasks: Keras keeps memory behind every model), each result kept at once in ``checkpoint`` (JSON, with
    a hash of ``settings``) so that a killed run resumes with the tasks it had not finished. Returns ``{"/".join(task):
    result}``; ``done_line(task, result, finished)`` is logged as each task finishes."""
    import hashlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    done: dict[str, Any] = {}
    if checkpoint.exists():
        stored = json.loads(checkpoint.read_text(encoding="utf-8"))
        if stored.get("settings") == key:
            done = stored["tasks"]
    name = lambda task: "/".join(str(t) for t in task)  # noqa: E731
    todo = [t for t in tasks if name(t) not in done]
    log(f"{checkpoint.name}: {len(todo)} tasks to run, {len(done)} resumed, {workers} worker(s)")

    def keep(task: tuple[Any, ...], result: Any) -> None:
        done[name(task)] = result
        atomic_write_json(checkpoint, {"settings": key, "tasks": done})
        log(done_line(task, result, len(done)))

    if workers <= 1:
        for task in todo:
            keep(task, work(*task))
        return done
    for start in range(0, len(todo), chunk):
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_pinned_worker) as pool:
            futures = {pool.submit(work, *t): t for t in todo[start:start + chunk]}
            for future in as_completed(futures):
                keep(futures[future], future.result())
    return done


# --- statistics ----------------------------------------------------------------------------------------------


class WorkerFailed(RuntimeError):
    """A benchmark configuration run in its own interpreter that failed: ``error`` is the last line it wrote on
    stderr (or its exit status, or the timeout), ``stderr`` the tail of what it wrote there."""

    def __init__(self, message: str, error: str, stderr: str = "") -> None:
        super().__init__(message)
        self.error = error
        self.stderr = stderr


def section_main(run: Any, doc: str | None) -> None:
    """The command line of a section run on its own (``python -m benchmarks.NAME [--quick]``): ``run(quick)``, then
    its body, wins and losses printed."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true")
    result = run(parser.parse_args().quick)
    print(result.body)
    print("\nwins:\n- " + "\n- ".join(result.wins))
    print("\nlosses:\n- " + "\n- ".join(result.losses))


def run_worker(module: str, settings: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter (``python -m <module> --worker '<json>'``, TensorFlow quiet,
    no ``IMBALANCE_WORKERS`` inherited) and return the last JSON line it printed; :class:`WorkerFailed` when it
    fails, prints none or runs past ``timeout`` seconds."""
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("IMBALANCE_WORKERS", None)
    payload = json.dumps(settings)
    name = module.rpartition(".")[2]
    try:
        done = subprocess.run([sys.executable, "-m", module, "--worker", payload], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise WorkerFailed(f"{name} worker {payload} timed out after {timeout} s",
                           f"timed out after {timeout} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise WorkerFailed(f"{name} worker {payload} failed:\n{done.stderr[-3000:]}",
                           (tail[-1] if tail else f"exit status {done.returncode}")[:400], done.stderr[-3000:])
    return json.loads(lines[-1])


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile)."""
    arr = np.asarray(values, dtype=np.float64)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return float(q1), float(med), float(q3)


# --- markdown ------------------------------------------------------------------------------------------------


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A GitHub markdown table; ``align`` holds "l" / "r" / "c" per column."""
    align = align or ["l"] * len(headers)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def md_bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


# --- environment ---------------------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def cpu_counts() -> dict[str, Any]:
    logical = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = logical
    physical = None
    try:
        import psutil  # optional: installed by the [bench] extra

        physical = psutil.cpu_count(logical=False)
    except Exception:
        pass
    quota = None
    cpu_max = _read("/sys/fs/cgroup/cpu.max")
    if cpu_max:
        parts = cpu_max.split()
        if parts and parts[0] != "max":
            quota = round(int(parts[0]) / int(parts[1]), 2)
    return {"logical": logical, "usable": usable, "physical": physical, "cgroup_quota": quota}


def memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        pass
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def cgroup_memory_limit() -> int | None:
    raw = _read("/sys/fs/cgroup/memory.max") or _read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    if not raw or raw.strip() == "max":
        return None
    value = int(raw.strip())
    return value if value < (1 << 60) else None


def load_average() -> tuple[float, float, float] | None:
    try:
        return tuple(round(v, 2) for v in os.getloadavg())  # type: ignore[return-value]
    except (AttributeError, OSError):
        return None


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return "no commit yet"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True,
            timeout=10,
        )
        return rev.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def tensorflow_devices() -> str:
    """Devices TensorFlow would run the benchmarks on (imports TensorFlow)."""
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return "CPU only"
        names = []
        for gpu in gpus:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return "GPU: " + ", ".join(names)
    except Exception as exc:  # pragma: no cover - depends on the installation
        return f"unknown ({exc})"


def environment() -> dict[str, Any]:
    """Machine and software facts recorded at the top of BENCHMARKS.md and in every JSON result."""
    mem = memory_bytes()
    limit = cgroup_memory_limit()
    return {
        "cpu_model": cpu_model(),
        "cpus": cpu_counts(),
        "memory_gib": None if mem is None else round(mem / 2**30, 1),
        "memory_limit_gib": None if limit is None else round(limit / 2**30, 1),
        "os": platform.platform(),
        "devices": tensorflow_devices(),
        "python": platform.python_version(),
        "versions": {
            name: package_version(name)
            for name in ("tensorflow", "keras", "numpy", "scikit-learn", "imbalanced-learn", "pandas", "imbalance")
        },
        "git": git_revision(),
        "load_average": load_average(),
    }


def environment_markdown(env: dict[str, Any], load_after: tuple[float, float, float] | None = None) -> str:
    cpus = env["cpus"]
    cores = f"{cpus['usable']} usable of {cpus['logical']} logical"
    if cpus.get("physical"):
        cores += f" ({cpus['physical']} physical)"
    if cpus.get("cgroup_quota"):
        cores += f", cgroup quota {cpus['cgroup_quota']} CPUs"
    memory = "unknown" if env["memory_gib"] is None else f"{env['memory_gib']} GiB"
    if env.get("memory_limit_gib"):
        memory += f" (cgroup limit {env['memory_limit_gib']} GiB)"
    versions = env["versions"]
    load = env.get("load_average")
    load_text = "n/a" if load is None else " / ".join(f"{v:.2f}" for v in load)
    if load_after is not None:
        load_text += " at start; " + " / ".join(f"{v:.2f}" for v in load_after) + " at end"
    rows = [
        ("CPU", env["cpu_model"]),
        ("Cores", cores),
        ("Memory", memory),
        ("TensorFlow devices", env["devices"]),
        ("OS", env["os"]),
        ("Load average (1/5/15 min)", load_text),
        ("Python", env["python"]),
        ("TensorFlow", versions["tensorflow"]),
        ("Keras", versions["keras"]),
        ("NumPy", versions["numpy"]),
        ("scikit-learn", versions["scikit-learn"]),
        ("imbalanced-learn", versions["imbalanced-learn"]),
        ("imbalance", f"{versions['imbalance']}, git {env['git']}"),
    ]
    return md_table(["", ""], rows)


def python_command(args: Sequence[str]) -> str:
    """The command line as a user would type it from the repository root."""
    return " ".join([".venv/bin/python", "-m", "benchmarks.run", *args]).strip()


# --- progress ------------------------------------------------------------------------------------------------

_console = None


def console() -> Any:
    """The shared rich console for progress lines (plain stdout if rich is missing)."""
    global _console
    if _console is None:
        try:
            from rich.console import Console

            _console = Console(highlight=False, log_path=False)
        except ImportError:  # pragma: no cover - rich is a dependency
            _console = False
    return _console


def log(message: str) -> None:
    """A progress line with a timestamp; ``message`` may use rich markup (escape untrusted text with
    :func:`escape`)."""
    con = console()
    if con:
        con.log(message)
    else:  # pragma: no cover
        print(message, flush=True)


def escape(text: str) -> str:
    try:
        from rich.markup import escape as _escape

        return _escape(text)
    except ImportError:  # pragma: no cover
        return text
