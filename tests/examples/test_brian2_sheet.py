"""brian2_sheet: the E/I network in Brian2 through the python evaluator (slow: ~75 s).

Runs in the current interpreter when Brian2 imports, else is skipped with the reason: Brian2 2.9
calls ``numpy.ndarray.ptp``, which NumPy 2.4 removed, so it needs ``numpy<2.4`` (this project's
main environment has NumPy 2.4). Run it in an environment with the ``brian2`` extra, e.g.::

    python -m venv .venv-brian2
    .venv-brian2/bin/pip install "numpy<2.4" brian2 pytest pytest-timeout -e .
    .venv-brian2/bin/python -m pytest -m slow tests/examples/test_brian2_sheet.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples.conftest import assert_improves, import_or_skip, run

pytestmark = pytest.mark.slow


def test_brian2_sheet(example, tmp_path: Path) -> None:
    import_or_skip("brian2", "optional extra; Brian2 2.9 needs numpy<2.4 (it calls "
                   "numpy.ndarray.ptp, removed in NumPy 2.4)")
    cfg = example("brian2_sheet", optimizer={"offspring_size": 4, "max_ngen": 3, "seed": 1},
                  evaluator={"options": {"duration_ms": 500.0}})
    df = run(cfg, tmp_path / "run")
    assert (df["status"] == "ok").all(), df[["status", "reason", "detail"]]
    assert_improves(df)
