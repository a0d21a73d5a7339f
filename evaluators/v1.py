"""The embedded V1 sheet model as an evaluator (``evaluator: {kind: v1_sheet}``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from evaluators._base import DATASTORE_NAME, Evaluator

__all__ = ["V1SheetEvaluator"]


class V1SheetEvaluator(Evaluator):
    """Run :func:`evaluators.models.v1_sheet.simulate` in the worker process.

    Parameters
    ----------
    protocol
        Overrides of the model's stimulus protocol (durations, orientations, contrasts...).
    """

    kind = "v1_sheet"
    segment_kinds = frozenset({"spontaneous", "grating", "disk"})

    def __init__(self, protocol: Mapping[str, Any] | None = None) -> None:
        self.protocol = dict(protocol or {})

    def gate_problem(self) -> tuple[str, str] | None:
        if self.protocol.get("spontaneous_first"):
            return None
        return ("protocol.spontaneous_first", ("true with gates (the model then simulates and "
                "publishes its spontaneous segment before the stimuli; otherwise every segment "
                "is written at the end and no gate can stop the run early)"))

    def check(self) -> None:
        from evaluators.models import v1_sheet  # noqa: F401 - import errors surface at load

    def run(self, parameters: Mapping[str, float], out_dir: Path, seed: int) -> Path | None:
        from evaluators.models import v1_sheet

        return Path(
            v1_sheet.simulate(dict(parameters), Path(out_dir) / DATASTORE_NAME, seed=seed,
                              protocol=self.protocol or None)
        )
