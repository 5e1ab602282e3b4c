"""Speed and quality benchmarks of `imbalance`; ``make bench`` (``python -m benchmarks.run``) writes BENCHMARKS.md.

Each section is a module with ``run(quick: bool) -> Section`` registered in :mod:`benchmarks.run`.
"""
