"""Model cards: the evaluation of a trained model, stored with its registered version.

A :class:`~.training.TrainingResult` lives in the kernel that trained it; its card keeps what
it showed (leaderboard, holdout and cross-validated metrics, how the winner was chosen, the
plots' data: confusion matrix, ROC/PR curves, feature importance..., the training spec, notes,
row counts and duration) as plain JSON in the registry, so it outlives the kernel. The plots
are sampled when made (bounded curves and scatters); a card is further bounded to
``MAX_CARD_BYTES`` of JSON by leaving out its largest plots, and says which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import metrics as mt
from .errors import Invalid
from .model_selection import leaderboard_frame

if TYPE_CHECKING:
    from .training import TrainingResult

#: The most JSON a card may hold (a 20-class classifier's card is about 300 kB).
MAX_CARD_BYTES = 2_000_000


@dataclass(frozen=True)
class ModelCard:
    """What a training run showed about the model it produced."""

    task: str
    best_algorithm: str
    primary_metric: str
    selection: dict[str, Any]
    leaderboard: list[dict[str, Any]]
    holdout_metrics: dict[str, Any]
    cv_metrics: dict[str, Any]
    plots: dict[str, Any]
    notes: list[str]
    dropped_columns: list[dict[str, Any]]
    training_spec: dict[str, Any]
    n_rows: dict[str, Any]
    duration_seconds: float | None = None
    tuning: dict[str, Any] | None = None
    #: Plots left out to keep the card within ``MAX_CARD_BYTES``.
    omitted_plots: list[str] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: TrainingResult) -> ModelCard:
        data = result.to_dict()
        values = {f.name: data.get(f.name) for f in fields(cls) if f.name in data}
        values["training_spec"] = data["spec"]
        values["selection"] = data.get("selection") or {}
        return cls(**values).bounded()

    @classmethod
    def from_dict(cls, data: Any) -> ModelCard:
        """A card sent with an uploaded artifact: checked field by field, then bounded."""
        if not isinstance(data, Mapping):
            raise Invalid("The model card must be a JSON object.")
        unknown = sorted(set(data) - set(_TYPES))
        if unknown:
            raise Invalid(f"Unknown model card field(s): {', '.join(unknown)}.", fields=unknown)
        optional = {"duration_seconds", "tuning", "omitted_plots"}
        lacking = [n for n in _TYPES if n not in data and n not in optional]
        if lacking:
            raise Invalid(f"The model card lacks: {', '.join(lacking)}.", fields=lacking)
        for name, value in data.items():
            kind, item = _TYPES[name]
            ok = isinstance(value, kind) and not isinstance(value, bool)
            if ok and item is not None:
                items = value.values() if isinstance(value, dict) else value
                ok = all(isinstance(v, item) for v in items)
            if not ok:
                raise Invalid(f"Model card field '{name}' has the wrong type.", field=name)
        if len(_dumps(mt.json_safe(dict(data)))) > 4 * MAX_CARD_BYTES:
            raise Invalid("The model card is far too large to store.", limit=MAX_CARD_BYTES)
        return cls(**mt.json_safe(dict(data))).bounded()

    def bounded(self) -> ModelCard:
        """This card within ``MAX_CARD_BYTES``: its largest plots left out (named) if need be."""
        card = self
        plots = dict(card.plots)
        omitted = list(card.omitted_plots)
        while len(_dumps(card.to_dict())) > MAX_CARD_BYTES:
            if not plots:
                raise Invalid(
                    "The model card is too large to store, even without its plots.",
                    limit=MAX_CARD_BYTES,
                )
            largest = max(plots, key=lambda name: len(_dumps(plots[name])))
            plots.pop(largest)
            omitted.append(largest)
            card = ModelCard(**{**asdict(card), "plots": plots, "omitted_plots": omitted})
        return card

    def leaderboard_frame(self) -> pd.DataFrame:
        """The stored leaderboard as the DataFrame ``TrainingResult.leaderboard`` was."""
        return leaderboard_frame(self.leaderboard, self.primary_metric)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Each field's JSON type, and its items' type for lists.
_TYPES: dict[str, tuple[Any, Any]] = {
    "task": (str, None),
    "best_algorithm": (str, None),
    "primary_metric": (str, None),
    "selection": (dict, None),
    "leaderboard": (list, dict),
    "holdout_metrics": (dict, None),
    "cv_metrics": (dict, None),
    "plots": (dict, dict),
    "notes": (list, str),
    "dropped_columns": (list, dict),
    "training_spec": (dict, None),
    "n_rows": (dict, None),
    "duration_seconds": ((int, float, type(None)), None),
    "tuning": ((dict, type(None)), None),
    "omitted_plots": (list, str),
}


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))
