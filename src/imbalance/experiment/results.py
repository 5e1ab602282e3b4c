"""What :func:`~imbalance.experiment.compare` found: every run record, the candidates, the table, the verdict, and
the files that :meth:`Results.save` writes."""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imbalance._files import atomic_write_bytes, atomic_write_text, remove_tree
from imbalance.experiment.candidates import Candidate, candidate_runs, decision_rule
from imbalance.experiment.config import ComparisonConfig
from imbalance.experiment.data import ComparisonData
from imbalance.experiment.records import RUNS_FILE, RunRecord, RunStore
from imbalance.experiment.serving import (EXPORT_DIR, ExportSkippedWarning, export_saved_model, export_unavailable,
                                         load_model_file, save_model_atomically, with_decision)
from imbalance.thresholds import Objective

if TYPE_CHECKING:  # pragma: no cover
    from imbalance.experiment.refit import Served

__all__ = ["Results"]


@dataclass
class Results:
    """What :func:`~imbalance.experiment.compare` found: every run, the summary table and the verdict.

    The verdict chooses among :attr:`candidates`: a trained strategy together with its decision rule
    (:class:`~imbalance.experiment.candidates.Candidate`). Each strategy competes with the threshold tuned on
    training rows (``"oversample"``) and, for objectives without a constraint (F-beta, cost), also decided at
    probability 0.5 (``"oversample@0.5"``; ``"@argmax"`` for multi-class data with ``class_id``): the same models and
    test rows, no extra training. On small validation sets a tuned F1 threshold overfits, and the development suite
    found rebalanced models decided at 0.5 ahead of every tuned threshold, so the untuned rule must be able to win.
    A constraint (``recall@precision>=P``) needs a tuned threshold, so there only tuned candidates compete.

    ``table`` has one row per candidate: the objective's mean and spread over units, PR-AUC, balanced accuracy and,
    for constraint objectives, how often the constraint held on test. ``best`` is the recommended candidate (the
    winner; else the candidate that :func:`~imbalance.experiment.verdict.verdict`'s fixed rule chose among those
    within the practical margin of the best mean, which is the best mean itself when no other is that close).
    """

    runs: list[RunRecord]
    config: ComparisonConfig
    data: ComparisonData
    objective: Objective
    models: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    #: Set by :meth:`save`: the SavedModel folder it wrote (``None`` when it wrote none), and why it wrote none.
    export_path: Path | None = field(default=None, init=False, repr=False, compare=False)
    export_note: str | None = field(default=None, init=False, repr=False, compare=False)
    failed: list[RunRecord] = field(default_factory=list)  # runs that raised (``error``): no scores, retried on resume
    _served: "Served | None" = field(default=None, init=False, repr=False, compare=False)
    _pending_refit: Any = field(default=None, init=False, repr=False, compare=False)

    def defer_refit(self, job: Any) -> None:
        """Have :attr:`served` made by ``job(self)`` when first asked for (``compare(serve="refit")``)."""
        self._pending_refit = job

    @property
    def served(self) -> "Served | None":
        """The refitted served model (:class:`~imbalance.experiment.refit.Served`: the recommended candidate trained on
        every row, its threshold tuned on every unit's out-of-sample scores), trained the first time it is asked for
        (:meth:`save` asks); ``None`` with ``compare(serve="first_unit")``: ``best.keras`` is then the first unit's
        model."""
        if self._served is None and self._pending_refit is not None and self.candidates:
            self._served = self._pending_refit(self)
            self._pending_refit = None
        return self._served

    @property
    def goal(self) -> Objective:
        """The objective (the name of earlier versions)."""
        return self.objective

    @property
    def decision_rule(self) -> str | None:
        """The untuned decision that competes beside each tuned threshold (see
        :func:`~imbalance.experiment.candidates.decision_rule`)."""
        return decision_rule(self.data.task, self.objective, self.config.class_id)

    @property
    def candidates(self) -> list[Candidate]:
        """Every (strategy, decision rule) the verdict chooses from: ``"s"`` (tuned) and ``"s@0.5"``; a strategy
        with a failed run is left out (comparing it on the units it has would not be paired)."""
        rule = self.decision_rule
        failed = {r.strategy for r in self.failed}
        return [c for s in self.config.strategies if s not in failed
                for c in ((Candidate(s), Candidate(s, rule)) if rule else (Candidate(s),))]

    @property
    def failures(self) -> str:
        """One sentence on the runs that failed (empty when none did): which strategy, how many units, the error."""
        if not self.failed:
            return ""
        units = len({(r.seed, r.fold) for r in self.runs} | {(r.seed, r.fold) for r in self.failed})
        parts = []
        for s in dict.fromkeys(r.strategy for r in self.failed):
            mine = [r for r in self.failed if r.strategy == s]
            parts.append(f"{s} failed in {len(mine)} of {units} units ({mine[0].error})")
        return ("Left out of the verdict: " + "; ".join(parts) + ". Re-run the same command to retry the failed "
                "runs; the finished ones are kept.")

    @property
    def candidate_runs(self) -> list[RunRecord]:
        """``runs`` plus, per run, the record of the same models at the untuned decision (named ``"s@0.5"``)."""
        return candidate_runs(self.runs, self.decision_rule, self.objective)

    @property
    def higher_is_better(self) -> bool:
        return self.objective.higher_is_better

    @property
    def table(self):  # -> pandas.DataFrame
        from imbalance.experiment.verdict import summary_table

        table = summary_table(self.candidate_runs, [str(c) for c in self.candidates], self.higher_is_better)
        if self.decision_rule is not None:  # the untuned decision has rows of its own
            table = table.drop(columns=[c for c in ("untuned_objective", "untuned_precision") if c in table])
        return table

    @property
    def verdict(self):
        """The :class:`~imbalance.experiment.verdict.Verdict` over :attr:`candidates` (see
        :func:`~imbalance.experiment.verdict.verdict` for its rules). Its ``reason``, which the CLI prints under the
        table, also says how many seeds would confirm a lead the units were too few to confirm, when a constraint
        was not met on test and what would help (:meth:`goal_advice`), and which runs failed."""
        from imbalance.experiment.verdict import BINARY_F1_ORDER, verdict

        costs = {str(c): _cost(c.strategy) + (0.0 if c.tuned else 0.5)
                 for c in self.candidates}
        measured = self.data.task == "binary" and self.objective.kind == "fbeta" and self.objective.beta == 1
        if not costs:
            raise RuntimeError(f"No strategy finished every run, so there is nothing to compare. {self.failures}")
        goal = self.objective
        found = verdict(self.candidate_runs, list(costs), self.higher_is_better, costs,
                        preference=BINARY_F1_ORDER if measured else None,
                        constraint=(goal.constrained, goal.target) if goal.is_constraint else None)
        choice = found.reason[: len(found.reason) - len(found.goal)].rstrip() if found.goal else found.reason
        if found.goal:
            found.goal = f"{found.goal} {self.goal_advice(found)}".strip()
        seeds = self._seeds_needed(found.units_needed) if found.units_needed is not None else ""
        found.reason = " ".join(e for e in (choice, seeds, found.goal, self.failures) if e)
        return found

    def _units_per_seed(self) -> int:
        """Evaluation units each seed gives (1 for a hold-out split, ``folds`` when the seed cross-validates)."""
        per_seed: dict[int, set[int]] = {}
        for r in self.runs:
            per_seed.setdefault(r.seed, set()).add(r.fold)
        return max((len(f) for f in per_seed.values()), default=1)

    def _seeds_needed(self, units: int) -> str:
        """``units`` paired units in the seeds of this protocol: ``"That is seeds=N (…)."``"""
        per_seed = self._units_per_seed()
        seeds = -(-units // per_seed)
        return (f"That is seeds={seeds} with {per_seed} unit{'s' if per_seed > 1 else ''} per seed "
                f"(now seeds={self.config.seeds}).")

    def goal_advice(self, found: Any = None) -> str:
        """What would help a constraint objective that was not met on test: more rows of the class that matters, a
        lower target (the best mean test value reached), thresholds chosen out of fold (``min_positives``) or on
        more rows (``inner_folds``). Empty for objectives without a constraint."""
        goal = self.objective
        if not goal.is_constraint:
            return ""
        found = found if found is not None else self.verdict
        protocol = self.config.protocol
        metric = goal.constrained
        reached = {s: v for s, v in self.table.set_index("strategy")[metric].items() if v == v} \
            if metric in self.table else {}
        target_class = self.config.class_id if self.config.class_id is not None else (1 if self.data.task == "binary"
                                                                                      else None)
        what = (f"class {self.data.class_names[target_class]}" if target_class is not None
                else "the rare labels")
        levers = []
        trained = [r.train_counts[target_class] for r in self.runs if r.train_counts and target_class is not None
                   and len(r.train_counts) > target_class]
        levers.append(f"more rows of {what}" + (f" (each unit trained on about {int(np.median(trained))})"
                                                if trained else ""))
        if reached:
            top = max(reached.values())
            if top < goal.target:
                levers.append(f"a lower target ({metric} >= {math.floor(top * 100) / 100:g} was reached on test on "
                              "average)")
            else:
                levers.append("a lower target")
        inner = [r.inner for r in self.runs if r.inner]
        on_validation = sum(1 for i in inner if i == "validation")
        if on_validation:
            levers.append(f"thresholds chosen out of fold: compare(..., min_positives=N) with N above the "
                          f"validation split's positives (now min_positives={protocol.min_positives}; "
                          f"{on_validation} of {len(inner)} runs tuned on a validation split)")
        else:
            levers.append(f"out-of-fold models trained on more rows: compare(..., inner_folds=K) with K above "
                          f"{protocol.inner_folds} (every threshold here was already chosen out of fold)")
        return "What would help: " + "; ".join(levers) + "."

    @property
    def best(self) -> Candidate:
        """The recommended candidate (equal to its display string ``"s"`` or ``"s@0.5"``)."""
        return Candidate.parse(self.verdict.recommended)

    def save(self, out_dir: str | os.PathLike[str] | None = None, *, export: bool = True) -> Path:
        """Write ``runs.jsonl`` (already there when ``compare`` had ``out_dir``), ``results.csv``, the recommended
        candidate's model ``best.keras`` (scores and decisions), ``thresholds.json``, ``report.html`` and, on the
        TensorFlow backend, ``best_savedmodel/``: the same model as a TensorFlow SavedModel that serves without
        ``imbalance`` installed (:func:`~imbalance.experiment.serving.export_saved_model`; ``export=False`` skips
        it). Elsewhere the export is skipped with an :class:`~imbalance.experiment.serving.ExportSkippedWarning`, and
        :attr:`export_note` says why.

        With a refitted served model (:attr:`served`, ``compare(serve="refit")``) ``best.keras`` is that model and
        ``thresholds.json`` its rule, with ``"served"`` saying how both were made.

        Every model file is written atomically, and the recommended strategy's ``models/<strategy>.keras`` is loaded
        before it is copied or served: a truncated one (a run killed mid-save) raises
        :class:`~imbalance.experiment.serving.ModelFileError` naming it, before any other output is written.
        """
        from imbalance.experiment.report import write_report

        out = Path(out_dir) if out_dir is not None else self.out_dir
        if out is None:
            raise ValueError("`out_dir` is required: compare() was run without one.")
        out.mkdir(parents=True, exist_ok=True)
        best = Candidate.parse(self.best)
        refitted = self.served if self.served is not None and self.served.candidate == best else None
        if refitted is None:
            source, model = self._checked_model(best.strategy, out)
        if self.out_dir is None or Path(self.out_dir).resolve() != out.resolve():
            RunStore(out / RUNS_FILE).write(self.runs)
        atomic_write_text(out / "results.csv", self.table.to_csv(index=False))
        if refitted is not None:
            served = refitted.model
            save_model_atomically(served, out / "best.keras")
            atomic_write_text(out / "thresholds.json", json.dumps(self._served_rule(refitted), indent=2) + "\n")
        elif best.tuned:
            served = model
            atomic_write_bytes(out / "best.keras", source.read_bytes())
        else:
            served = with_decision(model, self.fixed_rule(best))
            save_model_atomically(served, out / "best.keras")
        if refitted is None:
            self._write_first_unit_rule(best, out)
        write_report(self, out / "report.html")
        self._export(served, out / EXPORT_DIR, export)
        return out

    def _write_first_unit_rule(self, best: Candidate, out: Path) -> None:
        """``thresholds.json`` of the first unit's model: its tuner's file (with ``on_test`` for a constraint), or
        the untuned rule."""
        if best.tuned:
            thresholds = out / "thresholds" / f"{best.strategy}.json"
            if thresholds.exists() and self.objective.is_constraint:
                # the tuner's file, plus what the constraint did on test (ThresholdTuner.load reads past it)
                rule = json.loads(thresholds.read_text(encoding="utf-8"))
                rule["on_test"] = self.on_test(best)
                atomic_write_text(out / "thresholds.json", json.dumps(rule, indent=2) + "\n")
            elif thresholds.exists():
                atomic_write_bytes(out / "thresholds.json", thresholds.read_bytes())
        else:
            atomic_write_text(out / "thresholds.json", json.dumps(self._untuned_rule(best), indent=2) + "\n")

    def _untuned_rule(self, best: Candidate) -> dict[str, Any]:
        return {"strategy": best.strategy, "decision": best.rule, "tuned": False,
                "thresholds": [0.5] * self.data.outputs if best.rule == "0.5" else [],
                "class_id": self.config.class_id}

    def _served_rule(self, served: "Served") -> dict[str, Any]:
        """``thresholds.json`` of a refitted model: its tuner's JSON (or the untuned rule's), what the constraint did
        on the units' test rows (``on_test``) and how the served model was made (``served``)."""
        best = served.candidate
        if not best.tuned:
            rule = self._untuned_rule(best)
        elif served.rule is not None:
            rule = served.rule.to_dict()
        else:
            rule = {"strategy": best.strategy, "decision": "argmax", "tuned": False, "thresholds": []}
        if best.tuned and self.objective.is_constraint:
            rule["on_test"] = self.on_test(best)
        rule["served"] = served.describe()
        return rule

    def on_test(self, candidate: str | None = None) -> dict[str, Any]:
        """What a constraint objective's constraint did on the test rows of every unit, for ``candidate`` (default:
        the recommended one): the constrained metric, its target, in how many units it held, its mean on test, and
        the verdict's words (``note``: empty when it held in most units). Written into ``thresholds.json``."""
        goal = self.objective
        if not goal.is_constraint:
            raise ValueError(f"on_test() is for constraint objectives. Received: objective={str(goal)!r}")
        found = self.verdict
        name = str(candidate if candidate is not None else found.recommended)
        mine = [r for r in self.runs if r.strategy == name and r.held is not None]
        values = [float(getattr(r, goal.constrained)) for r in mine if getattr(r, goal.constrained) is not None
                  and getattr(r, goal.constrained) == getattr(r, goal.constrained)]
        return {"metric": goal.constrained, "target": goal.target, "candidate": name,
                "held_units": int(round(sum(r.held for r in mine))), "units": len(mine),
                "mean": float(np.mean(values)) if values else None,
                "note": found.goal if name == found.recommended else ""}

    def _checked_model(self, strategy: str, out: Path) -> tuple[Path, Any]:
        """The strategy's served model file (``out/models/<strategy>.keras``, written now from the model in memory,
        else found there or under ``compare``'s own ``out_dir``) and the model loaded from it."""
        model_path = out / "models" / f"{strategy}.keras"
        if strategy in self.models:
            save_model_atomically(self.models[strategy], model_path)
        elif not model_path.exists() and self.out_dir is not None:
            kept = Path(self.out_dir) / "models" / f"{strategy}.keras"
            model_path = kept if kept.exists() else model_path
        recovery = ("re-run the same comparison (same command, same out_dir): resuming deletes it and retrains "
                    f"the run that saves it ({strategy}, seed 0, fold 0)")
        return model_path, load_model_file(model_path, recovery)

    def _export(self, served: Any, path: Path, export: bool) -> None:
        """Write the SavedModel export, or say why not (and remove an old one: it served an earlier model)."""
        reason = export_unavailable() if export else "Results.save(export=False)"
        if reason is None and len(served.inputs) != 1:
            reason = (f"the SavedModel export serves a model with one input tensor; this one has "
                      f"{len(served.inputs)} named inputs")
        if reason is None:
            self.export_path, self.export_note = export_saved_model(served, path), None
            return
        removed = remove_tree(path)
        self.export_path = None
        self.export_note = (f"{path} not written: {reason}"
                            + ("; the earlier export there was removed" if removed else "")
                            + ". best.keras serves the model (keras.models.load_model after import imbalance).")
        if export:
            warnings.warn(self.export_note, ExportSkippedWarning, stacklevel=3)

    def fixed_rule(self, candidate: Candidate) -> Any:
        """The candidate's untuned rule, fitted to this data's outputs (for its layer)."""
        return candidate.decision(task=self.data.task).fit(None, np.full((1, self.data.outputs), 0.5))


def _cost(strategy: str) -> float:
    """A strategy's relative cost (99 for one this process does not know: it ranks last among tied ones)."""
    from imbalance.experiment.strategies import get_strategy

    try:
        return float(get_strategy(strategy).cost)
    except ValueError:
        return 99.0
