"""Run the benchmark sections and rewrite BENCHMARKS.md.

    .venv/bin/python -m benchmarks.run                 # every section, full mode (make bench)
    .venv/bin/python -m benchmarks.run --quick         # fewer repetitions (make bench-quick)
    .venv/bin/python -m benchmarks.run --only loss_speed [--only …]
    .venv/bin/python -m benchmarks.run --list
    .venv/bin/python -m benchmarks.run --render        # rewrite BENCHMARKS.md from the stored sections only

A section is a module with ``run(quick: bool) -> benchmarks._report.Section``; add it to ``SECTIONS`` below (the
order there is the order in BENCHMARKS.md). Each finished section is also stored as
``benchmarks/results/<name>.section.json``; with ``--only``, sections that were not re-run are taken from there so
BENCHMARKS.md keeps them (marked with the date of their own run). BENCHMARKS.md is written atomically (temporary
file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks._report import (  # noqa: E402
    RESULTS_DIR,
    ROOT,
    Section,
    atomic_write_json,
    atomic_write_text,
    environment,
    environment_markdown,
    escape,
    load_average,
    log,
    md_bullets,
    now_iso,
    python_command,
    stored_path,
)

# name -> (module, title shown in --list), in run order: `speed` last, as it collects the goals the others measured.
SECTIONS: dict[str, tuple[str, str]] = {
    "loss_speed": ("benchmarks.loss_speed", "Loss speed: train step vs Keras cross-entropy"),
    "metric_speed": ("benchmarks.metric_speed", "Metric speed: streaming update vs Keras Precision"),
    "threshold_speed": ("benchmarks.threshold_speed", "Threshold search at 10 M scores vs precision_recall_curve"),
    "sampler_speed": ("benchmarks.sampler_speed", "Sampling speed and streaming memory"),
    "threshold_holdout": ("benchmarks.threshold_holdout", "Do tuned thresholds hold on unseen data? (KEEL)"),
    "diagnose_overhead": ("benchmarks.diagnose_overhead", "CollapseMonitor overhead per epoch"),
    "backend_speed": ("benchmarks.backend_speed",
                      "Backend speed: our losses on JAX (jit) vs Keras cross-entropy, and JAX vs TensorFlow"),
    "parallel_speed": ("benchmarks.parallel_speed", "Parallel runs: the demo comparison on 1 and 2 workers and on Ray"),
    "image_source": ("benchmarks.image_source",
                     "Image folders streamed through tf.data: memory vs data size, epoch speed vs Keras' loader"),
    "table_memory": ("benchmarks.table_memory",
                     "Tables bigger than memory: peak RSS of a streamed comparison, 1 M vs 10 M rows"),
    "precision_recipe": ("benchmarks.precision_recipe",
                         "One-class precision targets: recipes side by side, and the verdict before / after issue 18"),
    "served_model": ("benchmarks.served_model",
                     "The served model on rows compare never saw: refitted vs first unit (one-class precision)"),
    "quality": ("benchmarks.quality", "Quality on the KEEL development suite vs hand-wired Keras / imbalanced-learn"),
    "examples": ("benchmarks.examples", "The three seed examples, as printed"),
    "speed": ("benchmarks.speed", "Speed and scale: the goals in one table, and MirroredStrategy on 2 logical CPUs vs 1"),
}

DEFAULT_OUTPUT = ROOT / "BENCHMARKS.md"


def section_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.section.json"


def run_section(name: str, quick: bool) -> Section:
    module_name, title = SECTIONS[name]
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        section = module.run(quick=quick)
    except Exception as exc:  # one failing section must not lose the others
        log(f"[red]section {name} failed[/red]\n" + escape(traceback.format_exc()))
        section = Section(
            name=name,
            title=title,
            command=python_command(["--only", name] + (["--quick"] if quick else [])),
            body=f"This section failed in the last run: `{type(exc).__name__}: {str(exc)[:300]}`.",
            losses=[f"The {title.lower()} benchmark did not finish (see the section)."],
            failed=True,
        )
    section.name = name
    section.quick = quick
    section.generated = section.generated or now_iso()
    section.seconds = section.seconds or round(time.perf_counter() - started, 1)
    return section


def load_stored(name: str) -> Section | None:
    path = section_path(name)
    if not path.exists():
        return None
    try:
        return Section.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _anchor(title: str) -> str:
    keep = [c for c in title.lower() if c.isalnum() or c in " -_"]
    return "".join(keep).strip().replace(" ", "-")


def render(sections: list[tuple[Section, bool]], env: dict, argv: list[str], started: str,
           load_after: tuple[float, float, float] | None) -> str:
    """The whole BENCHMARKS.md. ``sections`` holds (section, ran_now) pairs in registry order."""
    quick = any(s.quick for s, ran in sections if ran)
    this_command = python_command(argv)
    make_target = "make bench-quick" if quick else "make bench"
    only = [s.name for s, ran in sections if ran]
    lines = [
        "# Benchmarks",
        "",
        f"Generated on **{started}** by `{this_command}`"
        + (f" (= `{make_target}`)" if not any(a.startswith("--only") for a in argv) else "")
        + (" in **quick mode** (fewer repetitions; numbers are indicative)" if quick else "")
        + ". This file is rewritten by `make bench`; do not edit it by hand.",
        "",
        "## Machine and software",
        "",
        environment_markdown(env, load_after),
        "",
        "## Commands",
        "",
        "From the repository root:",
        "",
        "```sh",
        'make bench          # .venv/bin/python -m pip install -e ".[dev,bench]" && .venv/bin/python -m benchmarks.run',
        "make bench-quick    # the same with --quick: fewer repetitions, a few minutes",
        "TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m benchmarks.run --only loss_speed --quick   # one section",
        "```",
        "",
        f"This file came from: `{this_command}` (sections run: {', '.join(only) or 'none'}). "
        + _durations(sections),
        "",
        "## Summary: where we win and where we lose",
        "",
    ]
    for section, _ in sections:
        lines.append(f"**[{section.title}](#{_anchor(section.title)})**")
        lines.append("")
        items = [f"Win: {w}" for w in section.wins] + [f"Lose: {x}" for x in section.losses]
        lines.append(md_bullets(items) if items else "- (no statement)")
        lines.append("")
    for section, ran in sections:
        lines += [f"## {section.title}", ""]
        meta = f"Command: `{section.command}`"
        meta += f" · {'quick' if section.quick else 'full'} mode · {section.seconds:.0f} s"
        if not ran:
            meta += f" · **from an earlier run on {section.generated}**, not re-run by this command"
        lines += [f"_{meta}_", "", section.body.strip(), "",
                  "Where we win and lose: see the [summary](#summary-where-we-win-and-where-we-lose).", ""]
    return "\n".join(lines).rstrip() + "\n"


def _durations(sections: list[tuple[Section, bool]]) -> str:
    """How long the sections shown took in their own runs, by mode (what ``make bench`` / ``bench-quick`` cost).

    >>> _durations([(Section("a", "A", "", "", quick=False, seconds=3000), False),
    ...             (Section("b", "B", "", "", quick=True, seconds=90), True)])
    'Their own runs took 50 min in full mode (a) and 2 min in quick mode (b), excluding installation.'
    """
    parts = []
    for quick, mode in ((False, "full"), (True, "quick")):
        chosen = [s for s, _ in sections if s.quick == quick]
        if chosen:
            minutes = sum(s.seconds for s in chosen) / 60
            parts.append(f"{minutes:.0f} min in {mode} mode ({', '.join(s.name for s in chosen)})")
    return ("Their own runs took " + " and ".join(parts) + ", excluding installation.") if parts else ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (minutes, indicative numbers)")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this section (repeatable or comma-separated); others are kept from their "
                             "last stored run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown file to write "
                        f"(default: {DEFAULT_OUTPUT.name} at the repository root)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--render", action="store_true", help="run nothing: rewrite the markdown from the stored "
                                                              "sections (benchmarks/results/*.section.json)")
    args = parser.parse_args(argv)

    if args.list:
        for name, (_, title) in SECTIONS.items():
            stored = load_stored(name)
            when = f"last run {stored.generated}" if stored else "never run"
            print(f"{name:20s} {title}  ({when})")
        return 0

    selected = [n.strip() for item in args.only for n in item.split(",") if n.strip()] or list(SECTIONS)
    if args.render:
        selected = []
    unknown = [n for n in selected if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    started = now_iso()
    log(f"benchmarks: {', '.join(selected)} ({'quick' if args.quick else 'full'} mode)")
    env = environment()
    log(f"machine: {escape(env['cpu_model'])}, {env['cpus']['usable']} cores, {env['memory_gib']} GiB, "
        f"{escape(env['devices'])}; load {env['load_average']}")

    results: list[tuple[Section, bool]] = []
    failed = False
    for name in SECTIONS:
        if name in selected:
            log(f"[bold]section {name}[/bold]: {SECTIONS[name][1]}")
            section = run_section(name, args.quick)
            failed |= section.failed
            if not section.failed:
                atomic_write_json(stored_path(name, section.quick, ".section.json"), section.to_json())
            log(f"section {name} done in {section.seconds:.0f} s")
            results.append((section, True))
        else:
            stored = load_stored(name)
            if stored is not None:
                results.append((stored, False))

    text = render(results, env, argv, started, load_average())
    atomic_write_text(args.output, text)
    log(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
