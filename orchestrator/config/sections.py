"""Every config option, declared once: type, default, meaning and check (docs/config.md is
generated from these classes by ``scripts/config_docs.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from orchestrator.config.schema import Check, option

__all__ = ["CleanupConfig", "EvaluatorConfig", "ExecutorConfig", "GateEntry", "OptimizerConfig",
           "ReferenceConfig", "SlurmConfig", "TargetConfig", "TargetEntry", "TopLevel"]


def _at_least(lo: int, what: str = "an integer") -> Check:
    return (lambda v: v >= lo, f"{what} >= {lo}")


def _one_of(*names: str) -> Check:
    listed = ", ".join(f"'{n}'" for n in names[:-1]) + f" or '{names[-1]}'"
    return (lambda v: v in names, listed if len(names) > 1 else f"'{names[0]}'")


def _positive_or_null() -> Check:
    return (lambda v: v is None or v > 0, "a number > 0 or null")


@dataclass(frozen=True, kw_only=True)
class TopLevel:
    """The keys of a config file (a schema: the sections have their own classes)."""

    name: str | None = option(None, "run name (default run directory `runs/<name>`); no `/`, "
                              "no leading `.`", type_doc="string",
                              default_doc="the config file's name")
    parameters: dict[str, Any] = option(doc="the parameters, below", type_doc="mapping")
    centroid: dict[str, Any] | None = option(
        None, "start point of the search (free parameters only, within their bounds)",
        type_doc="mapping", default_doc="middle of the bounds")
    targets: list[Any] = option(doc="what the model must show, below", type_doc="list")
    optimizer: dict[str, Any] = option(doc="the search, below", factory=dict,
                                       type_doc="mapping")
    executor: dict[str, Any] = option(doc="where and how long evaluations run, below",
                                      factory=dict, type_doc="mapping")
    evaluator: dict[str, Any] = option(doc="what runs one simulation, below "
                                       "(docs/evaluators.md)", type_doc="mapping")
    cleanup: dict[str, Any] = option(doc="which data stores are kept, below", factory=dict,
                                     type_doc="mapping")
    repeats: int = option(
        1, "run each candidate this many times with seeds `simulation_seed + r` (the same "
        "seeds for every candidate: common random numbers); a target's value is the mean over "
        "repeats, its standard deviation is recorded (`std.<target>`)",
        check=_at_least(1))
    simulation_seed: int = option(0, "first simulation seed", check=_at_least(0))
    reference: dict[str, Any] | None = option(
        None, "`{parameters: {name: value}}`: simulate these parameters once before the first "
        "generation; every target's value there becomes its target value (fit to a reference "
        "model)", type_doc="mapping")
    gates: list[Any] | None = option(
        None, "early-abort gates, checked while a simulation runs: the first that fires stops "
        "it, recorded `aborted` (below)", type_doc="list")


@dataclass(frozen=True, kw_only=True)
class GateEntry:
    """The keys of one entry of ``gates`` (a schema, like :class:`TargetEntry`)."""

    after: str = option(doc="a segment kind (`spontaneous`, `grating`, ...): the gate is checked "
                        "once a segment of this kind is published, and again after every later "
                        "one", type_doc="string")
    target: str | None = option(
        None, "the name of one of `targets` (its value is computed on the segments published "
        "so far)", type_doc="string", default_doc="required unless `explosion`")
    above: float | None = option(None, "fire when the target's value is greater",
                                 type_doc="number", default_doc="null")
    below: float | None = option(None, "fire when the target's value is smaller",
                                 type_doc="number", default_doc="null")
    explosion: bool = option(False, "`true`: fire when the store's `explosion` flag is set "
                             "(instead of `target`)", type_doc="true or false")


@dataclass(frozen=True, kw_only=True)
class TargetEntry:
    """The keys of one entry of ``targets`` (a schema; the options of the class come on top)."""

    cls: str = option(doc="a built-in target class (docs/targets.md) or `module.path:ClassName` "
                      "of your own subclass of `targets.Target` (a module beside the config is "
                      "found)", type_doc="string", key="class")
    target_value: float | None = option(
        None, "what the value should be; `[low, high]` means a range",
        type_doc="number or `[low, high]`", default_doc="required (unless `reference`)")
    kind: str | None = option(
        None, "how a single number is compared (below); a `[low, high]` target value is always "
        "a range", type_doc="`exact`, `at_least`, `at_most`, `range`",
        default_doc="the class's own")
    norm: float = option(doc="the deviation that costs one score point", type_doc="number > 0")
    max_score: float = option(
        20.0, "cap on the score; also the score of a missing, NaN or uncomputable value and of "
        "every target of a failed evaluation", check=(lambda v: v > 0, "a number > 0"))
    sheet_name: str | None = option(
        None, "the population the target reads (required by classes that need one)",
        type_doc="string")
    name: str | None = option(
        None, "the column name in results (`value.<name>`, `score.<name>`); unique",
        type_doc="string", default_doc="`Class[sheet]`")

    @staticmethod
    def keys() -> tuple[str, ...]:
        """The YAML key of each field (``class`` is a Python keyword)."""
        from dataclasses import fields

        return tuple(f.metadata.get("key") or f.name for f in fields(TargetEntry))


@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer``: the search over the unit cube of the free parameters (docs/optimizer.md)."""

    offspring_size: int = option(12, "evaluations per generation (submitted together, one "
                                 "SLURM array)", check=_at_least(1))
    sigma: float = option(0.1, "initial step size in the normalised space (fraction of each "
                          "parameter's range); chosen by measurement (docs/optimizer.md)",
                          check=(lambda v: 0 < v <= 1, "a number in (0, 1]"))
    seed: int = option(1, "optimizer seed: same config and seed, the same sequence of "
                       "parameter sets")
    max_ngen: int = option(50, "generations to run (`simtune resume RUN_DIR --max-ngen N` "
                           "changes it); in `async` mode the budget is `max_evaluations`, or "
                           "`max_ngen × offspring_size` without it", check=_at_least(1))
    max_evaluations: int | None = option(
        None, "stop after this many evaluations (both modes; generational: the last batch is "
        "cut to fit)", check=(lambda v: v is None or v >= 1, "an integer >= 1 or null"))
    mode: str = option(
        "generational", "`generational`: a batch of `offspring_size` at a time, each waiting "
        "for its slowest evaluation; `async`: `executor.max_parallel` evaluations always in "
        "flight, a new point asked as each one finishes (CMA-ES told `popsize` results at a "
        "time, in the order they finish; docs/optimizer.md)",
        check=_one_of("generational", "async"))
    popsize: int | None = option(
        None, "CMA population, independent of the batch: a batch of 20 with `popsize` 10 is two "
        "CMA generations, `popsize` 30 spans batches; with `screen_factor` > 1 it must exceed "
        "`offspring_size`", check=(lambda v: v is None or v >= 2, "an integer >= 2 or null"),
        default_doc="half of `offspring_size` (the whole batch below 8, at least 4); "
        "`screen_factor × offspring_size` when pre-screening")
    cma_options: dict[str, Any] = option(
        doc="passed to pycma's `CMAOptions`, checked at load by building the CMA-ES once (a typo "
        "or a value pycma cannot use is an error); `seed`, `bounds`, `popsize`, "
        "`verb_filenameprefix` are set by simtune", factory=dict)
    failure_policy: str = option(
        "impute", "what CMA is told for a failed evaluation (the record always keeps "
        "`max_score` on every target): a runaway (explosion, NaN, timeout, out of memory, a "
        "gate's abort, or every target capped) is told as worse than every finished evaluation; a crash "
        "(anything else) is told the model's prediction with `impute`, like a runaway with "
        "`penalize`; `max_score` tells the capped total (the mozaik tool's behaviour)",
        check=_one_of("impute", "penalize", "max_score"))
    stop_on_convergence: bool = option(False, "also stop on pycma's own criteria (tolx, "
                                       "tolfun, ...) before `max_ngen`")
    algorithm: str = option(
        "cma", "`cma`: pycma's CMA-ES on the total score; `nsga2`: DEAP's NSGA-II with every "
        "target an objective (`simtune export --pareto`, the report's Pareto figure)",
        check=_one_of("cma", "nsga2"))
    surrogate: str = option(
        "composite", "`composite`: a model of each target's value composed through the exact "
        "score function, undefined values and runaways as a feasibility region; `lq`: pycma's "
        "linear-quadratic model of the summed squared target scores (the previous default; "
        "measurements in docs/optimizer.md); `none`. The model's best point is offered to CMA "
        "(`inject_model_optimum`) and it can pre-screen candidates (`screen_factor`)",
        check=_one_of("lq", "composite", "none"))
    screen_factor: float = option(
        1.0, "sample this many times the batch and simulate the points the model rates best "
        "(1 = no screening; measured no gain, docs/optimizer.md)",
        check=(lambda v: 1 <= v <= 20, "a number in [1, 20]"))
    inject_model_optimum: bool = option(
        True, "offer the model's best point to CMA once per batch: with `composite` its "
        "minimum within the search distribution, while it ranks new evaluations well; with "
        "`lq` the quadratic's minimiser where it is positive definite, else its best of 1000 "
        "samples of the search distribution")
    restarts: int = option(
        0, "IPOP-CMA-ES: when pycma's own stop criteria fire, restart from a uniform random "
        "point with the initial `sigma` and `incpopsize` × the population, at most this many "
        "times", check=_at_least(0))
    incpopsize: float = option(2.0, "population factor per restart",
                               check=(lambda v: 1 <= v <= 10, "a number in [1, 10]"))

    @property
    def screens(self) -> bool:
        """Whether a surrogate pre-screens (``screen_factor > 1`` with a model)."""
        return self.surrogate != "none" and self.screen_factor > 1

    def cma_popsize(self) -> int:
        """The CMA population: ``popsize``, else ``screen_factor x batch`` when pre-screening,
        else half the batch (two CMA generations per batch; docs/optimizer.md), the whole batch
        below 8, and never below 4 (a small batch then spans CMA generations)."""
        batch = self.offspring_size
        if self.popsize:
            return int(self.popsize)
        if self.screens:
            return max(batch + 1, int(round(self.screen_factor * batch)))
        return batch // 2 if batch >= 8 else max(batch, 4)


