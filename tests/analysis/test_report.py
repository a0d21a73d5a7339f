"""simtune report: every figure is written for finished, live and failed runs (what each figure
plots is checked in test_figures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestrator.cli import main
from orchestrator.report import (
    FIGURES,
    correlation_matrix,
    generation_table,
    load_run,
    population_histograms,
    write_report,
)

FIGURE_FILES = [f[0] for f in FIGURES]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_report(report) -> str:
    assert report.failed == [], "every figure must draw (a placeholder is a failure)"
    index = report.index
    assert index.name == "index.md" and index.parent.name == "report"
    text = index.read_text()
    for name in FIGURE_FILES:
        p = index.parent / name
        assert p.is_file(), name
        data = p.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC), name
        assert f"]({name})" in text
    assert not list(index.parent.glob("*.tmp"))
    return text


def test_finished_run(finished_run: Path) -> None:
    text = _check_report(write_report(finished_run))
    df = load_run(finished_run).results
    best = df[df.status == "ok"].sort_values("total_score").iloc[0]
    assert f"**{best.total_score:.6g}**" in text
    assert "12 in 3 generations (12 ok, 0 failed)" in text
    for p in ("a", "n_syn", "tau", "k", "d"):  # constants and derived in the table too
        assert f"| {p} |" in text
    assert "finished" in text


def test_cli_log_scale(finished_run: Path, copy_run, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(finished_run)
    assert main(["report", str(run), "--log"]) == 0
    assert "report/index.md" in capsys.readouterr().out
    from orchestrator.report import Report

    _check_report(Report(run / "report" / "index.md"))


def test_live_run(live_run: Path) -> None:
    data = load_run(live_run)
    # generations 0-1 from results.jsonl, 2 of generation 2 from its result.json files
    assert sorted(data.results.generation.unique()) == [0, 1, 2]
    assert (data.results.generation == 2).sum() == 2
    assert data.inflight_generation == 2 and data.inflight_done == 2
    assert len(data.generations) == 2  # the torn generations line is skipped
    text = _check_report(write_report(live_run))
    assert "generation 2 in flight, 2 of 4" in text


def test_failed_only_run(failed_run: Path) -> None:
    data = load_run(failed_run)
    assert len(data.results) == 4 and (data.results.status != "ok").all()
    text = _check_report(write_report(failed_run))
    assert "no successful evaluation" in text
    assert "| exception | 4 |" in text


def test_empty_run(finished_run: Path, copy_run) -> None:
    """A run that has not finished any evaluation yet still gets every figure."""
    run = copy_run(finished_run)
    for name in ("results.jsonl", "generations.jsonl", "checkpoint.pkl"):
        (run / name).unlink()
    _check_report(write_report(run))


def test_without_config(finished_run: Path, copy_run) -> None:
    """The config cannot be loaded (e.g. a user module is gone): inferred from the results."""
    run = copy_run(finished_run)
    (run / "config.yaml").write_text("targets: [{class: NoSuchTarget}]\n")
    text = _check_report(write_report(run))
    assert "config not loadable" in text


def test_correlation_constant_columns_are_nan() -> None:
    from orchestrator.report import ParamInfo, RunInfo, TargetInfo

    info = RunInfo("x", [ParamInfo("p", True, 0, 1), ParamInfo("q", True, 0, 1)],
                   [TargetInfo("t", "exact", 0.0, 1.0, 20), TargetInfo("u", "exact", 0, 1, 20)])
    rng = np.random.default_rng(0)
    p = rng.random(50)
    df = pd.DataFrame({"param.p": p, "param.q": np.full(50, 0.1),
                       "score.t": 2 * p + 1, "score.u": np.full(50, 20.0)})
    r = correlation_matrix(df, info)
    assert r.loc["p", "t"] == pytest.approx(1.0)
    assert np.isnan(r.loc["q", "t"]) and np.isnan(r.loc["p", "u"]) and np.isnan(r.loc["q", "u"])
    # matches pandas on a non-degenerate pair
    df["score.u"] = rng.random(50) + p
    r = correlation_matrix(df, info)
    assert r.loc["p", "u"] == pytest.approx(abs(df["param.p"].corr(df["score.u"])))


def test_generation_table_and_histograms(finished_run: Path) -> None:
    data = load_run(finished_run)
    t = generation_table(data.results)
    gens = data.generations.set_index("generation")
    np.testing.assert_allclose(t["min"], gens["min"])
    np.testing.assert_allclose(t["median"], gens["median"])
    np.testing.assert_allclose(t["max"], gens["max"])
    assert (np.diff(t["best_so_far"]) <= 0).all()
    _edges, _, hists = population_histograms(data.results, data.info)
    assert set(hists) == {"a", "b", "c", "n_syn", "tau"}
    for h in hists.values():
        np.testing.assert_allclose(h.sum(axis=0), 1.0)  # each generation sums to 1


def test_torn_results_line_tolerated(finished_run: Path, copy_run) -> None:
    run = copy_run(finished_run)
    with open(run / "results.jsonl", "a") as fh:
        fh.write(json.dumps({"generation": 9})[:7])
    assert len(load_run(run).results) == 12
    _check_report(write_report(run))


def test_read_generations_matches_load_generations(finished_run: Path, live_run: Path) -> None:
    from orchestrator import load_generations
    from orchestrator.report import read_generations

    for run in (finished_run, live_run):
        a, b = read_generations(run), load_generations(run)
        pd.testing.assert_frame_equal(a, b)
        assert "covariance" not in a.columns  # it has its own file


def test_covariance_of_the_last_generation(finished_run: Path, copy_run) -> None:
    """covariance.json holds the last generation's sigma^2 C, whatever the key order of rows;
    a run written before it existed (the covariance a key of each generation row) still reads."""
    from orchestrator.report import last_covariance, read_generations

    gen, cov = last_covariance(finished_run)
    assert gen == 2 and cov.shape == (5, 5)
    np.testing.assert_allclose(cov, cov.T)
    assert (np.linalg.eigvalsh(cov) > 0).all()
    old = copy_run(finished_run)
    (old / "covariance.json").unlink()
    rows = [json.loads(line) for line in (old / "generations.jsonl").open()]
    with open(old / "generations.jsonl", "w") as fh:
        for k, row in enumerate(rows):  # an older writer: covariance first, other keys after
            c = (cov * (k + 1)).tolist()
            fh.write(json.dumps({"covariance": c, **row}) + "\n")
    gen2, cov2 = last_covariance(old)
    assert gen2 == 2
    np.testing.assert_allclose(cov2, cov * 3)
    assert "covariance" not in read_generations(old).columns
    _check_report(write_report(old))


def test_figures_drawn_in_processes_are_the_serial_ones(finished_run: Path, copy_run) -> None:
    """--jobs 2 forks drawing processes: the same PNG bytes as drawing them all here."""
    import shutil

    a = copy_run(finished_run)
    b = a.with_name("copy2")
    shutil.copytree(finished_run, b)
    _check_report(write_report(a, jobs=1))
    _check_report(write_report(b, jobs=2))
    for name in FIGURE_FILES:
        assert (a / "report" / name).read_bytes() == (b / "report" / name).read_bytes(), name


def test_a_figure_that_raises_in_a_drawing_process_is_a_placeholder(
        finished_run: Path, copy_run, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.report import summary

    def broken(data):
        raise ValueError("no such column")

    k = FIGURE_FILES.index("sigma.png")
    figs = list(summary.FIGURES)
    figs[k] = (*figs[k][:3], broken)
    monkeypatch.setattr(summary, "FIGURES", figs)
    run = copy_run(finished_run)
    report = write_report(run, jobs=2)
    assert report.failed == ["sigma.png"]
    assert (run / "report" / "sigma.png").read_bytes().startswith(PNG_MAGIC)
    assert all((run / "report" / n).is_file() for n in FIGURE_FILES)


def test_a_drawing_process_that_dies_costs_no_figure(
        finished_run: Path, copy_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """A drawing process killed (e.g. by the OOM killer): the figures are drawn here instead."""
    import os

    from orchestrator.report import summary

    parent = os.getpid()
    k = FIGURE_FILES.index("pareto.png")
    figs = list(summary.FIGURES)
    real = figs[k][3]

    def dies_in_a_child(data):
        if os.getpid() != parent:
            os._exit(9)
        return real(data)

    figs[k] = (*figs[k][:3], dies_in_a_child)
    monkeypatch.setattr(summary, "FIGURES", figs)
    _check_report(write_report(copy_run(finished_run), jobs=2))


def test_report_jobs_below_one_is_bad_input(finished_run: Path, capsys) -> None:
    assert main(["report", str(finished_run), "--jobs", "0"]) == 2
    assert "--jobs: expected an integer >= 1, found 0" in capsys.readouterr().err
