"""Interleaved timing of competing callables on a noisy machine.

Timing A for a minute and then B for a minute compares A and B under different background load. Here the callables
take turns in short blocks (A B, then B A, …: the order alternates so neither always runs first), each block gives
the median time of its calls, and each round gives one paired ratio. The median of the per-round ratios, with its
interquartile range, is robust to the load spikes of a shared machine.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from benchmarks._report import quartiles


@dataclass
class PairTiming:
    """Seconds per call of ``a`` and ``b`` in every round, and the summary of ``a / b``."""

    a_seconds: list[float]
    b_seconds: list[float]
    number: int

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a_seconds, self.b_seconds)]

    def summary(self) -> dict[str, Any]:
        a_q1, a_med, a_q3 = quartiles(self.a_seconds)
        b_q1, b_med, b_q3 = quartiles(self.b_seconds)
        r_q1, r_med, r_q3 = quartiles(self.ratios)
        return {
            "ours_ms": a_med * 1e3,
            "ours_ms_iqr": [a_q1 * 1e3, a_q3 * 1e3],
            "ref_ms": b_med * 1e3,
            "ref_ms_iqr": [b_q1 * 1e3, b_q3 * 1e3],
            "ratio": r_med,
            "ratio_iqr": [r_q1, r_q3],
            "rounds": len(self.a_seconds),
            "calls_per_block": self.number,
            "ratios": [round(r, 4) for r in self.ratios],
        }


def _block(fn: Callable[[], Any], sync: Callable[[Any], Any], number: int) -> float:
    """Median seconds per call over ``number`` calls, each timed on its own (and synced): a call that the OS
    pre-empted for another process shows as an outlier and does not move the median."""
    clock = time.perf_counter
    times = []
    for _ in range(number):
        start = clock()
        sync(fn())
        times.append(clock() - start)
    times.sort()
    mid = len(times) // 2
    return times[mid] if len(times) % 2 else 0.5 * (times[mid - 1] + times[mid])


def calibrate(fns: Sequence[Callable[[], Any]], sync: Callable[[Any], Any], block_seconds: float,
              max_number: int = 10_000) -> int:
    """Calls per block so that the slowest callable's block takes about ``block_seconds``."""
    per_call = max(_block(fn, sync, 3) for fn in fns)
    return int(min(max_number, max(1, round(block_seconds / max(per_call, 1e-7)))))


def time_pair(a: Callable[[], Any], b: Callable[[], Any], *, rounds: int, block_seconds: float,
              warmup: int = 5, sync: Callable[[Any], Any] = lambda out: out) -> PairTiming:
    """Warm both up, then ``rounds`` rounds of one block of ``a`` and one of ``b`` in alternating order.

    ``sync(out)`` must block until the work behind the last call's result is done (for TensorFlow: ``.numpy()``).
    The garbage collector is off during the blocks, as in :mod:`timeit`.
    """
    for fn in (a, b):
        for _ in range(warmup):
            sync(fn())
    number = calibrate((a, b), sync, block_seconds)
    a_times: list[float] = []
    b_times: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for i in range(rounds):
            if i % 2 == 0:
                a_times.append(_block(a, sync, number))
                b_times.append(_block(b, sync, number))
            else:
                b_times.append(_block(b, sync, number))
                a_times.append(_block(a, sync, number))
    finally:
        if gc_was_enabled:
            gc.enable()
    return PairTiming(a_times, b_times, number)
