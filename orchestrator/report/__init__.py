"""``simtune report RUN_DIR``: figures and a one-page summary of a run, from what is on disk.

* :mod:`.data` -- what the report knows about a run (:func:`load_run`) and the reductions the
  figures plot;
* :mod:`.figures` -- one ``plot_*`` function per figure (the analysis notebook calls them too);
* :mod:`.summary` -- ``index.md`` and :func:`write_report`.

It takes no lock and works on a live run: it reads the results table and ``generations.jsonl``
and adds the ``result.json`` files of the generation in flight. A run whose evaluations all
failed still gets every figure (annotated where there is nothing to plot).
"""

from __future__ import annotations

from orchestrator.report.data import (
    MAX_GEN_BINS,
    PARETO_POOL,
    ParamInfo,
    RunData,
    RunInfo,
    TargetInfo,
    best_rows,
    correlation_matrix,
    failure_table,
    generation_table,
    last_covariance,
    load_run,
    pareto_data,
    population_histograms,
    read_generations,
    search_correlation,
    slot_occupancy,
    utilisation,
)
from orchestrator.report.figures import (
    DPI,
    FIGURES,
    plot_best_scores,
    plot_best_values,
    plot_correlation,
    plot_covariance,
    plot_failures,
    plot_pareto,
    plot_population,
    plot_scores,
    plot_sigma,
    plot_slots,
    wrap,
)
from orchestrator.report.summary import REPORT_DIR, Report, summary_markdown, write_report

__all__ = [
    "DPI", "FIGURES", "MAX_GEN_BINS", "PARETO_POOL", "REPORT_DIR", "ParamInfo", "Report", "RunData",
    "RunInfo", "TargetInfo", "best_rows", "correlation_matrix", "failure_table",
    "generation_table", "last_covariance", "load_run", "pareto_data", "plot_best_scores",
    "plot_best_values", "plot_correlation", "plot_covariance", "plot_failures", "plot_pareto",
    "plot_population", "plot_scores", "plot_sigma", "plot_slots", "population_histograms",
    "read_generations", "search_correlation", "slot_occupancy", "summary_markdown",
    "utilisation", "wrap", "write_report",
]
