"""Where ``compare``'s runs execute: in this process, in worker processes on this machine, or as Ray tasks.

Every engine takes the comparison's :class:`~imbalance.experiment.task.RunJob` once and yields a
:class:`~imbalance.experiment.task.RunOutcome` per task **as tasks finish**; the driver (the runner) alone writes
``runs.jsonl`` and the model files, so the results do not depend on which process ran a task or in what order.

* :class:`Serial`: one task after another in this process (``workers=1``: what ``compare`` always did).
* :class:`Processes`: a `loky <https://loky.readthedocs.io>`_ process pool of ``workers`` spawned processes, each with
  its own Keras state, pinned to one CPU thread (or one GPU each, by ``CUDA_VISIBLE_DEVICES``). The job is written
  once to a private folder and read by each worker (features memory-mapped); a worker that dies takes the pool
  down, the tasks it held are retried once in a fresh pool, then recorded as failed.
* :class:`Ray`: each task is a Ray task (one CPU, or one GPU) on a local Ray instance or an existing cluster; the
  job travels once through Ray's object store; Ray retries a task whose worker died.

:func:`resolve_workers` chooses the default: one worker per usable core, capped by memory, by the runs to do and
by the ``IMBALANCE_WORKERS`` environment variable.

>>> resolve_workers(1, runs=10)
1
>>> resolve_workers(4, runs=2)
2
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import tempfile
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool  # loky's TerminatedWorkerError is one
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from imbalance._validation import quote
from imbalance.experiment.task import RunJob, RunOutcome, RunTask, execute, failed_record, pin_threads, \
    worker_environment

__all__ = ["Processes", "Ray", "Serial", "check_engine_args", "make_engine", "resolve_workers", "usable_cores", "visible_gpus"]

#: What one worker process needs besides the data (Keras, a backend, a small model): the memory cap's unit.
WORKER_MEMORY = 1 << 30


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _available_memory() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def visible_gpus() -> list[str]:
    """The GPUs the backend sees, by the ids ``CUDA_VISIBLE_DEVICES`` would name them (empty on CPU)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            count = len(tf.config.list_physical_devices("GPU"))
        elif backend == "jax":
            import jax

            count = len([d for d in jax.devices() if d.platform == "gpu"])
        elif backend == "torch":
            import torch

            count = torch.cuda.device_count()
        else:  # pragma: no cover
            count = 0
    except Exception:  # noqa: BLE001 - no GPU runtime is no GPU
        count = 0
    return [str(i) for i in range(count)]


def resolve_workers(workers: int | str | None, runs: int, gpus: int = 0, data_bytes: int = 0) -> int:
    """The number of worker processes: ``workers`` when given (at most ``runs``), else ``IMBALANCE_WORKERS`` when
    set, else one per GPU when GPUs are visible, else one per usable core, capped so each worker has
    :data:`WORKER_MEMORY` plus a copy of the features in the available memory.

    >>> resolve_workers("auto", runs=1)
    1
    >>> resolve_workers(0, runs=3)
    Traceback (most recent call last):
    ...
    ValueError: `workers` must be a positive integer or 'auto'. Received: workers=0
    """
    if workers is None or workers == "auto":
        env = os.environ.get("IMBALANCE_WORKERS", "").strip()
        if env:
            return resolve_workers(_parse_workers(env, "IMBALANCE_WORKERS"), runs)
        count = gpus if gpus else usable_cores()
        memory = _available_memory()
        if memory is not None:
            count = min(count, max(1, memory // (WORKER_MEMORY + data_bytes)))
    else:
        count = _parse_workers(workers, "workers")
    return max(1, min(count, max(runs, 1)))


def _parse_workers(value: Any, name: str) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, bool) or count < 1 or str(count) != str(value).strip():
        raise ValueError(f"`{name}` must be a positive integer or 'auto'. Received: {name}={quote(value)}")
    return count


class Serial:
    """Every task in this process, one after another, with the epoch bar of the current run."""

    def __init__(self, job: RunJob, progress: Any = None) -> None:
        self.job = job
        self.progress = progress
        self.workers = 1

    def describe(self) -> str:
        return "1 worker (this process)"

    def __enter__(self) -> "Serial":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        for task in tasks:
            callbacks = []
            if self.progress is not None:
                self.progress.start_run(str(task), self.job.config.epochs)
                callbacks = [self.progress.epoch_callback()]
            yield execute(self.job, task, callbacks)


# --- worker processes on this machine ---------------------------------------------------------------------------

_WORKER_JOBS: dict[str, RunJob] = {}

#: Seconds an idle worker process waits for the next comparison before it exits (warm workers make the next
#: ``compare`` in the same session start at once).
IDLE_SECONDS = 60


def _init_worker(slot_dir: str, gpus: Sequence[str]) -> None:
    """A fresh worker: Ctrl-C is the driver's to handle, one GPU (or none), one thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[_claim_slot(Path(slot_dir)) % len(gpus)]
    pin_threads()


def _claim_slot(folder: Path) -> int:
    """This worker's number in its pool: the first ``slot-k`` file it creates (exclusive creation, so two workers
    never get the same one)."""
    k = 0
    while True:
        try:
            os.close(os.open(folder / f"slot-{k}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return k
        except FileExistsError:
            k += 1


def _work(job_dir: str, task: RunTask) -> RunOutcome:
    """One task in a worker: the comparison's job is read from ``job_dir`` once per worker and comparison."""
    job = _WORKER_JOBS.get(job_dir)
    if job is None:
        _WORKER_JOBS.clear()
        job = _WORKER_JOBS[job_dir] = _load_job(Path(job_dir))
        job.register_strategies()
    return execute(job, task, portable=True)