@dataclass(frozen=True)
class SlurmConfig:
    """``executor.slurm``: per-evaluation resources of the SLURM job array."""

    partition: str | None = option(None, "`--partition`", default_doc="the cluster's default")
    account: str | None = option(None, "`--account`")
    cpus_per_task: int = option(1, "`--cpus-per-task`", check=_at_least(1))
    tasks_per_node: int = option(1, "`--ntasks-per-node` (MPI ranks)", check=_at_least(1))
    nodes: int = option(1, "`--nodes`", check=_at_least(1))
    mem_gb: float | None = option(None, "`--mem`", check=_positive_or_null())
    gres: str | None = option(None, "`--gres`")
    additional_parameters: dict[str, Any] = option(
        doc="any other sbatch option (`{constraint: haswell, qos: long}`)", factory=dict)
    setup: list[str] = option(
        doc="shell lines run before each job (module loads, venv activation), written by you, "
        "never built from parameter values", factory=list)
    signal_delay_s: int = option(
        60, "SLURM signals the job's batch shell this long before its limit; the job logs a "
        "warning and runs on to the real limit (recorded `timeout`)")
    python: str | None = option(None, "Python on the compute nodes",
                                default_doc="the controller's interpreter")
    max_array_size: int | None = option(
        None, "tasks per job array: a larger batch is submitted as several arrays, every index "
        "below this (SLURM's `MaxArraySize` caps the index, not the count; docs/slurm.md)",
        check=(lambda v: v is None or v >= 2, "an integer >= 2 or null"),
        default_doc="the cluster's `MaxArraySize` (`scontrol show config`)")
    max_submit_jobs: int | None = option(
        None, "most jobs of the user pending + running at once (each array task counts); the "
        "rest wait in the controller and are submitted as jobs leave the queue",
        check=(lambda v: v is None or v >= 1, "an integer >= 1 or null"),
        default_doc="the user's `MaxSubmitJobs` (association and QOS, `sacctmgr`), else none")
    scheduler_retry_s: float = option(
        600.0, "how long `sbatch`/`scancel` (`scancel`: at most 60 s) are retried, with "
        "exponential back-off, while the scheduler fails transiently (socket time-outs, "
        "slurmctld down or restarting) before the evaluations are recorded `submit_failed`",
        check=(lambda v: v >= 0, "a number >= 0"))
    max_poll_interval_s: float | None = option(
        None, "the longest interval between two scheduler queries: it grows x1.5 from "
        "`poll_interval_s` while nothing changes and snaps back on news",
        check=_positive_or_null(), default_doc="10 × `poll_interval_s`, at most 60 s")


