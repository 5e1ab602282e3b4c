"""``report.html``: one self-contained page (plots embedded as PNG data URIs) for a comparison.

Sections: the verdict (and, for a constraint objective, a warning when the constraint did not hold on test for
the recommended candidate), the results table (mean ± spread over units), precision-recall curves per strategy,
confusion matrices at the tuned thresholds (and of the recommended candidate when it decides at 0.5 / argmax),
the class distribution each strategy trained on, the diagnosis of each
strategy's test scores, and every run.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from imbalance._files import atomic_write_text
from imbalance.experiment.candidates import describe_rule, split_candidate
from imbalance.experiment.scoring import metric_name

# The report reads a :class:`~imbalance.experiment.results.Results` (named "Results" in the annotations below, not
# imported: results.py imports this module when it saves, and the flow stays one-way).

__all__ = ["render_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .5rem;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
tr.best td{background:#eef8ee;font-weight:600}.verdict{padding:.8rem 1rem;border-radius:6px;background:#f0f4ff;
border:1px solid #c9d6ff}.tie{background:#fff8e6;border-color:#f0d48a}.unmet{background:#fdecea;border-color:#f5a9a0;
margin-top:.6rem}.muted{color:#666;font-size:.85rem}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem}img{max-width:100%}
"""


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _first_runs(results: "Results", candidates: bool = False) -> dict[str, dict[str, Any]]:
    """Each strategy's (or with ``candidates``, each candidate's) run on the first unit (seed 0, fold 0), or its
    first run; strategies with a failed run are left out."""
    first: dict[str, dict[str, Any]] = {}
    failed = {r.strategy for r in results.failed}  # left out of the verdict and the table: out of the figures too
    for r in results.candidate_runs if candidates else results.runs:
        s = r["strategy"]
        if s.split("@")[0] in failed:
            continue
        if s not in first or (r["seed"], r["fold"]) < (first[s]["seed"], first[s]["fold"]):
            first[s] = r
    return first


