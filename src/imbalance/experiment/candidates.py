"""Candidates of a comparison: a trained strategy together with the rule that turns its scores into decisions.

Each strategy competes with the threshold tuned on training rows (``Candidate("oversample")``) and, for objectives
without a constraint (F-beta, cost), also decided at probability 0.5 (``Candidate("oversample", "0.5")``;
``"argmax"`` for multi-class data with ``class_id``): the same models and test rows, no extra training. The string
``"oversample@0.5"`` is only the display and CLI spelling, read at the edge by :meth:`Candidate.parse`.

>>> c = Candidate.parse("cb_focal@argmax")
>>> c, c.strategy, c.rule, c == "cb_focal@argmax", Candidate("baseline").tuned, str(Candidate("smote", 0.5))
(Candidate('cb_focal', 'argmax'), 'cb_focal', 'argmax', True, True, 'smote@0.5')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from imbalance.experiment.records import RunRecord
    from imbalance.thresholds import Objective

__all__ = ["Candidate", "RULES", "candidate_runs", "decision_rule", "describe_rule", "split_candidate"]

#: The untuned decision rules a candidate can carry.
RULES: tuple[str, ...] = ("0.5", "argmax")


class Candidate(str):
    """A strategy and its decision rule: ``rule=None`` is the threshold tuned on training rows, ``"0.5"`` a
    probability of 0.5 per output, ``"argmax"`` the most probable class.

    Immutable, and a string: its value is the display spelling (``"oversample@0.5"``), so a candidate can stand
    wherever a name did (``results.best == "oversample@0.5"``, a table cell, a dict key), while ``strategy``,
    ``rule`` and :meth:`decision` give the typed parts. The rule may also be given as a number (``0.5``) or as a
    :class:`~imbalance.thresholds.FixedThreshold`.
    """

    def __new__(cls, strategy: str, rule: Any = None) -> "Candidate":
        rule = _rule_text(rule)
        if not isinstance(strategy, str) or not strategy or "@" in strategy:
            raise ValueError(f"`strategy` must be a strategy name without '@'. Received: strategy={strategy!r}")
        return super().__new__(cls, strategy if rule is None else f"{strategy}@{rule}")

    def __getnewargs__(self) -> tuple[str, str | None]:
        return self.strategy, self.rule

    @classmethod
    def parse(cls, name: "str | Candidate") -> "Candidate":
        """``"oversample@0.5"`` -> ``Candidate("oversample", "0.5")``; a Candidate passes through."""
        if isinstance(name, Candidate):
            return name
        strategy, rule = split_candidate(str(name))
        return cls(strategy, rule)

    @property
    def strategy(self) -> str:
        """The trained strategy (a plain ``str``: ``partition`` of a subclass without ``@`` returns the object itself)."""
        return str(str.partition(self, "@")[0])

    @property
    def rule(self) -> str | None:
        """``None`` (the tuned threshold), ``"0.5"`` or ``"argmax"``."""
        return str(str.partition(self, "@")[2]) or None

    @property
    def tuned(self) -> bool:
        """True when the decision is the threshold tuned on training rows."""
        return self.rule is None

    def decision(self, class_id: int | None = None, task: str | None = None) -> Any:
        """The untuned rule as an unfitted :class:`~imbalance.thresholds.FixedThreshold` (``None`` for a tuned
        candidate).

        >>> Candidate("oversample", "0.5").decision()
        FixedThreshold(0.5)
        """
        if self.rule is None:
            return None
        from imbalance.thresholds import FixedThreshold

        return FixedThreshold(self.rule if self.rule == "argmax" else float(self.rule), class_id=class_id, task=task)

    def __repr__(self) -> str:
        return f"Candidate({self.strategy!r}, {self.rule!r})"


def _rule_text(rule: Any) -> str | None:
    """The spelling of a rule given as None, ``"0.5"``, ``0.5``, ``"argmax"`` or a FixedThreshold."""
    if rule is None:
        return None
    if hasattr(rule, "rule") and not isinstance(rule, str):  # a FixedThreshold
        rule = rule.rule
    if isinstance(rule, (int, float)) and not isinstance(rule, bool) and float(rule) == 0.5:
        return "0.5"
    if rule in RULES:
        return str(rule)
    raise ValueError(f"`rule` must be None (tuned) or one of {', '.join(RULES)}. Received: rule={rule!r}")


def split_candidate(name: str) -> tuple[str, str | None]:
    """``"oversample@0.5"`` -> ``("oversample", "0.5")``; ``"oversample"`` (tuned threshold) -> ``("oversample",
    None)``.

    >>> split_candidate("cb_focal@argmax"), split_candidate("baseline")
    (('cb_focal', 'argmax'), ('baseline', None))
    """
    strategy, _, rule = str(name).partition("@")
    return strategy, rule or None


def describe_rule(rule: str) -> str:
    """How an untuned candidate decides, in words: ``"probability 0.5"`` or ``"argmax"``."""
    return "probability 0.5" if rule == "0.5" else rule


def decision_rule(task: str, objective: "Objective", class_id: int | None) -> str | None:
    """The untuned rule that competes beside each tuned threshold: ``"0.5"`` (binary, multi-label) or ``"argmax"``
    (multi-class with ``class_id``) for F-beta and cost objectives; ``None`` for constraints (only met by a tuned
    threshold) and for multi-class data without ``class_id`` (already decided at argmax).

    >>> from imbalance.thresholds import parse_objective
    >>> decision_rule("binary", parse_objective("f1"), None), decision_rule("binary", parse_objective("recall@precision>=0.9"), None)
    ('0.5', None)
    """
    if objective.kind not in ("fbeta", "cost"):
        return None
    if task == "multiclass":
        return "argmax" if class_id is not None else None
    return "0.5"


def candidate_runs(runs: Sequence["RunRecord"], rule: str | None, objective: "Objective") -> list["RunRecord"]:
    """The runs as candidate records: each tuned run (``decision: "tuned"``) followed by the same run at the
    untuned decision ``rule`` (strategy ``"s@<rule>"``), scored from the untuned fields recorded on the same test
    rows. Without a rule the runs are returned as they are."""
    if rule is None:
        return list(runs)
    out = []
    for r in runs:
        out.append(r.as_tuned())
        fixed = r.at_rule(rule, objective)
        if fixed is not None:  # None: a record from before the untuned fields existed
            out.append(fixed)
    return out