@dataclass(frozen=True)
class ExecutorConfig:
    """``executor``: where evaluations run and how long they may take."""

    kind: str = option(
        "local", "`local`: a process per evaluation, started directly (its own process group, "
        "pid as job id); `debug`: in the controller's process (submitit's DebugExecutor), no time "
        "limit; `slurm`: one job array per generation "
        "(docs/slurm.md). `simtune run --executor local` turns a SLURM config into a local dry "
        "run", check=(lambda v: v in ("local", "debug", "slurm"),
                      "one of 'local', 'debug', 'slurm'"))
    time_limit_s: float = option(3600.0, "per-evaluation limit (SLURM `--time`, rounded up to "
                                 "minutes); over it the evaluation is `timeout`",
                                 check=(lambda v: v > 0, "a number > 0"))
    generation_timeout_s: float | None = option(
        None, "a job still running this long **after it started** is cancelled and recorded as "
        "`timeout`", check=_positive_or_null())
    pending_limit_s: float | None = option(
        None, "a job still pending this long after submission is cancelled and recorded as "
        "`never_started`", check=_positive_or_null())
    max_parallel: int | None = option(
        None, "local: processes at once; slurm: jobs of an array at once (`--array=...%N`)",
        check=(lambda v: v is None or v >= 1, "an integer >= 1 or null"),
        default_doc="the CPU count (local), unlimited (slurm)")
    pack: int = option(
        1, "slurm: evaluations per array task, run side by side on `pack x cpus_per_task` CPUs "
        "(and `pack x mem_gb`), each with its own directory, record, time limit and failure "
        "reason: one job per `pack` evaluations for short simulations (docs/slurm.md)",
        check=_at_least(1))
    poll_interval_s: float = option(
        1.0, "how often job states are queried (one bulk query for all jobs); finished results "
        "are noticed within 0.1–0.25 s regardless",
        check=(lambda v: 0 < v <= 60, "a number in (0, 60]"))
    slurm: SlurmConfig = option(doc="per-evaluation resources, below", factory=SlurmConfig,
                                type_doc="mapping")

    def parallel_limit(self) -> int | None:
        """How many evaluations may run at once: ``max_parallel``, else the CPU count for the
        local executor and no limit of simtune's own on SLURM."""
        if self.max_parallel is not None:
            return int(self.max_parallel)
        return (os.cpu_count() or 1) if self.kind == "local" else None


