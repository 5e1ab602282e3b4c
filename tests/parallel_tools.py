"""Model factories and strategies for the parallel-run tests, importable by worker processes (a test module's own
functions travel by reference, so they must live in a module the workers can import)."""

import os
import signal
from pathlib import Path

from imbalance.experiment import TrainPlan, build_mlp, get_strategy



def mlp_killed_once(input_shape, outputs, seed, marker):
    """The default MLP, except that the first call anywhere (no ``marker`` file yet) kills its own process with
    SIGKILL, as the OOM killer or a lost machine would: the worker dies mid-run. Bind ``marker`` with
    ``functools.partial``."""
    marker = Path(marker)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return build_mlp(input_shape, outputs, seed)
    os.kill(os.getpid(), signal.SIGKILL)


def exploding_plan(ctx) -> TrainPlan:
    """A strategy whose set-up raises on the seed-1 units only (its other runs train like the baseline)."""
    if ctx.seed >= 1000:
        raise ValueError("boom: this strategy cannot train on seed 1")
    return get_strategy("baseline").build(ctx)
