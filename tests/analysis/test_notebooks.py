"""The analysis notebooks run top to bottom against small runs, and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.conftest import REPO, kernel_env

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = REPO / "notebooks"


def _execute(name: str, run_dir: Path) -> object:
    for attempt in (1, 2):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        client = nbclient.NotebookClient(
            nb, kernel_name="python3", timeout=120, allow_errors=False,
            resources={"metadata": {"path": str(NOTEBOOKS)}})
        try:
            client.execute(env=kernel_env(run_dir))  # CellExecutionError on any cell error
        except RuntimeError as exc:
            # jupyter_client picks free TCP ports, closes them and lets the kernel bind them:
            # another process can take one in between ("Address already in use", the kernel
            # dies before its first reply). That race, once, is a new kernel; nothing else is
            if attempt == 2 or "Kernel died before replying" not in str(exc):
                raise
            continue
        return nb
    raise AssertionError("unreachable")


@pytest.mark.parametrize("name", ["analyze_run.ipynb", "triage_datastores.ipynb"])
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert 'os.environ.get("SIMTUNE_RUN_DIR"' in nb.cells[1].source


def test_analyze_run(finished_run: Path) -> None:
    nb = _execute("analyze_run.ipynb", finished_run)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 8  # the report's figures, displayed inline
    assert str(finished_run.resolve()) in "".join(o.get("text", "") for o in outputs)


def test_triage_datastores(finished_run: Path) -> None:
    nb = _execute("triage_datastores.ipynb", finished_run)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "12 data stores re-scored" in text
    assert "0 differences" in text  # same scoring code path as the evaluations


def test_triage_failed_run(failed_run: Path) -> None:
    nb = _execute("triage_datastores.ipynb", failed_run)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "4 failed evaluations" in text  # the run stopped after its first generation
    assert "the model diverged (injected)" in text
