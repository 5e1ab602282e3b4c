"""The settings of one comparison, as one typed value, and the id that decides which stored runs it may resume.

>>> from imbalance.experiment.protocol import Protocol
>>> c = ComparisonConfig(data="toy", fingerprint="abc", task="binary", objective="f1", class_id=None, model="mlp",
...                      epochs=2, seeds=1, batch_size=64, learning_rate=3e-3, protocol=Protocol(),
...                      confidence="auto", strategies=("baseline",))
>>> c["epochs"], c.get("class_id"), len(c.config_id)
(2, None, 12)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from imbalance.experiment.protocol import Protocol
from imbalance.experiment.training import Budget

__all__ = ["ComparisonConfig"]


@dataclass(frozen=True)
class ComparisonConfig:
    """What ``compare`` was asked to do: the data (name and fingerprint), the objective, the model, the training
    budget, the :class:`~imbalance.experiment.protocol.Protocol`, the tuner's confidence and the strategies.

    ``config_id`` hashes everything but the strategies, so adding a strategy to a stored comparison trains only
    the new one. ``config.json`` holds :meth:`to_dict`; ``config["epochs"]`` reads it like the dict it once was.
    """

    data: str
    fingerprint: str
    task: str
    objective: str
    class_id: int | None
    model: str
    epochs: int
    seeds: int
    batch_size: int
    learning_rate: float
    protocol: Protocol
    confidence: float | None | str
    strategies: tuple[str, ...]
    early_stopping: int | None = None
    augment: tuple[str, ...] = ()
    augment_classes: tuple[int, ...] = ()
    output: str | None = None

    @property
    def budget(self) -> Budget:
        return Budget(self.epochs, self.batch_size, self.learning_rate, self.early_stopping, self.augment,
                      self.augment_classes)

    def _settings(self) -> dict[str, Any]:
        return {
            "data": self.data, "fingerprint": self.fingerprint, "task": self.task, "objective": self.objective,
            "class_id": self.class_id, "model": self.model, "epochs": self.epochs, "seeds": self.seeds,
            "batch_size": self.batch_size, "learning_rate": self.learning_rate,
            **dataclasses.asdict(self.protocol), "confidence": self.confidence,
            # Settings added later enter the id only when set, so stored comparisons without them still resume.
            **({"early_stopping": self.early_stopping} if self.early_stopping is not None else {}),
            **({"augment": list(self.augment), "augment_classes": list(self.augment_classes)}
               if self.augment else {}),
            **({"output": self.output} if self.output is not None else {}),
        }

    @property
    def config_id(self) -> str:
        return hashlib.sha256(json.dumps(self._settings(), sort_keys=True, default=str).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``config.json``): the settings, the strategies and the id."""
        return {**self._settings(), "strategies": list(self.strategies), "config_id": self.config_id}

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)