@dataclass(frozen=True)
class CleanupConfig:
    """``cleanup``: which evaluation directories keep their data stores."""

    keep_best: int = option(
        5, "exactly the data stores of the best k evaluations so far exist after each "
        "generation, the others are deleted (−1 keeps all); task and result files are always "
        "kept", check=_at_least(-1))
    keep_failed: bool = option(False, "keep whatever failed evaluations left behind (for "
                               "triage; not counted in `keep_best`)")


@dataclass(frozen=True)
class EvaluatorConfig:
    """``evaluator``: what runs one simulation. ``options`` are the kind's own keys."""

    kind: str
    options: dict[str, Any] = option(factory=dict)
    #: the segment kinds the evaluator writes, where it says (the ``gates`` are checked
    #: against them); ``None``: unknown (a user's simulator)
    segment_kinds: frozenset[str] | None = None
    #: why gates could not stop this evaluator early, ``(option, what it must be)``
    #: (:meth:`evaluators.Evaluator.gate_problem`); ``None``: they can
    gate_problem: tuple[str, str] | None = None

    def spec(self) -> dict[str, Any]:
        """The ``{kind, **options}`` mapping the worker builds the evaluator from."""
        return {"kind": self.kind, **self.options}


@dataclass(frozen=True)
class TargetConfig:
    """One validated entry of ``targets``."""

    name: str
    cls: str
    kind: str
    target_value: float | tuple[float, float]
    norm: float
    max_score: float
    sheet_name: str | None
    options: dict[str, Any]

    def term(self) -> tuple[str, Any, float, float]:
        """``(kind, target_value, norm, max_score)``: how the target scores its value (the
        composite surrogate's terms)."""
        return self.kind, self.target_value, self.norm, self.max_score

    def spec(self) -> dict[str, Any]:
        """The JSON-able mapping the worker builds this target from."""
        tv = list(self.target_value) if isinstance(self.target_value, tuple) else self.target_value
        return {
            "name": self.name, "class": self.cls, "kind": self.kind, "target_value": tv,
            "norm": self.norm, "max_score": self.max_score, "sheet_name": self.sheet_name,
            "options": dict(self.options),
        }


@dataclass(frozen=True)
class ReferenceConfig:
    """``reference``: simulate these parameters once; their target values become the targets."""

    parameters: dict[str, float] = option(factory=dict)
