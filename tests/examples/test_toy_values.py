"""toy_values: a Python function returns the numbers it computed; ValueTarget scores them."""

from __future__ import annotations

import math
from pathlib import Path

from tests.examples.conftest import assert_improves, run


def test_toy_values_fits(example, tmp_path: Path) -> None:
    cfg = example("toy_values", optimizer={"offspring_size": 8, "max_ngen": 6, "seed": 1},
                  executor={"kind": "debug"})
    df = run(cfg, tmp_path / "run")
    assert (df.status == "ok").all()
    assert_improves(df)
    # the recorded values are the model's own numbers (recomputed here from the formula)
    r = df.iloc[0]
    d, nz = r["param.drive_nA"], r["param.noise_nA"]
    assert abs(r["value.ValueTarget"] - 40.0 * math.log1p(math.exp(4.0 * (d - 0.5)))) < 1.5
    assert abs(r["value.ValueTarget#2"] - nz / (nz + 0.5 * d + 0.05)) < 0.06
    # keep_best: 1 -> exactly one data store is left
    assert len(list((tmp_path / "run" / "evals").rglob("*.h5"))) == 1
