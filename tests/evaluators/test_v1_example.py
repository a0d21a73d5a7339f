"""The shipped example (param_optim/v1_sheet.yaml) optimises: the total score improves."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator import load_results
from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_example_config_improves_over_generations(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "param_optim" / "v1_sheet.yaml").read_text())
    # the same model, parameters and nine targets; a smaller budget and a shorter protocol
    raw["optimizer"].update(offspring_size=6, max_ngen=4, seed=1)
    raw["evaluator"]["protocol"].update(spontaneous_ms=1500.0, stimulus_ms=1000.0)
    cfg = tmp_path / "v1.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    df = load_results(tmp_path / "run")
    assert len(df) == 24
    assert len([c for c in df.columns if c.startswith("score.")]) == 9
    best = df.groupby("generation").total_score.min()
    assert best.cummin().iloc[-1] < best.iloc[0], best.to_dict()
    assert best.iloc[-1] < best.iloc[0] - 1.0, best.to_dict()
