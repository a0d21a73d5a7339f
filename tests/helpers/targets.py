"""A user-defined target class, loaded by import path (``class: tests.helpers.targets:SeriesMean``)."""

from __future__ import annotations

import numpy as np

from targets import Target


class SeriesMean(Target):
    """Mean of a free-form time series of the store (NaN if the series holds NaN)."""

    kind = "exact"

    def __init__(self, sheet_name: str | None = None, series: str = "signal") -> None:
        super().__init__(sheet_name)
        self.series = series

    def compute(self, store) -> float:
        _, values = store.timeseries(self.series)
        return float(np.mean(values))


class Broken(Target):
    """A target whose computation raises (a bug in a user's target class)."""

    kind = "exact"

    def compute(self, store) -> float:
        raise ZeroDivisionError("the user's formula divided by zero")
