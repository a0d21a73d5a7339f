"""Docs that are generated from the code, or checked against it, say what the code does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_config_docs_match_the_code() -> None:
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "config_docs.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_import_contract_holds_and_is_checked(tmp_path: Path) -> None:
    """scripts/check_imports.py passes on the tree, and fails on a tree that breaks a rule."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import check_imports
    finally:
        sys.path.pop(0)
    assert check_imports.violations() == []
    for pkg in ("simtune_core", "targets", "evaluators", "orchestrator"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "targets" / "bad.py").write_text("from orchestrator import results\n")
    (tmp_path / "evaluators" / "sneaky.py").write_text(
        "def f():\n    from orchestrator.controller import Controller\n")
    (tmp_path / "orchestrator" / "report.py").write_text("import orchestrator.controller\n")
    (tmp_path / "orchestrator" / "x.py").write_text("from evaluators._base import Evaluator\n")
    (tmp_path / "simtune_core" / "y.py").write_text("import targets\n")
    found = check_imports.violations(tmp_path)
    text = "\n".join(found)
    assert "targets/bad.py:1: targets must not import orchestrator" in text
    assert "evaluators/sneaky.py:2: evaluators must not import orchestrator" in text
    assert "orchestrator/report.py:1: only the CLI imports the controller" in text
    assert "orchestrator/x.py:1: private module of another package" in text
    assert "simtune_core/y.py:1: simtune_core must not import targets" in text


def test_every_failure_reason_is_documented() -> None:
    from simtune_core.record import Reason

    text = (REPO / "docs" / "reliability.md").read_text()
    missing = [r.value for r in Reason if f"`{r.value}`" not in text]
    assert missing == [], f"docs/reliability.md does not name: {missing}"
