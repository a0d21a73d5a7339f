"""Each figure of ``simtune report`` plots the data it says it plots (checked on its artists)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from orchestrator import report
from orchestrator.cli import main
from orchestrator.report import (
    best_rows,
    correlation_matrix,
    failure_table,
    generation_table,
    load_run,
    pareto_data,
    population_histograms,
    search_correlation,
    wrap,
)
from tests.analysis.conftest import CONFIG, make_run

LONG = ["ParameterExpressionOfTheSynapticWeightRatio[V1_Exc_L4]",
        "OrientationTuningPreferenceTarget[V1_Inh_L23]"]


@pytest.fixture(scope="module")
def rich_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four targets (two with long names), failures in some generations."""
    raw = copy.deepcopy(CONFIG)
    raw["name"] = "rich"
    raw["targets"] += [
        {"class": "ParameterExpression", "name": LONG[0], "expression": "a / (b + 0.1)",
         "target_value": [0.4, 0.6], "norm": 0.1},
        {"class": "ParameterExpression", "name": LONG[1], "expression": "c * tau",
         "kind": "exact", "target_value": 2.0, "norm": 0.5},
    ]
    raw["optimizer"] = {"offspring_size": 8, "seed": 11, "max_ngen": 4}
    raw["evaluator"] = {"kind": "python", "function": "tests.helpers.sims:misbehave",
                        "options": {"mode": "exception", "when": "b>1.05"}}
    return make_run(tmp_path_factory.mktemp("rich"), raw)


@pytest.fixture(scope="module")
def data(rich_run: Path) -> report.RunData:
    d = load_run(rich_run)
    assert (d.results.status != "ok").any() and (d.results.status == "ok").any()
    return d


def _unwrapped(label: str) -> str:
    return label.replace("\n", "")


def test_wrap_never_shortens() -> None:
    names = LONG + ["x", "spont_rate_of_the_excitatory_population_in_layer_4", "a" * 70,
                    "IrregularityTarget[exc]#2", "CamelCaseWithoutBrackets"]
    for n in names:
        for width in (8, 16, 30):
            w = wrap(n, width)
            assert _unwrapped(w) == n
            assert "…" not in w


def test_best_scores_bars_are_the_best_evaluations_scores(data: report.RunData) -> None:
    ax = report.plot_best_scores(data).axes[0]
    best = best_rows(data.results).iloc[0]
    names = [t.name for t in data.info.targets]
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths, [best[f"score.{n}"] for n in names])
    assert [_unwrapped(t.get_text()) for t in ax.get_yticklabels()] == names  # whole names


def test_best_values_markers_are_the_best_evaluations_values(data: report.RunData) -> None:
    fig = report.plot_best_values(data)
    best = best_rows(data.results).iloc[0]
    for t, ax in zip(data.info.targets, fig.axes):
        value = best[f"value.{t.name}"]
        markers = [ln for ln in ax.lines if ln.get_marker() == "o"]
        assert len(markers) == 1
        assert markers[0].get_xdata()[0] == pytest.approx(value)
        assert _unwrapped(ax.get_title().split("\n")[0] + ax.get_title().split("\n")[1]
                          ).startswith(t.name[:20])
        assert t.name in _unwrapped("".join(ax.get_title().split("\nvalue")[0]))


def test_correlation_heat_map_is_the_signed_matrix(data: report.RunData) -> None:
    ax = report.plot_correlation(data).axes[0]
    im = ax.images[0]
    r = correlation_matrix(data.results, data.info).to_numpy()
    np.testing.assert_allclose(np.ma.filled(im.get_array(), np.nan), r, equal_nan=True)
    assert im.get_clim() == (-1, 1)
    assert np.nanmin(r) < 0 < np.nanmax(r)  # signed: both signs present on this run
    labels = [_unwrapped(t.get_text()) for t in ax.get_xticklabels()]
    assert labels == [t.name for t in data.info.targets]


def test_covariance_figure_is_the_signed_correlation_of_the_last_covariance(
        data: report.RunData) -> None:
    ax = report.plot_covariance(data).axes[0]
    gen, cov = data.covariance
    assert gen == 3
    corr, std = search_correlation(cov)
    np.testing.assert_allclose(ax.images[0].get_array(), corr)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert ax.images[0].get_clim() == (-1, 1)
    assert f"after generation {gen}" in ax.get_title()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert [lb.split(" (sd")[0] for lb in labels] == [p.name for p in data.info.free]
    assert [float(lb.split("sd ")[1].rstrip(")")) for lb in labels] == pytest.approx(
        std, rel=0.05)


