"""The objective grammar: one syntax for Python and the CLI (``"f1"``, ``"recall@precision>=0.9"``,
``"cost:fp=1,fn=10"``, …), parsed once into an :class:`Objective`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


# --- objectives ------------------------------------------------------------------------------------------------

OBJECTIVE_FORMS: tuple[str, ...] = (
    "'f1', 'f2', 'f0.5' (F-beta with beta > 0)",
    "'fbeta:0.5' (the same, beta after the colon)",
    "'recall@precision>=0.9' (best recall with precision at least 0.9; target in (0, 1])",
    "'precision@recall>=0.8' (best precision with recall at least 0.8; target in (0, 1])",
    "'cost:fp=1,fn=10' (least total cost of false positives and false negatives; costs >= 0)",
)

_NUMBER = r"([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)"
_F_SHORT = re.compile(rf"^f{_NUMBER}$")
_F_LONG = re.compile(rf"^fbeta[:=]{_NUMBER}$")
_CONSTRAINT = re.compile(rf"^(recall|precision)@(precision|recall)>={_NUMBER}$")
_COST = re.compile(r"^cost:(.+)$")
_COST_TERM = re.compile(rf"^(fp|fn)={_NUMBER}$")


@dataclass(frozen=True)
class Objective:
    """A parsed objective (see :func:`parse_objective`).

    ``kind`` is ``"fbeta"``, ``"recall_at_precision"``, ``"precision_at_recall"`` or ``"cost"``; ``beta`` is used by
    ``"fbeta"``, ``target`` by the two constraints, ``fp`` / ``fn`` (cost of one false positive / negative) by
    ``"cost"``. ``str(objective)`` is the canonical string, which parses back to the same objective.
    """

    kind: str
    beta: float = 1.0
    target: float | None = None
    fp: float = 1.0
    fn: float = 1.0

    @property
    def is_constraint(self) -> bool:
        """True for ``recall@precision>=P`` and ``precision@recall>=R``."""
        return self.kind in ("recall_at_precision", "precision_at_recall")

    @property
    def constrained(self) -> str | None:
        """The metric that must reach ``target`` (``"precision"`` / ``"recall"``), None for other objectives."""
        return {"recall_at_precision": "precision", "precision_at_recall": "recall"}.get(self.kind)

    @property
    def higher_is_better(self) -> bool:
        """False for a cost (lower is better), True for every other objective."""
        return self.kind != "cost"

    @property
    def maximised(self) -> str:
        """The metric the tuner optimises: ``"f1"``, ``"f2"``, ``"recall"``, ``"precision"`` or ``"cost"``."""
        return {"fbeta": f"f{self.beta:g}", "recall_at_precision": "recall", "precision_at_recall": "precision",
                "cost": "cost"}[self.kind]

    def __str__(self) -> str:
        if self.kind == "fbeta":
            return f"f{self.beta:g}"
        if self.kind == "cost":
            return f"cost:fp={self.fp:g},fn={self.fn:g}"
        return f"{self.maximised}@{self.constrained}>={self.target:g}"


def _objective_error(text: Any, reason: str = "") -> ValueError:
    forms = "; ".join(OBJECTIVE_FORMS)
    detail = f" ({reason})" if reason else ""
    return ValueError(f"Cannot parse objective {text!r}{detail}. Accepted forms: {forms}.")


def parse_objective(objective: str | Objective) -> Objective:
    """Parse an objective string (case and spaces do not matter); an :class:`Objective` passes through.

    Raises:
        ValueError: for any other string; the message lists the accepted forms (:data:`OBJECTIVE_FORMS`).

    >>> parse_objective("recall@precision>=0.9")
    Objective(kind='recall_at_precision', beta=1.0, target=0.9, fp=1.0, fn=1.0)
    >>> str(parse_objective(" F2 ")), str(parse_objective("fbeta:0.5")), str(parse_objective("cost:fn=10,fp=1"))
    ('f2', 'f0.5', 'cost:fp=1,fn=10')
    """
    if isinstance(objective, Objective):
        return objective
    if not isinstance(objective, str):
        raise _objective_error(objective, f"expected a string, got {type(objective).__name__}")
    text = re.sub(r"\s+", "", objective.lower())
    match = _F_SHORT.match(text) or _F_LONG.match(text)
    if match:
        beta = float(match.group(1))
        if not (beta > 0 and math.isfinite(beta)):
            raise _objective_error(objective, f"beta must be > 0, got {match.group(1)}")
        return Objective("fbeta", beta=beta)
    match = _CONSTRAINT.match(text)
    if match:
        maximised, constrained, number = match.groups()
        if maximised == constrained:
            raise _objective_error(objective, "the maximised metric and the constrained one must differ")
        target = float(number)
        if not 0.0 < target <= 1.0:
            raise ValueError(
                f"The {constrained} target of objective {objective!r} must be in (0, 1]. Received: {target:g}. "
                f"Accepted forms: {'; '.join(OBJECTIVE_FORMS)}."
            )
        kind = "recall_at_precision" if maximised == "recall" else "precision_at_recall"
        return Objective(kind, target=target)
    match = _COST.match(text)
    if match:
        costs: dict[str, float] = {}
        for term in match.group(1).split(","):
            part = _COST_TERM.match(term)
            if not part or part.group(1) in costs:
                raise _objective_error(objective, "costs are written fp=A,fn=B, each once")
            costs[part.group(1)] = float(part.group(2))
        if set(costs) != {"fp", "fn"}:
            raise _objective_error(objective, "give both fp= and fn=")
        if not all(math.isfinite(v) for v in costs.values()) or costs["fp"] + costs["fn"] <= 0:
            raise _objective_error(objective, "costs must be finite, >= 0 and not both 0")
        return Objective("cost", fp=costs["fp"], fn=costs["fn"])
    raise _objective_error(objective)