def _pr_figure(results: "Results", first: dict[str, dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    table = results.table.set_index("strategy")
    pooled_any = False
    for s, r in first.items():
        seed_runs = [q for q in results.runs if q["strategy"] == s and q["seed"] == r["seed"]]
        if len(seed_runs) > 1 and all(q.get("test_target") for q in seed_runs):
            # Cross-validated units: every row of the seed is tested once; pool its folds into one curve.
            y = np.concatenate([q["test_target"]["y"] for q in seed_runs])
            score = np.concatenate([q["test_target"]["score"] for q in seed_runs])
            if y.any():
                precision, recall, _ = precision_recall_curve(y, score)
                ap = average_precision_score(y, score)
                ax.step(recall, precision, where="post", label=f"{s} (AP {ap:.3f}, {int(y.sum())} positives)")
                pooled_any = True
            continue
        curve = r.get("pr_curve") or {}
        if curve.get("recall"):
            auc = table.loc[s, "pr_auc"] if "pr_auc" in table.columns else float("nan")
            ax.step(curve["recall"], curve["precision"], where="post", label=f"{s} (PR-AUC {auc:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    goal = results.objective
    if goal.kind == "recall_at_precision":
        ax.axhline(goal.target, color="k", linestyle=":", linewidth=1, label=f"precision target {goal.target:g}")
    elif goal.kind == "precision_at_recall":
        ax.axvline(goal.target, color="k", linestyle=":", linewidth=1, label=f"recall target {goal.target:g}")
    ax.legend(fontsize=7, loc="lower left")
    where = "seed 0, all folds pooled" if pooled_any else "seed 0, fold 0"
    ax.set_title(f"Precision-recall on test ({_target_text(results)}; {where})", fontsize=9)
    return _png(fig)


def _target_text(results: "Results") -> str:
    task = results.data.task
    class_id = results.config.class_id
    if task == "binary":
        return f"positive class {results.data.class_names[1] if len(results.data.class_names) > 1 else 1}"
    if task == "multilabel":
        return "all labels, micro"
    if class_id is not None:
        return f"class {results.data.class_names[class_id]}"
    return "all classes, one-vs-rest pooled"


def _confusion_figure(results: "Results", first: dict[str, dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(first)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    size = 2.6 if results.data.task != "multiclass" else 3.2
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    labels = ["neg", "pos"] if results.data.task != "multiclass" else results.data.class_names
    for ax in axes.ravel():
        ax.axis("off")
    for ax, s in zip(axes.ravel(), names):
        matrix = np.asarray(first[s]["confusion"], dtype=float)
        ax.axis("on")
        ax.imshow(matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
        k = matrix.shape[0]
        if k <= 10:
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=6 if k > 4 else 8)
        ax.set_xticks(range(k), labels[:k], fontsize=6)
        ax.set_yticks(range(k), labels[:k], fontsize=6)
        ax.set_title(s, fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    untuned = split_candidate(results.best)[1] is not None
    fig.suptitle("Confusion matrices at the tuned thresholds"
                 + (f" and of the recommended {results.best}" if untuned else "")
                 + " (seed 0, fold 0; colour = row fraction)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _confusion_runs(results: "Results", first: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tuned run of every strategy, plus the recommended candidate when it is an untuned decision."""
    best = results.best
    if split_candidate(best)[1] is None:
        return first
    chosen = _first_runs(results, candidates=True).get(best)
    return {**first, best: chosen} if chosen and chosen.get("confusion") else first


def _distribution_figure(results: "Results", first: dict[str, dict[str, Any]]) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sampled = {s: r for s, r in first.items() if r.get("seen_counts")}
    base = next(iter(first.values()))["train_counts"]
    if not base:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    k = len(base)
    series = {"data (training rows)": np.asarray(base, float)}
    for s, r in sampled.items():
        series[s] = np.asarray(r["seen_counts"], float)
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        share = values / max(values.sum(), 1e-12)
        ax.bar(np.arange(k) + i * width - 0.4 + width / 2, share, width=width, label=label)
    names = results.data.class_names if results.data.task != "binary" else ["neg", "pos"]
    ax.set_xticks(range(k), names[:k], fontsize=7)
    ax.set_ylabel("share of what the model sees")
    ax.set_title("Class distribution before and after sampling / weighting (first unit)", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _results_table(results: "Results") -> str:
    table = results.table
    v = results.verdict
    metric = metric_name(results.objective)
    headers = ["strategy", f"{metric} (mean ± sd)", "units"]
    extra = [c for c in ("precision", "recall", "held", "untuned_objective", "untuned_precision", "pr_auc",
                         "balanced_accuracy", "seconds") if c in table and table[c].notna().any()]
    headers += [{"untuned_objective": f"{metric} at default", "untuned_precision": "precision at default",
                 "balanced_accuracy": "balanced accuracy", "pr_auc": "PR-AUC", "seconds": "s/run"}.get(c, c)
                for c in extra]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"]
    for row in table.to_dict("records"):
        cls = ' class="best"' if row["strategy"] == v.recommended else ""
        mark = " ★" if row["strategy"] == v.winner else (" (recommended)" if row["strategy"] == v.recommended else
                                                       " (below the margin)" if row["strategy"] in v.apart else "")
        cells = [html.escape(row["strategy"]) + mark,
                 f"{_fmt(row['objective'])} ± {_fmt(row.get('objective_std'))}", str(row["units"])]
        cells += [_fmt(row.get(c), 1 if c == "seconds" else 3) for c in extra]
        out.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _runs_table(results: "Results") -> str:
    cols = ["strategy", "seed", "fold", "inner", "objective", "precision", "recall", "pr_auc", "threshold", "seconds"]
    out = ["<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"]
    for r in results.runs:
        cells = []
        for c in cols:
            value = r.get(c)
            if c == "threshold":
                value = ", ".join(f"{t:.3g}" for t in (value or [])[:5]) + (" …" if value and len(value) > 5 else "")
            cells.append(_fmt(value))
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _failed_table(results: "Results") -> str:
    """The runs that raised, with their errors (empty when none did)."""
    if not results.failed:
        return ""
    rows = "".join(f"<tr><td>{html.escape(r.strategy)}</td><td>{r.seed}</td><td>{r.fold}</td>"
                   f"<td><code>{html.escape(str(r.error))}</code></td></tr>" for r in results.failed)
    return ("<h2>Failed runs</h2><p>These runs raised; their strategies are left out of the verdict. Re-running the "
            "same command retries them and keeps every finished run.</p><table><tr><th>strategy</th><th>seed</th>"
            f"<th>fold</th><th>error</th></tr>{rows}</table>")


def _examples_figure(results: "Results", per_class: int = 6, max_classes: int = 10) -> str | None:
    """A few images of each class (the first of each, in file order) for an image source; None otherwise."""
    d = results.data
    source = d.x
    if getattr(source, "kind", None) != "images" or d.task == "multilabel":
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(range(min(d.num_classes, max_classes)))
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.2 * per_class, 1.25 * len(classes)),
                             squeeze=False)
    for row, c in enumerate(classes):
        rows = np.flatnonzero(d.y == c)[:per_class]
        images = source.read(rows) if len(rows) else []
        for k in range(per_class):
            ax = axes[row][k]
            ax.axis("off")
            if k < len(images):
                image = np.clip(images[k], 0, 255).astype(np.uint8)
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1
                          else None)
        axes[row][0].set_title(f"{d.class_names[c]} ({int(d.counts[c])})", fontsize=7, loc="left")
    fig.suptitle("Examples per class (rows of the folder; count in brackets)", fontsize=9)
    return _png(fig)


def render_report(results: "Results") -> str:
    """The report as one HTML string (images embedded)."""
    d = results.data
    v = results.verdict
    first = _first_runs(results)
    counts = ", ".join(f"{n}: {int(c)}" for n, c in zip(d.class_names, d.counts))
    config = results.config
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>imbalance compare — {html.escape(d.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>imbalance compare — {html.escape(d.name)}</h1>",
        f"<p class='muted'>{html.escape(d.task)} task, {len(d.y)} rows; "
        f"{'positives per label' if d.task == 'multilabel' else 'class counts'}: {html.escape(counts)}.<br>"
        f"Objective <code>{html.escape(config.objective)}</code>"
        + (f" on class {html.escape(d.class_names[config.class_id])}" if config.class_id is not None else "")
        + f"; {config.epochs} epochs, {config.seeds} seed(s), model {html.escape(str(config.model))}; "
        f"{v.units} paired evaluation units.</p>",
        f"<div class='verdict{' tie' if v.winner is None else ''}'><b>Verdict.</b> "
        f"{html.escape(' '.join(v.reason.replace(v.goal, ' ').split()) if v.goal else v.reason)}</div>",
        (f"<div class='verdict unmet'>{html.escape(v.goal)}</div>" if v.goal else ""),
        "<h2>Results on test</h2>",
        _results_table(results),
        "<p class='muted'>Objective measured on each unit's test rows at the threshold tuned on its training rows"
        + (f"; a row named <code>strategy@{results.decision_rule}</code> is the same models decided at "
           f"{describe_rule(results.decision_rule)}, without a tuned threshold" if results.decision_rule else "")
        + ("; <i>held</i> = fraction of units where the constraint held on test"
           if results.objective.is_constraint else "")
        + ("; <i>below the margin</i>: not beaten beyond the noise, but lower than the best mean by more than the "
           "practical margin (one standard error of the paired difference, within [0.01, 0.05] for scores, "
           "[2 %, 10 %] of the best for a cost), so never recommended" if v.apart else "")
        + ". PR-AUC is the average precision of the scores (threshold-free).</p>",
        _failed_table(results),
        "<h2>Precision-recall curves</h2>",
        f"<img alt='precision-recall curves' src='{_pr_figure(results, first)}'>",
        "<h2>Confusion matrices</h2>",
        f"<img alt='confusion matrices' src='{_confusion_figure(results, _confusion_runs(results, first))}'>",
    ]
    examples = _examples_figure(results)
    if examples:
        parts += ["<h2>Example images per class</h2>", f"<img alt='example images per class' src='{examples}'>"]
    dist = _distribution_figure(results, first)
    if dist:
        parts += ["<h2>Class distribution seen in training</h2>", f"<img alt='class distribution' src='{dist}'>"]
    diagnoses = [(s, r.get("diagnosis")) for s, r in first.items() if r.get("diagnosis")]
    if diagnoses:
        parts.append("<h2>Diagnosis of each strategy's test scores (seed 0, fold 0)</h2>")
        for s, diag in diagnoses:
            parts.append(f"<h3>{html.escape(s)}</h3><pre>{html.escape(str(diag.get('text', '')))}</pre>")
    parts += [
        "<h2>Every run</h2>",
        "<details><summary>show</summary>",
        _runs_table(results),
        "</details>",
        "<p class='muted'>Files: <code>runs.jsonl</code> (one line per run), <code>results.csv</code>, "
        "<code>best.keras</code> (the recommended strategy's model: outputs <code>scores</code> and "
        "<code>decisions</code>; "
        + (html.escape(results.served.sentence().removeprefix("best.keras: ").rstrip("."))
           if results.served is not None else "the model of seed 0, fold 0, and the threshold tuned in that unit")
        + "), <code>thresholds.json</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(results: "Results", path: str | os.PathLike[str]) -> Path:
    """Render and write the report atomically; return its path."""
    path = Path(path)
    atomic_write_text(path, render_report(results))
    return path
