"""motor_pool: integer + float parameters, rate mean/std, soft penalties, a failing region."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples.conftest import assert_improves, run


def test_motor_pool(example, tmp_path: Path) -> None:
    cfg = example("motor_pool", optimizer={"offspring_size": 6, "max_ngen": 4, "seed": 2},
                  evaluator={"options": {"duration_ms": 500.0}})
    df = run(cfg, tmp_path / "run")
    assert_improves(df)
    # the integer parameter is recorded as a whole number; the derived input rate beside it
    assert (df["param.dd_neurons"] == df["param.dd_neurons"].round()).all()
    # the region input_rate > 60000 Hz raised: recorded as failures, not as a fake score
    failed = df[df["status"] == "failed"]
    assert len(failed) >= 1, "the seed should sample the failing region at least once"
    assert (failed["reason"] == "exception").all()
    assert (failed["param.input_rate"] > 60000).all()
    assert failed["detail"].str.contains("InputRateError").all()
    assert failed["total_score"].tolist() == pytest.approx([4 * 5.0] * len(failed))
    ok = df[df["status"] == "ok"]
    assert (ok["param.input_rate"] <= 60000).all()
    # penalties are recorded like any target: value = distance outside the plausible range
    over = ok[ok["param.conn_probability"] > 0.7]
    assert ((over["value.penalty_connectivity"] - (over["param.conn_probability"] - 0.7)).abs()
            < 1e-9).all()
    assert (ok.loc[ok["param.dd_neurons"] <= 800, "score.penalty_pool_size"] == 0).all()
