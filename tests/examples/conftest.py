"""Helpers for the example smoke tests: copy an example, shrink its budget, run it, check it.

Each test copies ``param_optim/<example>/`` into ``tmp_path`` (so the run and any config it
writes stay out of the tree), overrides the budget and durations in the copied YAML, and runs
``simtune run`` in-process through ``orchestrator.cli.main``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import yaml

from tests.conftest import deep_update

EXAMPLES = Path(__file__).resolve().parents[2] / "param_optim"


def import_or_skip(module: str, why: str = "") -> Any:
    """Import ``module`` or skip with the reason; unlike ``pytest.importorskip`` it also skips on
    errors other than ImportError (Brian2 2.9 raises AttributeError under NumPy >= 2.4)."""
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"{module} is not usable here: {type(exc).__name__}: {exc}"
                    + (f" ({why})" if why else ""))


@pytest.fixture
def example(tmp_path: Path) -> Callable[..., Path]:
    """``example(name, config=None, **updates)`` -> path of the shrunk config in a copy."""

    def _make(name: str, config: str | None = None, **updates: Any) -> Path:
        src = EXAMPLES / name
        dst = tmp_path / name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "runs"))
        cfg = dst / (config or f"{name}.yaml")
        raw = yaml.safe_load(cfg.read_text())
        cfg.write_text(yaml.safe_dump(deep_update(raw, updates), sort_keys=False))
        return cfg

    return _make


def run(cfg: Path, run_dir: Path) -> pd.DataFrame:
    """Run ``cfg`` into ``run_dir``; returns ``load_results``."""
    from orchestrator import load_results
    from orchestrator.cli import main

    code = main(["run", str(cfg), "--run-dir", str(run_dir), "--no-progress"])
    assert code == 0, f"simtune run exited with {code}"
    return load_results(run_dir)


def assert_improves(df: pd.DataFrame) -> None:
    """The best score of the later generations beats the first generation's best.

    A broken optimizer (one that ignores the scores, e.g. samples around a fixed point) fails this
    for the seeds chosen in the tests: they start far from the optimum.
    """
    best = df.groupby("generation")["total_score"].min()
    assert len(best) >= 2, best
    assert best.iloc[1:].min() < best.iloc[0], f"no improvement over generation 0: {best.tolist()}"
    # and the best-so-far curve ends strictly lower than it starts
    assert best.cummin().iloc[-1] < best.iloc[0]