def test_population_panels_are_the_histograms_in_fractions_of_the_bounds(
        data: report.RunData) -> None:
    fig = report.plot_population(data)
    _, _, hists = population_histograms(data.results, data.info)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == len(data.info.free)
    for p, ax in zip(data.info.free, panels):
        np.testing.assert_allclose(np.ma.filled(ax.images[0].get_array(), np.nan),
                                   hists[p.name], equal_nan=True)
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "0.5", "1"]
        assert f"[{p.low:.3g}, {p.high:.3g}]" in ax.get_title()
    assert "0 = low bound, 1 = high bound" in fig.get_suptitle()


def test_failures_are_counted_in_whole_numbers(data: report.RunData) -> None:
    fig = report.plot_failures(data)
    ax = fig.axes[0]
    n_failed = int((data.results.status != "ok").sum())
    assert sum(p.get_height() for p in ax.patches) == n_failed
    t = failure_table(data.results)
    assert int(t.to_numpy().sum()) == n_failed
    ticks = ax.yaxis.get_major_locator().tick_values(0, n_failed)
    assert np.allclose(ticks, np.round(ticks))


def test_pareto_with_many_targets_draws_the_front(data: report.RunData) -> None:
    front, cols, pool = pareto_data(data)
    assert len(cols) == 4 and 0 < len(front) <= pool
    ax = report.plot_pareto(data).axes[0]
    maxes = np.array([t.max_score for t in data.info.targets])
    drawn = [ln.get_ydata() for ln in ax.lines]
    assert len(drawn) == min(50, len(front))
    np.testing.assert_allclose(drawn, front[cols].to_numpy()[:50] / maxes)
    assert f"{len(front)} evaluations on the front" in ax.get_title()
    labels = [_unwrapped(t.get_text()) for t in ax.get_xticklabels()]
    assert labels == [t.name for t in data.info.targets]


def test_pareto_with_two_targets_marks_the_front(finished_run: Path) -> None:
    d = load_run(finished_run)
    front, cols, _ = pareto_data(d)
    ax = report.plot_pareto(d).axes[0]
    ring = next(ln for ln in ax.lines if ln.get_marker() == "o")
    f = front.sort_values(cols[0])
    np.testing.assert_allclose(ring.get_xdata(), f[cols[0]])
    np.testing.assert_allclose(ring.get_ydata(), f[cols[1]])
    assert ax.get_xlabel() == cols[0][6:] and ax.get_ylabel() == cols[1][6:]
    assert f"{len(front)} of {int((d.results.status == 'ok').sum())}" in ax.get_title()


def test_scores_and_sigma_lines_are_the_generation_statistics(data: report.RunData) -> None:
    ax = report.plot_scores(data).axes[0]
    t = generation_table(data.results)
    median = next(ln for ln in ax.lines if ln.get_label() == "median")
    np.testing.assert_allclose(median.get_ydata(), t["median"])
    ax = report.plot_sigma(data).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), data.generations["sigma"])


def test_a_figure_that_cannot_be_drawn_is_reported(rich_run: Path, copy_run, monkeypatch,
                                                   capsys) -> None:
    run = copy_run(rich_run)

    def broken(_data):
        raise RuntimeError("a bug in a figure")

    figures = [(f, h, c, broken if f == "sigma.png" else fn) for f, h, c, fn in report.FIGURES]
    monkeypatch.setattr(report.summary, "FIGURES", figures)
    out = report.write_report(run)
    assert out.failed == ["sigma.png"]
    assert "could not be drawn**: sigma.png" in out.index.read_text()
    assert main(["report", str(run)]) == 1
    assert "sigma.png could not be drawn" in capsys.readouterr().err


def test_slot_occupancy_counts_pending_and_running_at_each_instant() -> None:
    import pandas as pd

    from orchestrator.report.data import slot_occupancy, utilisation

    # submitted, started, finished: a job queued 2 s, one started at once, one never started
    df = pd.DataFrame({"submitted_at": [100.0, 100.0, 104.0],
                       "started_at": [102.0, 100.0, np.nan],
                       "finished_at": [110.0, 106.0, 108.0],
                       "runtime_s": [8.0, 6.0, 0.0]})
    occ = slot_occupancy(df, points=11)  # t = 0, 1, ..., 10 s after the first submission
    assert occ["time_s"].tolist() == [float(i) for i in range(11)]
    assert occ["running"].tolist() == [1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0]
    assert occ["pending"].tolist() == [1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert utilisation(df, slots=2) == pytest.approx(14.0 / (2 * 10.0))


def test_slots_figure_draws_the_occupancy_and_the_slots_line(data: report.RunData) -> None:
    from orchestrator.report.data import slot_occupancy

    fig = report.plot_slots(data)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    occ = slot_occupancy(data.results)
    assert np.array_equal(lines["running"].get_ydata(), occ["running"].to_numpy())
    assert np.array_equal(lines["pending"].get_ydata(), occ["pending"].to_numpy())
    assert data.info.slots == 8 and set(lines[f"slots ({data.info.slots})"].get_ydata()) == {8}
    assert "of the slots busy" in ax.get_title()
    assert occ["running"].max() <= 8
