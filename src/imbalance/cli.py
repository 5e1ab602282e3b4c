"""The `imbalance` command line (typer + rich).

``imbalance demo``      the comparison on an embedded dataset (what ``make demo`` runs)
``imbalance compare``   strategies side by side on your table, with a verdict and ``report.html``
``imbalance inspect``   class counts, imbalance ratio, which strategies apply
``imbalance tune``      a decision threshold for your objective from a file of labels and scores
``imbalance diagnose``  why scores fail: collapse, flooding, a threshold in the wrong place

Bad input ends with exit code 2 and one line naming the file, column, row or value — never a traceback.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import functools  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, List, Optional  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

app = typer.Typer(
    help="Make Keras classifiers work on imbalanced data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Rich wraps at 80 columns when the output is not a terminal (CI logs, pipes): give the tables room.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

# What `imbalance demo` runs for each embedded dataset: the seed's own goal.
# digits_lt gets pixel noise: clean digits are separated perfectly by every strategy, which teaches nothing.
DEMOS: dict[str, dict[str, Any]] = {
    "digits_lt": {"objective": "recall@precision>=0.9", "class_id": 0, "epochs": 30, "seeds": 1, "folds": 4,
                  "load": {"noise": 0.4}},
    "fraud": {"objective": "recall@precision>=0.8", "class_id": None, "epochs": 15, "seeds": 3, "folds": 3,
              "load": {}},
    "multilabel30": {"objective": "f1", "class_id": None, "epochs": 10, "seeds": 2, "folds": 3,
                     "load": {"n_samples": 12000}},
    # An image folder written from the digits (32x32 PNGs, noisy, class 0 rare), compared from the files: seed
    # 000's three recipes (a cost-sensitive loss, class weights, class-0 augmentation) side by side.
    "images": {"objective": "recall@precision>=0.9", "class_id": "0", "epochs": 12, "seeds": 1, "folds": 3,
               "load": {}, "strategies": ["baseline", "class_weight", "logit_adjusted", "baseline+augment"],
               "augment": "rotation,zoom,translation", "augment_classes": "0"},
}


# The most epochs and seeds a command accepts: beyond them a typo (an extra zero or three) runs for days.
MAX_EPOCHS = 100_000
MAX_SEEDS = 1_000
# A temporary file beside a result (".runs.jsonl.1234.ab12cd34.tmp"): an error naming it names the user's folder.
_TEMPORARY = re.compile(r"\..+\.tmp[^/]*")


def _os_message(error: OSError) -> str:
    """An OS error as one line naming the user's path: a failed write of a temporary file beside a result names the
    folder it was written in (the temporary's name means nothing to the user)."""
    reason = error.strerror or type(error).__name__
    path = Path(os.fsdecode(error.filename))
    if not _TEMPORARY.fullmatch(path.name):
        return f"{path}: {reason}"
    hint = " (a read-only folder? pass --out with a folder you can write)" if isinstance(error, PermissionError) else ""
    return f"cannot write in {path.parent}: {reason}{hint}"


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors bad input raises into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, OSError, KeyError) as error:
            if isinstance(error, OSError) and error.filename is None and not isinstance(
                    error, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise  # an OS error that names no path: not bad input
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if isinstance(error, KeyError):
                message = f"missing key {message}"
            elif isinstance(error, OSError) and error.filename is not None:
                message = _os_message(error)
            err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper


@app.callback()
def _main() -> None:
    """imbalance: weights, stable losses, sampling and thresholds for imbalanced Keras classifiers."""


def _split_names(values: Optional[List[str]], option: str = "--strategies") -> Optional[List[str]]:
    """Names given comma-separated or repeated; None when the option was not given. Given but naming nothing
    (``--strategies ""`` or ``","``) is an error, never a silent "all"."""
    if values is None or len(values) == 0:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not names:
        shown = " ".join(f"{option} {v!r}" for v in values)
        raise ValueError(f"{shown} names nothing; give names (comma-separated or repeated), or leave {option} out "
                         "for the default")
    return names


def _check_budget(epochs: Optional[int], seeds: Optional[int]) -> None:
    for option, value, high in (("--epochs", epochs, MAX_EPOCHS), ("--seeds", seeds, MAX_SEEDS)):
        if value is not None and not 1 <= value <= high:
            raise ValueError(f"{option} must be from 1 to {high:,}. Received: {option} {value}")


def _check_out(out: Path) -> None:
    """``--out`` names a folder (created when missing), never a file: checked before anything runs."""
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing == out and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; pass a folder for the results (created when missing)")
    if existing is not None and not existing.is_dir():
        raise ValueError(f"--out {out} cannot be created: {existing} is a file; pass another folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write in {existing} (permission denied); pass a folder you can write")


def _workers(value: str) -> Any:
    """``--workers``: ``auto`` or a positive integer (checked by compare, which names the value)."""
    value = value.strip()
    return int(value) if value.isdigit() else value


def _print_results(results: Any, out: Optional[Path]) -> None:
    table = results.table
    verdict = results.verdict
    from imbalance.experiment.candidates import describe_rule
    from imbalance.experiment.scoring import metric_name

    metric = metric_name(results.objective)
    class_id = results.config.class_id
    out_table = Table(title=f"{results.data.name}: {results.config.objective}"
                      + (f" on class {results.data.class_names[class_id]}" if class_id is not None else "")
                      + (f" (positive class: {results.data.class_names[1]})"
                         if results.data.task == "binary" and results.data.class_names[1] != "1" else "")
                      + f" — mean ± sd over {verdict.units} paired units")
    out_table.add_column("strategy", no_wrap=True)
    rule = results.decision_rule
    out_table.add_column(metric if rule else f"{metric} tuned", justify="right", no_wrap=True)
    labels = {"precision": "precision", "recall": "recall", "held": "held", "untuned_objective": "at default",
              "untuned_precision": "precision at default", "pr_auc": "PR-AUC", "balanced_accuracy": "bal. acc",
              "seconds": "s/run"}
    columns = [c for c in labels if c in table and table[c].notna().any()]
    for c in columns:
        out_table.add_column(labels[c], justify="right")
    for row in table.to_dict("records"):
        name = row["strategy"]
        mark = " ★" if name == verdict.winner else (" ←" if name == verdict.recommended else "")
        std = row.get("objective_std")
        cells = [f"{row['objective']:.3f} ± {std:.3f}" if std == std else f"{row['objective']:.3f}"]
        for c in columns:
            value = row.get(c)
            cells.append("–" if value is None or value != value else (f"{value:.1f}" if c == "seconds" else
                                                                     f"{value:.3f}"))
        out_table.add_row(name + mark, *cells, style="bold green" if name == verdict.recommended else None)
    console.print(out_table)
    console.print(f"[bold]Verdict:[/] {verdict.reason}", highlight=False)
    if rule:
        note = (f"'strategy': on test rows at the threshold tuned on training rows only; 'strategy@{rule}': the same "
                f"models decided at {describe_rule(rule)}, no threshold tuned.")
    else:
        note = ("'tuned': on test rows at the threshold chosen on training rows only; 'at default': the same "
                "models at 0.5 / argmax; 'held': share of units where the constraint held on test.")
    console.print(note, highlight=False, style="dim")
    if out is not None:
        console.print(f"Report: {out / 'report.html'}   best model: {out / 'best.keras'}   runs: "
                      f"{out / 'runs.jsonl'}", highlight=False)
        if getattr(results, "served", None) is not None:
            console.print(results.served.sentence(), highlight=False, style="dim")
        if getattr(results, "export_path", None) is not None:
            console.print(f"SavedModel (serves without imbalance: tf.saved_model.load, TF Serving): "
                          f"{results.export_path}", highlight=False)
        elif getattr(results, "export_note", None):
            console.print(str(results.export_note), highlight=False, style="dim")


@app.command()
@_user_errors
def demo(
    dataset: str = typer.Option("digits_lt", help="Embedded dataset: digits_lt (seed 000), fraud (seed 001), "
                                                  "multilabel30 (seed 002), or images (the digits written as a "
                                                  "folder of PNGs and compared from the files)."),
    out: Path = typer.Option(Path("imbalance-demo"), help="Directory for runs.jsonl, report.html and best.keras."),
    epochs: Optional[int] = typer.Option(None, help=f"Epochs per run, 1 to {MAX_EPOCHS:,} (default: per dataset)."),
    seeds: Optional[int] = typer.Option(None, help=f"Seeds, 1 to {MAX_SEEDS:,} (default: per dataset)."),
    strategies: Optional[List[str]] = typer.Option(None, help="Strategies to run (comma-separated or repeated); "
                                                              "default: every one that applies."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    workers: str = typer.Option("auto", help="Runs at once, each in its own process (one CPU thread or one GPU "
                                             "each): auto = one per usable core, capped by memory; 1 = in this "
                                             "process. The results do not depend on it."),
    ray: Optional[str] = typer.Option(None, help="Run every run as a Ray task: local (start Ray here), auto (the "
                                                 "running cluster) or a Ray address (pip install 'imbalance[ray]')."),
) -> None:
    """Compare every strategy on an embedded dataset, with the seed's own objective, and write the report."""
    from imbalance.datasets import load_demo
    from imbalance.experiment import compare

    if dataset not in DEMOS:
        raise ValueError(f"Unknown demo dataset {dataset!r}; choose one of: {', '.join(DEMOS)}")
    _check_budget(epochs, seeds)
    names = _split_names(strategies)
    _check_out(out)
    spec = DEMOS[dataset]
    extra: dict[str, Any] = {}
    if dataset == "images":
        from imbalance.datasets import digits_image_folder

        data = str(digits_image_folder(out / "images"))
        console.print(f"Wrote the long-tailed noisy digits as 32x32 PNGs in {data}/<class>/ (class 0 rarest); "
                      "comparing from the files.", highlight=False)
        extra = {"augment": spec["augment"], "augment_classes": spec["augment_classes"]}
        names = names or spec["strategies"]
    else:
        data = load_demo(dataset, **spec["load"])
        console.print(data.description, highlight=False)
    results = compare(
        data,
        folds=spec["folds"],
        strategies=names,
        **extra,
        objective=spec["objective"],
        class_id=spec["class_id"],
        epochs=epochs or spec["epochs"],
        seeds=seeds or spec["seeds"],
        out_dir=out,
        progress=progress,
        workers=_workers(workers),
        ray=ray,
    )
    results.save(out)
    _print_results(results, out)


@app.command("compare")
@_user_errors
def compare_command(
    data: str = typer.Argument(..., help="A table (CSV, TSV, Parquet, NPZ, KEEL .dat), an image folder (one "
                                         "subfolder per class), a table of image paths (with --path-column) or an "
                                         "embedded dataset name."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="Label column; several (comma-separated "
                                                                             "or repeated) for multi-label."),
    objective: str = typer.Option("f1", help="f1, f2, fbeta:B, recall@precision>=P, precision@recall>=R or "
                                             "cost:fp=A,fn=B."),
    class_id: Optional[str] = typer.Option(None, help="Multi-class: the class the objective is about (its id or "
                                                      "its name, e.g. an image subfolder)."),
    strategies: Optional[List[str]] = typer.Option(None, help="Strategies (comma-separated or repeated); default: "
                                                              "every one that applies."),
    epochs: int = typer.Option(30, help=f"Epochs per run (1 to {MAX_EPOCHS:,})."),
    seeds: int = typer.Option(3, help=f"Seeds, each drawing its own split (1 to {MAX_SEEDS:,})."),
    batch_size: Optional[int] = typer.Option(None, min=1, help="Batch size (default 64, or 256 above 5,000 rows of at most 4,096 values)."),
    out: Path = typer.Option(Path("imbalance-out"), help="Output directory (re-running resumes from it)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    workers: str = typer.Option("auto", help="Runs at once, each in its own process (one CPU thread or one GPU "
                                             "each): auto = one per usable core, capped by memory; 1 = in this "
                                             "process. The results do not depend on it."),
    ray: Optional[str] = typer.Option(None, help="Run every run as a Ray task: local (start Ray here), auto (the "
                                                 "running cluster) or a Ray address (pip install 'imbalance[ray]')."),
    image_size: Optional[str] = typer.Option(None, help="Images: resize every image to H,W pixels (needed when "
                                                        "their sizes differ)."),
    color_mode: str = typer.Option("rgb", help="Images: rgb, grayscale or rgba."),
    path_column: Optional[str] = typer.Option(None, help="The table lists image files: the column of their paths "
                                                         "(relative to the table's folder); --target is the label."),
    augment: Optional[str] = typer.Option(None, help="Keras augmentation layers for images, comma-separated: flip, "
                                                     "vflip, rotation, zoom, translation, brightness, contrast; "
                                                     "applied to --augment-classes only, in strategies named "
                                                     "'<strategy>+augment' (default: adds baseline+augment)."),
    augment_classes: Optional[str] = typer.Option(None, help="The classes (ids or names, comma-separated) whose "
                                                             "images --augment changes."),
    early_stopping: Optional[int] = typer.Option(None, min=1, help="Stop each run after this many epochs without "
                                                                   "a lower validation loss; keep its best "
                                                                   "weights."),
    stream: bool = typer.Option(False, "--stream", help="A table bigger than memory: read it in chunks (pyarrow), "
                                                        "preprocessing fitted on a sample of each run's training "
                                                        "rows; only the labels are held in memory."),
    serve: str = typer.Option("auto", help="What best.keras serves: refit (the recommended strategy trained again "
                                           "on every row, its threshold tuned on every unit's out-of-sample "
                                           "scores), first-unit (the model and threshold of seed 0, fold 0), or "
                                           "auto (refit, but first-unit for --stream tables above a million "
                                           "rows)."),
) -> None:
    """Train the same model under each strategy over paired splits; print the table and the verdict."""
    from imbalance.experiment import compare

    names = _split_names(target, "--target")
    source = _source(data, names, image_size, color_mode, path_column, stream)
    path = Path(data)
    if source is None and names is None and path.suffix.lower() not in (".dat", ".npz") and data not in DEMOS:
        raise ValueError(f"--target is required for {data}: name the label column (several for multi-label).")
    _check_budget(epochs, seeds)
    chosen = _split_names(strategies)
    _check_out(out)
    results = compare(
        source if source is not None else data,
        target=None if source is not None else names[0] if names and len(names) == 1 else names,
        augment=augment,
        augment_classes=augment_classes,
        early_stopping=early_stopping,
        serve=serve,
        strategies=chosen,
        objective=objective,
        class_id=class_id,
        epochs=epochs,
        seeds=seeds,
        batch_size=batch_size,
        out_dir=out,
        progress=progress,
        workers=_workers(workers),
        ray=ray,
    )
    results.save(out)
    _print_results(results, out)


def _source(data: str, target: Optional[List[str]], image_size: Optional[str], color_mode: str,
            path_column: Optional[str], stream: bool = False) -> Any:
    """The feature source the arguments name (an image folder, a table of image paths, a table streamed from
    disk), or None for the rest."""
    from imbalance.data.sources import image_folder, image_table

    if stream:
        from imbalance.data.table_source import table_source

        if path_column is not None or Path(data).is_dir() or not target or len(target) != 1:
            raise ValueError("--stream reads one table file with one --target column.")
        if image_size is not None or color_mode != "rgb":
            raise ValueError("--image-size and --color-mode apply to an image folder or a table of image paths "
                             f"(--path-column); {data} is neither.")
        return table_source(data, target[0])

    if path_column is not None:
        if not target or len(target) != 1:
            raise ValueError("--path-column needs --target: the one column of labels beside the paths.")
        return image_table(data, path_column, target[0], image_size=image_size, color_mode=color_mode)
    if Path(data).is_dir():
        return image_folder(data, image_size=image_size, color_mode=color_mode)
    if image_size is not None or color_mode != "rgb":
        raise ValueError("--image-size and --color-mode apply to an image folder or a table of image paths "
                         f"(--path-column); {data} is neither.")
    return None


@app.command()
@_user_errors
def inspect(
    data: str = typer.Argument(..., help="A table file, an image folder, a table of image paths (with "
                                         "--path-column) or an embedded dataset name."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="Label column(s)."),
    image_size: Optional[str] = typer.Option(None, help="Images: the size H,W they would be resized to."),
    color_mode: str = typer.Option("rgb", help="Images: rgb, grayscale or rgba."),
    path_column: Optional[str] = typer.Option(None, help="The table lists image files: the column of their paths."),
    stream: bool = typer.Option(False, "--stream", help="A table bigger than memory: read only its label column."),
) -> None:
    """Class counts (from the labels only), imbalance ratio, image sizes, and which strategies apply."""
    import numpy as np

    from imbalance.experiment import Protocol, available, prepare_data
    from imbalance.weighting import pos_weights

    names = _split_names(target, "--target")
    source = _source(data, names, image_size, color_mode, path_column, stream)
    d = prepare_data(source if source is not None else data, None if source is not None else
                     names[0] if names and len(names) == 1 else names)
    if d.streamed:
        facts = d.x.describe()
        console.print("Features: " + "; ".join(f"{k}: {v}" for k, v in facts.items()), highlight=False)
    counts = d.counts
    rows = len(d.y)
    table = Table(title=f"{d.name}: {d.task}, {rows} rows")
    table.add_column("label" if d.task == "multilabel" else "class")
    table.add_column("positives" if d.task == "multilabel" else "rows", justify="right")
    table.add_column("share", justify="right")
    for name, c in zip(d.class_names, counts):
        table.add_row(str(name), str(int(c)), f"{c / rows:.2%}")
    console.print(table)
    if d.task == "multilabel":
        present = counts[counts > 0]
        w = pos_weights(d.y, max_weight=1e6) if present.size == counts.size else None
        console.print(f"Positives per row: {d.y.sum(axis=1).mean():.2f}; rows without any label: "
                      f"{(d.y.sum(axis=1) == 0).mean():.1%}.")
        if w is not None:
            console.print(f"pos_weight (n_neg / n_pos) ranges {w.min():.1f} … {w.max():.1f}; a weight w moves the "
                          f"Bayes threshold to 1/(1+w), here {1 / (1 + w.max()):.3f} … {1 / (1 + w.min()):.3f}.")
    else:
        present = counts[counts > 0]
        console.print(f"Imbalance ratio (largest / smallest class): {present.max() / present.min():.1f}.")
    minority = int(counts[counts > 0].min())
    protocol = Protocol()  # compare's defaults
    in_validation = minority * (1 - protocol.test_size) * protocol.val_size
    console.print(f"Smallest class / label: {minority} rows — "
                  + ("enough for a validation split to place a threshold." if in_validation >= protocol.min_positives
                     else f"few: compare will use cross-validated thresholds (a {protocol.val_size * 100:g} % validation "
                     f"split would hold about {int(np.floor(in_validation))})."))
    usable = [n for n in available(d.task) if not (d.streamed and n == "smote")]
    console.print(f"Strategies for {d.task}: {', '.join(usable)}"
                  + (" (smote needs features in memory: not for files read per batch)." if d.streamed and
                     "smote" in available(d.task) else "."))


def _read_scores(path: Path, target: Optional[List[str]], scores: Optional[List[str]]) -> tuple[Any, Any, list[str]]:
    """Labels and scores from a CSV/TSV/NPZ file (NPZ: arrays ``y`` and ``scores``); a file that cannot be read
    (damaged, truncated) or names a column twice is one line naming it."""
    import lzma
    import zipfile
    import zlib

    import numpy as np
    import pandas as pd

    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    damaged = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, UnicodeDecodeError,
               pd.errors.ParserError)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k in ("y", "scores")}
                if len(arrays) < 2:
                    raise KeyError(data.files)
            return arrays["y"], arrays["scores"], []
        sep = "\t" if {".tsv", ".tab"} & {x.lower() for x in path.suffixes} else ","
        header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0].tolist()  # names as written
        frame = pd.read_csv(path, sep=sep)
    except KeyError as error:
        raise ValueError(f"{path.name} must hold arrays 'y' and 'scores'; it has: {', '.join(error.args[0])}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path.name} is empty.") from None
    except damaged as error:
        text = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ValueError(f"Cannot read {path.name}: {text} (a damaged or truncated file?)") from None
    twice = next((c for i, c in enumerate(header) if c in header[:i]), None)
    if twice is not None:
        raise ValueError(f"The header of {path.name} names two columns {twice!r}; rename one")
    if frame.empty:
        raise ValueError(f"{path.name} has no rows.")
    labels = _split_names(target, "--target")
    if not labels:
        raise ValueError(f"--target is required: name the label column(s) of {path.name}; columns are: "
                         f"{', '.join(map(str, frame.columns))}")
    columns = _split_names(scores, "--scores") or [c for c in frame.columns if c not in labels]
    for c in labels + columns:
        if c not in frame.columns:
            raise ValueError(f"Column {c!r} not found in {path.name}; columns are: {', '.join(map(str, frame.columns))}")
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = values.isna() & frame[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{path.name}, line {row + 2}, column {c!r}: score {frame[c].iloc[row]!r} is not a number.")
    y = frame[labels].to_numpy()
    y = y[:, 0] if len(labels) == 1 else y
    s = frame[columns].to_numpy(dtype=float)
    return y, (s[:, 0] if s.shape[1] == 1 else s), columns


def _check_probabilities(path: Path, s: Any, columns: list[str], from_logits: bool) -> None:
    """Scores outside [0, 1] without ``--from-logits`` are logits read as probabilities: one line with the hint."""
    import numpy as np

    arr = np.asarray(s, dtype=float).reshape(len(s), -1)
    outside = (arr < 0) | (arr > 1)
    if from_logits or not outside.any():
        return
    row, column = (int(i) for i in np.argwhere(outside)[0])
    where = f"line {row + 2}, column {columns[column]!r}" if columns else f"row {row}, column {column}"
    raise ValueError(f"{path.name}, {where}: score {arr[row, column]:g} is not a probability in [0, 1]; pass "
                     "--from-logits for logits (a last layer without sigmoid / softmax)")


@app.command()
@_user_errors
def tune(
    scores: Path = typer.Argument(..., help="CSV/TSV with label and score columns, or NPZ with arrays y, scores."),
    objective: str = typer.Option("f1", help="f1, f2, fbeta:B, recall@precision>=P, precision@recall>=R or "
                                             "cost:fp=A,fn=B."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="Label column(s)."),
    score_columns: Optional[List[str]] = typer.Option(None, "--scores", help="Score column(s); default: every "
                                                                             "other column."),
    class_id: Optional[int] = typer.Option(None, help="Multi-class scores: the class to threshold."),
    confidence: Optional[float] = typer.Option(None, help="Lower-confidence-bound level for constraints "
                                                          "(default: the tuner's)."),
    from_logits: bool = typer.Option(False, "--from-logits", help="The scores are logits (no sigmoid / softmax "
                                                                  "applied); else they must lie in [0, 1]."),
    out: Optional[Path] = typer.Option(None, help="Write the thresholds as JSON here."),
) -> None:
    """Choose decision thresholds for your objective from validation labels and scores."""
    import numpy as np

    from imbalance.thresholds import ThresholdTuner

    y, s, columns = _read_scores(scores, target, score_columns)
    if not np.issubdtype(np.asarray(s).dtype, np.number) or not np.all(np.isfinite(s)):
        raise ValueError(f"{scores.name}: scores must be finite numbers.")
    _check_probabilities(scores, s, columns, from_logits)
    kwargs: dict[str, Any] = {"objective": objective, "from_logits": from_logits}
    if class_id is not None:
        kwargs["class_id"] = class_id
    if confidence is not None:
        kwargs["confidence"] = confidence
    tuner = ThresholdTuner(**kwargs).fit(y, s)
    thresholds = np.ravel(tuner.thresholds_)
    on_logits = np.ravel(tuner.score_thresholds_)
    logit_column = from_logits and not np.array_equal(thresholds, on_logits)
    table = Table(title=f"Thresholds for {objective}")
    table.add_column("score column" if columns else "output")
    table.add_column("threshold (probability)" if logit_column else "threshold", justify="right")
    if logit_column:
        table.add_column("on the logits", justify="right")
    names = columns if len(columns) == len(thresholds) else [str(i) for i in range(len(thresholds))]
    if class_id is not None:
        names = [f"class {class_id}"]
    for name, t, z in zip(names, thresholds, on_logits):
        table.add_row(name, f"{t:.6g}", *([f"{z:.6g}"] if logit_column else []))
    console.print(table)
    console.print(f"Objective on these scores: {float(np.mean(tuner.best_score_)):.4f}", highlight=False)
    if out is not None:
        tuner.save(out)
        console.print(f"Saved: {out}", highlight=False)


@app.command("diagnose")
@_user_errors
def diagnose_command(
    scores: Path = typer.Argument(..., help="CSV/TSV with label and score columns, or NPZ with arrays y, scores."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="Label column(s)."),
    score_columns: Optional[List[str]] = typer.Option(None, "--scores", help="Score column(s)."),
    threshold: Optional[float] = typer.Option(None, help="The decision threshold in use (default 0.5 / argmax)."),
    from_logits: bool = typer.Option(False, "--from-logits", help="The scores are logits (no sigmoid / softmax "
                                                                  "applied); else they must lie in [0, 1]."),
) -> None:
    """Explain why the scores' decisions fail: collapse, flooding, a threshold in the wrong place."""
    from imbalance.diagnose import diagnose

    y, s, columns = _read_scores(scores, target, score_columns)
    _check_probabilities(scores, s, columns, from_logits)
    kwargs: dict[str, Any] = {"from_logits": from_logits}
    if threshold is not None:
        kwargs["threshold"] = threshold
    console.print(str(diagnose(y, s, **kwargs)), highlight=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
