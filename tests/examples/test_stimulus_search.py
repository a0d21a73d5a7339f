"""stimulus_search: black-box MEI and MDS search on the embedded V1 model, one run per group."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from tests.examples.conftest import assert_improves, run

SMALL = {"optimizer": {"offspring_size": 6, "max_ngen": 3, "seed": 1},
         "evaluator": {"options": {"stimulus_ms": 250.0}}, "repeats": 1,
         # in-process: 0.2 s simulations would spend most of their time starting processes
         "executor": {"kind": "debug"}}


def test_most_exciting_input(example, tmp_path: Path) -> None:
    df = run(example("stimulus_search", **SMALL), tmp_path / "run")
    assert (df["status"] == "ok").all()
    assert_improves(df)


def test_fan_out_most_discriminative(example, tmp_path: Path) -> None:
    cfg = example("stimulus_search", **SMALL)
    sys.path.insert(0, str(cfg.parent))
    try:
        import fan_out
    finally:
        sys.path.remove(str(cfg.parent))
    paths = fan_out.write_configs("mds", 4, 1.6, cfg.parent, base_path=cfg)
    assert [p.name for p in paths] == [f"search_mds_ori{g}.yaml" for g in range(4)]
    # one group's search, run like any config (the others differ only in the group)
    df = run(paths[2], tmp_path / "run_mds2")
    assert (df["status"] == "ok").all()
    assert_improves(df)
    # the value is the MDS loss: bounded below by -log(K + 1)
    assert (df["value.mds_ori2"] > -math.log(4) - 1e-9).all()
    del sys.modules["fan_out"]
