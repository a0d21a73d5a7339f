"""Load a config: YAML (duplicate keys refused) -> validated, frozen :class:`Config`.

Everything that can be checked before a job is submitted is checked here: unknown keys and types
(:func:`orchestrator.config.schema.build`), the parameter space and its expressions (evaluated
at the centroid), targets and their options (built once), the evaluator (built and checked),
pycma's options (an ES is built and run for one generation on made-up values). Nothing is
written; every error is a :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from orchestrator.config.errors import ConfigError, found
from orchestrator.config.gates import parse_gates
from orchestrator.config.schema import build, default_of
from orchestrator.config.sections import (
    CleanupConfig,
    EvaluatorConfig,
    ExecutorConfig,
    OptimizerConfig,
    ReferenceConfig,
    TargetConfig,
    TopLevel,
)
from orchestrator.config.targets import number, parse_targets
from simtune_core.options import REQUIRED
from simtune_core.userimport import add_user_dir

__all__ = ["Config", "config_from_dict", "load_config"]


@dataclass(frozen=True)
class Config:
    """A validated run configuration."""

    name: str
    space: Any  # orchestrator.space.ParameterSpace
    centroid: dict[str, float]
    targets: tuple[TargetConfig, ...]
    optimizer: OptimizerConfig
    executor: ExecutorConfig
    evaluator: EvaluatorConfig
    cleanup: CleanupConfig
    repeats: int
    simulation_seed: int
    reference: ReferenceConfig | None
    gates: tuple[Any, ...]  # evaluators.gates.Gate: early-abort conditions (docs/config.md)
    base_dir: Path  # folder of the config file: relative paths in options resolve against it
    raw: dict[str, Any]  # the YAML as loaded, saved into the run directory

    @property
    def total_max_score(self) -> float:
        return float(sum(t.max_score for t in self.targets))

    def with_target_values(self, values: Mapping[str, float]) -> Config:
        """A copy whose targets' values are replaced (reference mode)."""
        new = tuple(
            dataclasses.replace(t, target_value=float(values[t.name])) if t.name in values else t
            for t in self.targets
        )
        return dataclasses.replace(self, targets=new)


def _evaluator(data: Any, base_dir: Path) -> EvaluatorConfig:
    """The ``evaluator`` section: its kind, the kind's own options (from its signature), and
    the evaluator built once and checked."""
    import evaluators
    from simtune_core.options import option_names

    if not isinstance(data, dict):
        raise ConfigError("evaluator", "a mapping with 'kind'", data)
    if "kind" not in data:
        raise ConfigError("evaluator.kind", f"one of {sorted(evaluators.EVALUATORS)} (required)",
                          found("nothing"))
    try:
        cls = evaluators.evaluator_class(data["kind"])
    except LookupError as exc:
        raise ConfigError("evaluator.kind", str(exc).split(", found")[0], data["kind"]) from None
    except ImportError as exc:
        raise ConfigError("evaluator.kind", "an installed evaluator",
                          found(f"ImportError: {exc}")) from None
    options = {k: v for k, v in data.items() if k != "kind"}
    allowed = option_names(cls)
    if "base_dir" in allowed and "base_dir" not in options:
        options["base_dir"] = str(base_dir)
    for k in options:
        if k not in allowed:
            valid = ", ".join(f"{n} (default {'required' if d is REQUIRED else repr(d)})"
                              for n, d in allowed.items())
            raise ConfigError(f"evaluator.{k}", f"one of the keys of {data['kind']}: {valid}",
                              found("an unknown key"))
    for n, d in allowed.items():
        if d is REQUIRED and n not in options:
            raise ConfigError(f"evaluator.{n}", f"a value (required by {data['kind']})",
                              found("nothing"))
    try:
        built = cls(**options)
        built.check()
    except Exception as exc:  # noqa: BLE001
        raise ConfigError("evaluator", f"a working {data['kind']} evaluator",
                          found(f"{type(exc).__name__}: {exc}")) from None
    return EvaluatorConfig(data["kind"], options, cls.segment_kinds, built.gate_problem())