def _stash_job(job: RunJob, folder: Path) -> None:
    """The job, once, in ``folder``: numeric features as a ``.npy`` file the workers memory-map, the rest
    pickled by value (cloudpickle: a model factory or a strategy defined in a notebook travels too)."""
    import cloudpickle

    d = job.data
    if d.preprocessor is None and isinstance(d.x, np.ndarray):
        np.save(folder / "x.npy", np.asarray(d.x, np.float32))  # the runs read features as float32 anyway
        job = replace(job, data=replace(d, x=None))
    try:
        payload = cloudpickle.dumps(job)
    except Exception as error:  # noqa: BLE001 - say what could not travel
        raise ValueError(f"The comparison cannot be sent to worker processes ({type(error).__name__}: {error}); "
                         "pass workers=1, or make the model factory and data picklable.") from None
    (folder / "job.pkl").write_bytes(payload)


def _load_job(folder: Path) -> RunJob:
    job = pickle.loads((folder / "job.pkl").read_bytes())
    if (folder / "x.npy").exists():
        job = replace(job, data=replace(job.data, x=np.load(folder / "x.npy", mmap_mode="r")))
    return job


class Processes:
    """``workers`` spawned processes on this machine; see the module docstring. The pool is loky's reusable
    executor: workers stay warm for :data:`IDLE_SECONDS` after a comparison, for the next one."""

    def __init__(self, job: RunJob, workers: int, gpus: Sequence[str] = (), retries: int = 1) -> None:
        self.job = job
        self.workers = int(workers)
        self.gpus = list(gpus)
        self.retries = int(retries)
        self._folder: Path | None = None
        self._pool: Any = None

    def describe(self) -> str:
        where = f", {len(self.gpus)} GPU(s) shared round-robin" if self.gpus else ", one CPU thread each"
        return f"{self.workers} worker processes{where}"

    def __enter__(self) -> "Processes":
        self._folder = Path(tempfile.mkdtemp(prefix="imbalance-job-"))
        _stash_job(self.job, self._folder)
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:  # Ctrl-C, or the caller's own error: stop every worker now
            self._close(kill=True)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _start(self) -> Any:
        from loky import get_reusable_executor

        # GPU slots are claimed once per pool: a GPU pool is not reused across comparisons.
        slots = tempfile.mkdtemp(prefix="slots-", dir=self._folder) if self.gpus else ""
        # loky's spawned workers set the environment before anything is imported (threads pinned before the
        # backend starts) and, unlike multiprocessing's spawn, do not re-run the user's script.
        self._pool = get_reusable_executor(self.workers, timeout=IDLE_SECONDS, initializer=_init_worker,
                                           initargs=(slots, tuple(self.gpus)), env=worker_environment())
        return self._pool

    def _close(self, kill: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=not kill, kill_workers=kill)

    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        pending = deque(tasks)
        running: dict[Future, RunTask] = {}
        pool = self._pool or self._start()
        job_dir = str(self._folder)
        while pending or running:
            while pending and len(running) < self.workers:  # no more in flight than workers: a death is one try
                task = pending.popleft()
                running[pool.submit(_work, job_dir, task)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                done, _ = wait(running)  # the pool is gone: every task it held ends now
            died = []
            for future in done:
                task = running.pop(future)
                error = future.exception()
                if error is None:
                    yield future.result()
                elif isinstance(error, BrokenProcessPool):
                    died.append(task)
                else:  # the outcome could not come back (unpicklable): a failed run, the others go on
                    yield RunOutcome(task, failed_record(self.job.config, task, f"{type(error).__name__}: {error}"))
            if died:
                self._close(kill=True)
                for task in died:
                    if task.attempt <= self.retries:
                        pending.appendleft(replace(task, attempt=task.attempt + 1))
                    else:
                        yield RunOutcome(task, failed_record(
                            self.job.config, task, f"a worker process died during this run {task.attempt} times "
                            "(killed, or out of memory)"))
                if pending:
                    pool = self._start()


# --- Ray ----------------------------------------------------------------------------------------------------------

_RAY_JOBS: dict[str, RunJob] = {}


def _ray_work(job_box: list[Any], task: RunTask) -> RunOutcome:
    """A Ray task: the job from the object store (read once per worker process), then :func:`execute`."""
    import ray

    ref = job_box[0]
    key = ref.hex()
    if key not in _RAY_JOBS:
        _RAY_JOBS.clear()
        pin_threads()
        job = ray.get(ref)
        job.register_strategies()
        _RAY_JOBS[key] = job
    return execute(_RAY_JOBS[key], task, portable=True)


class Ray:
    """Each task a Ray task: ``address="local"`` starts a Ray instance here with ``workers`` CPUs (stopped at the
    end); ``"auto"`` or an address joins an existing cluster (left running)."""

    def __init__(self, job: RunJob, address: str, workers: int | None = None, gpus: Sequence[str] = (),
                 retries: int = 1) -> None:
        self.job = job
        self.address = address
        self.workers = workers
        self.gpus = list(gpus)
        self.retries = int(retries)
        self._started = False
        self._ref: Any = None
        self._pending: list[Any] = []

    def describe(self) -> str:
        import ray

        cpus = int(ray.cluster_resources().get("CPU", 0))
        where = "a local Ray instance" if self.address == "local" else f"the Ray cluster at {self.address}"
        return f"Ray tasks on {where} ({cpus} CPUs)"

    def __enter__(self) -> "Ray":
        try:
            import ray
        except ImportError:
            raise ImportError("compare(ray=...) needs Ray: pip install 'imbalance[ray]'.") from None
        if not ray.is_initialized():
            local = self.address == "local"
            ray.init(address=None if local else self.address, num_cpus=self.workers if local else None,
                     include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            self._started = True
        self._ref = ray.put(self.job)
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        import ray

        if exc_type is not None:
            for ref in self._pending:
                ray.cancel(ref, force=True)
        if self._started:
            ray.shutdown()

    def run(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        import keras
        import ray

        env = {**worker_environment(), "KERAS_BACKEND": keras.backend.backend()}
        remote = ray.remote(_ray_work).options(
            num_cpus=1, num_gpus=1 if self.gpus else 0, max_retries=self.retries, retry_exceptions=False,
            runtime_env={"env_vars": env})
        refs = {remote.remote([self._ref], task): task for task in tasks}
        self._pending = list(refs)
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                task = refs.pop(ref)
                self._pending.remove(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:  # the worker died more often than Ray retries
                    tried = replace(task, attempt=self.retries + 1)
                    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    yield RunOutcome(tried, failed_record(self.job.config, tried, f"{type(error).__name__}: {first}"))


def check_engine_args(workers: Any, ray: Any) -> None:
    """Refuse a bad ``workers`` or ``ray`` before anything runs or is written (one line naming the value)."""
    if workers is not None and workers != "auto":
        _parse_workers(workers, "workers")
    if ray is not None and (not isinstance(ray, str) or not ray.strip()):
        raise ValueError(f"`ray` must be 'local', 'auto' or a Ray address. Received: ray={quote(ray)}")


def make_engine(job: RunJob, workers: int | str | None, ray: str | None, runs: int, progress: Any = None,
                retries: int = 1) -> Serial | Processes | Ray:
    """The engine for ``compare(workers=…, ray=…)``: Ray when ``ray`` is given, else :class:`Processes` for more
    than one worker, else :class:`Serial`."""
    check_engine_args(workers, ray)
    if ray is not None:
        count = None if workers in (None, "auto") else resolve_workers(workers, 1 << 30)
        if ray == "local" and count is None:
            count = usable_cores()
        return Ray(job, ray.strip(), count, retries=retries)
    gpus = visible_gpus()
    data = job.data.x
    count = resolve_workers(workers, runs, gpus=len(gpus), data_bytes=int(getattr(data, "nbytes", 0) or 0))
    if count == 1:
        return Serial(job, progress)
    return Processes(job, count, gpus, retries=retries)