def _cma_options(opts: Mapping[str, Any]) -> None:
    if not opts:
        return  # (importing pycma costs ~1 s: not for a config that sets no option)
    import cma

    known = cma.CMAOptions.defaults()
    for k in opts:
        if k not in known:
            raise ConfigError(f"optimizer.cma_options.{k}", "a pycma option (see cma.CMAOptions())",
                              found("an unknown key"))
    reserved = {"seed", "bounds", "popsize", "verb_filenameprefix"}
    for k in reserved & set(opts):
        raise ConfigError(f"optimizer.cma_options.{k}", "no override (simtune sets it)", opts[k])


def _try_cma(oc: OptimizerConfig, dim: int) -> None:
    """Build the CMA-ES once and run one generation on made-up values: an option pycma cannot
    use fails here, naming the key, instead of after the first generation of jobs."""
    import tempfile
    import warnings

    import numpy as np

    from orchestrator.optimizer import make_optimizer

    def attempt(options: dict[str, Any]) -> Exception | None:
        state = np.random.get_state()  # pycma reseeds NumPy's global generator
        try:
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                opt = make_optimizer(dataclasses.replace(oc, cma_options=options,
                                                         surrogate="none"),
                                     [0.5] * dim, 1.0, Path(tmp))
                xs = opt.ask_batch(oc.offspring_size)
                values = np.linspace(0.1, 0.9, len(xs)).tolist()
                opt.tell_batch(xs, values, [None] * len(xs))
                opt.es.stop()  # type: ignore[attr-defined] # evaluates every criterion
        except Exception as exc:  # noqa: BLE001 - whatever pycma raises is the user's answer
            return exc
        finally:
            np.random.set_state(state)
        return None

    if oc.algorithm != "cma" or dim < 2 or attempt(dict(oc.cma_options)) is None:
        return
    for k, v in oc.cma_options.items():
        exc = attempt({k: v})
        if exc is not None:
            raise ConfigError(f"optimizer.cma_options.{k}", "a value pycma accepts",
                              found(f"{v!r}: {type(exc).__name__}: {exc}"[:300]))
    exc = attempt(dict(oc.cma_options))
    raise ConfigError("optimizer.cma_options", "options pycma accepts together",
                      found(f"{type(exc).__name__}: {exc}"[:300]))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode,
                       deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError("config", "unique keys in every mapping",
                              found(f"{key!r} twice (lines {seen[key] + 1} and "
                                     f"{key_node.start_mark.line + 1})"))
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def config_from_dict(raw: Any, base_dir: str | os.PathLike[str] = ".",
                     default_name: str = "run") -> Config:
    """Validate an already-parsed config mapping."""
    from orchestrator.space import ParameterSpace, SpaceError

    if not isinstance(raw, dict):
        raise ConfigError("", "a YAML mapping at the top level", raw)
    top = {f.name: f for f in dataclasses.fields(TopLevel)}
    for key in raw:
        if key not in top:
            valid = ", ".join(f"{k} (default {f.metadata.get('default_doc') or default_of(f)})"
                              for k, f in top.items())
            raise ConfigError(str(key), f"one of the top-level keys: {valid}",
                              found("an unknown key"))
    base = Path(base_dir).resolve()
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError("name", "a non-empty name without '/' or a leading '.'", name)
    if "parameters" not in raw:
        raise ConfigError("parameters", "a mapping name -> [low, high] (required)",
                          found("nothing"))
    try:
        space = ParameterSpace.from_config(raw["parameters"])
    except SpaceError as exc:
        raise ConfigError(exc.path, exc.expected, exc.found) from None
    try:
        centroid = space.centroid(raw.get("centroid"))
        space.check_derived(centroid)
    except SpaceError as exc:
        raise ConfigError(exc.path, exc.expected, exc.found) from None
    optimizer = build(OptimizerConfig, raw.get("optimizer"), "optimizer")
    if optimizer.algorithm == "cma" and space.dim < 2:
        raise ConfigError("parameters", "at least 2 free parameters for CMA-ES (pycma refuses "
                          "1-D problems; add one, or use optimizer.algorithm: nsga2)",
                          found(f"{space.dim} free parameter{'s' if space.dim != 1 else ''}"))
    if (optimizer.algorithm == "nsga2" and optimizer.popsize is not None
            and optimizer.popsize < 2):
        raise ConfigError("optimizer.popsize", "null or >= 2", optimizer.popsize)
    if (optimizer.algorithm == "cma" and optimizer.screens and optimizer.popsize is not None
            and optimizer.popsize <= optimizer.offspring_size):
        raise ConfigError("optimizer.popsize", f"null or > offspring_size "
                          f"({optimizer.offspring_size}) when screen_factor > 1 pre-screens",
                          optimizer.popsize)
    _cma_options(optimizer.cma_options)
    if optimizer.cma_options:
        _try_cma(optimizer, space.dim)
    executor = build(ExecutorConfig, raw.get("executor"), "executor")
    if executor.pack > 1:
        if executor.kind != "slurm":
            raise ConfigError("executor.pack", "1 unless executor.kind is slurm (the local "
                              "executor runs one evaluation per process)", executor.pack)
        if executor.slurm.nodes != 1 or executor.slurm.tasks_per_node != 1:
            raise ConfigError("executor.pack", "1 for multi-node or MPI jobs (slurm.nodes and "
                              "slurm.tasks_per_node must be 1 to pack evaluations)",
                              executor.pack)
    if optimizer.mode == "async":
        if executor.max_parallel is None:
            raise ConfigError("executor.max_parallel", "the number of evaluations kept in "
                              "flight (required with optimizer.mode: async)", found("nothing"))
        if optimizer.algorithm != "cma":
            raise ConfigError("optimizer.algorithm", "'cma' with optimizer.mode: async "
                              "(NSGA-II is generational only)", optimizer.algorithm)
        if optimizer.screen_factor > 1:
            raise ConfigError("optimizer.screen_factor", "1 with optimizer.mode: async "
                              "(pre-screening needs a whole batch)", optimizer.screen_factor)
    cleanup = build(CleanupConfig, raw.get("cleanup"), "cleanup")
    if "evaluator" not in raw:
        raise ConfigError("evaluator", "a mapping with 'kind' (required)", found("nothing"))
    evaluator = _evaluator(raw["evaluator"], base)
    if "targets" not in raw:
        raise ConfigError("targets", "a non-empty list of targets (required)", found("nothing"))
    tgts = parse_targets(raw["targets"], base, has_reference=raw.get("reference") is not None)
    gates = parse_gates(raw.get("gates"), tgts, evaluator.segment_kinds)
    if gates and evaluator.gate_problem is not None:
        key, expected = evaluator.gate_problem
        value: Any = evaluator.options
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        raise ConfigError(f"evaluator.{key}", expected,
                          found("nothing") if value is None else value)
    counts = build(TopLevel, {k: raw[k] for k in ("repeats", "simulation_seed") if k in raw}
                   | {"parameters": {}, "targets": [], "evaluator": {}}, "")
    repeats, sim_seed = counts.repeats, counts.simulation_seed
    reference = None
    if raw.get("reference") is not None:
        reference = build(ReferenceConfig, raw["reference"], "reference")
        for k, v in reference.parameters.items():
            if k not in space.names:
                raise ConfigError(f"reference.parameters.{k}",
                                  f"a parameter name ({', '.join(space.names)})",
                                  found("an unknown parameter"))
            number(v, f"reference.parameters.{k}")
    return Config(
        name=name, space=space, centroid=centroid, targets=tgts, optimizer=optimizer,
        executor=executor, evaluator=evaluator, cleanup=cleanup, repeats=repeats,
        simulation_seed=sim_seed, reference=reference, gates=gates, base_dir=base, raw=raw,
    )


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the YAML config at ``path`` (writes nothing)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config", "an existing YAML file", str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", "a readable UTF-8 file", found(str(exc))) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        # PyYAML notices an unclosed bracket where the next thing starts, a line late: say
        # where the bracket was opened
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark is not None and "flow" in context and (
                mark is None or cmark.line != mark.line):
            what = "[" if "sequence" in context else "{"
            problem += (f" (is the '{what}' opened on line {cmark.line + 1}, column "
                        f"{cmark.column + 1} closed?)")
        raise ConfigError("config", f"valid YAML (error at {where})", found(problem)) from None
    # evaluators and targets may import user modules that live beside the config
    add_user_dir(p.resolve().parent)
    return config_from_dict(raw, p.resolve().parent, default_name=p.stem)
