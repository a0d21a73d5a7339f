"""Load and validate a run configuration (YAML) into frozen dataclasses.

Every option is declared once, as a dataclass field with its type and default; the validator reads
the fields, rejects unknown keys (listing the valid ones with their defaults) and reports every
error as one line naming the key path, what was expected and what was found::

    targets[2].norm: expected a number > 0, found -1

Nothing is written to disk while loading; :func:`load_config` raises :class:`ConfigError`.
The documentation of every key lives in ``docs/config.md``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Union

import yaml

from simtune_core.userimport import add_user_dir

__all__ = [
    "CleanupConfig",
    "Config",
    "ConfigError",
    "EvaluatorConfig",
    "ExecutorConfig",
    "OptimizerConfig",
    "ReferenceConfig",
    "SlurmConfig",
    "TargetConfig",
    "config_from_dict",
    "load_config",
]

TARGET_KEYS = ("class", "name", "kind", "target_value", "norm", "max_score", "sheet_name")


class ConfigError(Exception):
    """A configuration error: ``path: expected ..., found ...``."""

    def __init__(self, path: str, expected: str, found: Any) -> None:
        self.path, self.expected, self.found = path, expected, found
        described = isinstance(found, str) and found.startswith("<") and found.endswith(">")
        shown = found[1:-1] if described else repr(found)
        super().__init__(f"{path or 'config'}: expected {expected}, found {shown}")


def _found(text: str) -> str:
    """Mark a description (not a value) for ConfigError's ``found``."""
    return f"<{text}>"


# a section's own value checks: field name -> (predicate, what was expected)
_Checks = dict[str, tuple[Callable[[Any], bool], str]]


# -- sections -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer``: the search over the unit cube of the free parameters (docs/optimizer.md)."""

    offspring_size: int = 12  # evaluations submitted per generation (the batch)
    sigma: float = 0.1  # initial step size in the normalised [0, 1] space (docs/optimizer.md)
    seed: int = 1
    max_ngen: int = 50
    popsize: int | None = None  # CMA population; null: about half the batch (docs/optimizer.md)
    cma_options: dict[str, Any] = field(default_factory=dict)
    failure_policy: str = "impute"  # impute | penalize | max_score
    stop_on_convergence: bool = False  # honour pycma's own stop criteria (tolx, tolfun...)
    algorithm: str = "cma"  # cma (pycma CMA-ES) | nsga2 (DEAP NSGA-II, every target an objective)
    surrogate: str = "lq"  # lq (pycma's LQModel) | none
    screen_factor: float = 1.0  # CMA population = screen_factor x batch, pre-screened by the model
    inject_model_optimum: bool = True  # offer the surrogate's best point to each CMA generation
    restarts: int = 0  # IPOP restarts when pycma's stop criteria fire (0: none)
    incpopsize: float = 2.0  # population factor per restart

    _checks: ClassVar[_Checks] = {
        "offspring_size": (lambda v: v >= 1, "an integer >= 1"),
        "sigma": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
        "max_ngen": (lambda v: v >= 1, "an integer >= 1"),
        "popsize": (lambda v: v is None or v >= 2, "an integer >= 2 or null"),
        "failure_policy": (lambda v: v in ("impute", "penalize", "max_score"),
                           "'impute', 'penalize' or 'max_score'"),
        "algorithm": (lambda v: v in ("cma", "nsga2"), "'cma' or 'nsga2'"),
        "surrogate": (lambda v: v in ("lq", "none"), "'lq' or 'none'"),
        "screen_factor": (lambda v: 1 <= v <= 20, "a number in [1, 20]"),
        "restarts": (lambda v: v >= 0, "an integer >= 0"),
        "incpopsize": (lambda v: 1 <= v <= 10, "a number in [1, 10]"),
    }


@dataclass(frozen=True)
class SlurmConfig:
    """``executor.slurm``: per-evaluation resources of the SLURM job array."""

    partition: str | None = None
    account: str | None = None
    cpus_per_task: int = 1
    tasks_per_node: int = 1
    nodes: int = 1
    mem_gb: float | None = None
    gres: str | None = None
    additional_parameters: dict[str, Any] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    signal_delay_s: int = 60
    python: str | None = None

    _checks: ClassVar[_Checks] = {
        "cpus_per_task": (lambda v: v >= 1, "an integer >= 1"),
        "tasks_per_node": (lambda v: v >= 1, "an integer >= 1"),
        "nodes": (lambda v: v >= 1, "an integer >= 1"),
        "mem_gb": (lambda v: v is None or v > 0, "a number > 0 or null"),
    }


@dataclass(frozen=True)
class ExecutorConfig:
    """``executor``: where evaluations run and how long they may take."""

    kind: str = "local"  # local | debug | slurm
    time_limit_s: float = 3600.0  # per evaluation (SLURM --time)
    generation_timeout_s: float | None = None  # from each job's start; then cancelled
    pending_limit_s: float | None = None  # a job pending longer is cancelled (never_started)
    max_parallel: int | None = None  # local: processes at once; slurm: array parallelism
    poll_interval_s: float = 1.0
    slurm: SlurmConfig = field(default_factory=SlurmConfig)

    _checks: ClassVar[_Checks] = {
        "kind": (lambda v: v in ("local", "debug", "slurm"), "one of 'local', 'debug', 'slurm'"),
        "time_limit_s": (lambda v: v > 0, "a number > 0"),
        "generation_timeout_s": (lambda v: v is None or v > 0, "a number > 0 or null"),
        "pending_limit_s": (lambda v: v is None or v > 0, "a number > 0 or null"),
        "max_parallel": (lambda v: v is None or v >= 1, "an integer >= 1 or null"),
        "poll_interval_s": (lambda v: 0 < v <= 60, "a number in (0, 60]"),
    }


@dataclass(frozen=True)
class CleanupConfig:
    """``cleanup``: which evaluation directories keep their data stores."""

    keep_best: int = 5  # data stores of the best k evaluations are kept; -1 keeps all
    keep_failed: bool = False  # keep the directories of failed evaluations (logs always kept)

    _checks: ClassVar[_Checks] = {"keep_best": (lambda v: v >= -1, "an integer >= -1")}


@dataclass(frozen=True)
class EvaluatorConfig:
    """``evaluator``: what runs one simulation. ``options`` are the kind's own keys."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """The ``{kind, **options}`` mapping the worker builds the evaluator from."""
        return {"kind": self.kind, **self.options}


@dataclass(frozen=True)
class TargetConfig:
    """One entry of ``targets``."""

    name: str
    cls: str
    kind: str
    target_value: float | tuple[float, float]
    norm: float
    max_score: float
    sheet_name: str | None
    options: dict[str, Any]

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

    parameters: dict[str, float] = field(default_factory=dict)


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


TOP_KEYS = {
    "name": "the config file's stem",
    "parameters": "required",
    "centroid": "middle of the bounds",
    "targets": "required",
    "optimizer": "{}",
    "executor": "{}",
    "evaluator": "required",
    "cleanup": "{}",
    "repeats": 1,
    "simulation_seed": 0,
    "reference": None,
}


# -- generic dataclass validation -------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin is list:
        return "a list of strings"
    if origin is dict:
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif origin is dict:
        if isinstance(value, dict):
            return dict(value)
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    raise ConfigError(path, _type_name(tp), value)


def _build(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from mapping ``data``: unknown keys, types and checks."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, "a mapping", data)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            valid = ", ".join(f"{n} (default {_default_of(f)})" for n, f in fields.items())
            raise ConfigError(f"{path}.{key}" if path else str(key),
                              f"one of the keys: {valid}", _found("an unknown key"))
    checks: _Checks = getattr(cls, "_checks", {})
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(sub, f"{_type_name(hints[name])} (required)", _found("nothing"))
            continue
        value = _coerce(data[name], hints[name], sub)
        if name in checks and not checks[name][0](value):
            raise ConfigError(sub, checks[name][1], data[name])
        kwargs[name] = value
    return cls(**kwargs)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        d = f.default_factory()
        return "{}" if dataclasses.is_dataclass(d) else d
    return "required"


def _number(value: Any, path: str, expected: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(path, expected, value)
    return float(value)


# -- sections with their own rules ------------------------------------------------------------
def _targets(data: Any, base_dir: Path, has_reference: bool = False
             ) -> tuple[TargetConfig, ...]:
    import targets as targets_pkg
    from simtune_core.options import option_names

    if not isinstance(data, list) or not data:
        raise ConfigError("targets", "a non-empty list of targets", data)
    out: list[TargetConfig] = []
    names: set[str] = set()
    for i, entry in enumerate(data):
        p = f"targets[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(p, "a mapping with class, target_value, norm", entry)
        if "class" not in entry:
            raise ConfigError(f"{p}.class", "a target class name (required)", _found("nothing"))
        if not isinstance(entry["class"], str):
            raise ConfigError(f"{p}.class", "a target class name", entry["class"])
        try:
            cls = targets_pkg.resolve_target_class(entry["class"])
        except LookupError as exc:
            raise ConfigError(f"{p}.class", str(exc).split(", found")[0],
                              entry["class"]) from None
        allowed = {k: v for k, v in option_names(cls).items() if k != "sheet_name"}
        options = {k: v for k, v in entry.items() if k not in TARGET_KEYS}
        for k in options:
            if k not in allowed:
                valid = ", ".join(list(TARGET_KEYS) + [f"{n} (default {d!r})"
                                                      for n, d in allowed.items()])
                raise ConfigError(f"{p}.{k}", f"one of the keys of {cls.__name__}: {valid}",
                                  _found("an unknown key"))
        if "base_dir" in allowed and "base_dir" not in options:
            options["base_dir"] = str(base_dir)
        tv = entry.get("target_value")
        if isinstance(tv, list):
            if len(tv) != 2:
                raise ConfigError(f"{p}.target_value", "a number or [low, high]", tv)
            lo = _number(tv[0], f"{p}.target_value[0]")
            hi = _number(tv[1], f"{p}.target_value[1]")
            if lo > hi:
                raise ConfigError(f"{p}.target_value", "[low, high] with low <= high", tv)
            target_value: float | tuple[float, float] = (lo, hi)
            kind = "range"
        elif "target_value" not in entry:
            if not (cls.uses_parameters or has_reference):
                raise ConfigError(f"{p}.target_value", "a number or [low, high] (required "
                                  "unless a reference run sets it)", _found("nothing"))
            target_value, kind = 0.0, str(entry.get("kind", cls.kind))
        else:
            target_value = _number(tv, f"{p}.target_value", "a number or [low, high]")
            kind = entry.get("kind", cls.kind)
        if "kind" in entry and isinstance(tv, list) and entry["kind"] != "range":
            raise ConfigError(f"{p}.kind", "'range' for a [low, high] target value", entry["kind"])
        if kind not in targets_pkg.KINDS:
            raise ConfigError(f"{p}.kind", f"one of {list(targets_pkg.KINDS)}", kind)
        if kind == "range" and not isinstance(target_value, tuple) and "target_value" in entry:
            how = "kind: range" if "kind" in entry else f"{cls.__name__}'s default kind range"
            raise ConfigError(f"{p}.target_value", f"[low, high] for {how} (or give another "
                              f"kind: {', '.join(k for k in targets_pkg.KINDS if k != 'range')})",
                              tv)
        if "norm" not in entry:
            raise ConfigError(f"{p}.norm", "a number > 0 (required)", _found("nothing"))
        norm = _number(entry["norm"], f"{p}.norm", "a number > 0")
        if norm <= 0:
            raise ConfigError(f"{p}.norm", "a number > 0", entry["norm"])
        max_score = _number(entry.get("max_score", 20), f"{p}.max_score", "a number > 0")
        if max_score <= 0:
            raise ConfigError(f"{p}.max_score", "a number > 0", entry["max_score"])
        sheet = entry.get("sheet_name")
        if sheet is not None and not isinstance(sheet, str):
            raise ConfigError(f"{p}.sheet_name", "a string", sheet)
        if cls.needs_sheet and not sheet:
            raise ConfigError(f"{p}.sheet_name", f"a sheet name ({cls.__name__} needs one)",
                              _found("nothing"))
        name = entry.get("name") or (f"{cls.__name__}" + (f"[{sheet}]" if sheet else ""))
        if not isinstance(name, str):
            raise ConfigError(f"{p}.name", "a string", name)
        if name in names:
            if "name" in entry:
                raise ConfigError(f"{p}.name", "a name no other target has", name)
            k = 2
            while f"{name}#{k}" in names:
                k += 1
            name = f"{name}#{k}"
        names.add(name)
        try:  # construct once: bad option values and missing files fail here
            cls(**({"sheet_name": sheet} if "sheet_name" in option_names(cls) else {}), **options)
        except Exception as exc:  # noqa: BLE001 - any constructor error is a config error
            raise ConfigError(p, f"valid options for {cls.__name__}",
                              _found(f"{type(exc).__name__}: {exc}")) from None
        out.append(TargetConfig(name, entry["class"], kind, target_value, norm, max_score,
                                sheet, options))
    return tuple(out)


def _evaluator(data: Any, base_dir: Path) -> EvaluatorConfig:
    import evaluators
    from simtune_core.options import option_names

    if not isinstance(data, dict):
        raise ConfigError("evaluator", "a mapping with 'kind'", data)
    if "kind" not in data:
        raise ConfigError("evaluator.kind", f"one of {sorted(evaluators.EVALUATORS)} (required)",
                          _found("nothing"))
    try:
        cls = evaluators.evaluator_class(data["kind"])
    except LookupError as exc:
        raise ConfigError("evaluator.kind", str(exc).split(", found")[0], data["kind"]) from None
    except ImportError as exc:
        raise ConfigError("evaluator.kind", "an installed evaluator",
                          _found(f"ImportError: {exc}")) from None
    options = {k: v for k, v in data.items() if k != "kind"}
    allowed = option_names(cls)
    if "base_dir" in allowed and "base_dir" not in options:
        options["base_dir"] = str(base_dir)
    for k in options:
        if k not in allowed:
            valid = ", ".join(f"{n} (default {'required' if d is _EMPTY else repr(d)})"
                              for n, d in allowed.items())
            raise ConfigError(f"evaluator.{k}", f"one of the keys of {data['kind']}: {valid}",
                              _found("an unknown key"))
    for n, d in allowed.items():
        if d is _EMPTY and n not in options:
            raise ConfigError(f"evaluator.{n}", f"a value (required by {data['kind']})",
                              _found("nothing"))
    try:
        cls(**options).check()
    except Exception as exc:  # noqa: BLE001
        raise ConfigError("evaluator", f"a working {data['kind']} evaluator",
                          _found(f"{type(exc).__name__}: {exc}")) from None
    return EvaluatorConfig(data["kind"], options)


_EMPTY = inspect.Parameter.empty


def _cma_options(opts: Mapping[str, Any]) -> None:
    import cma

    known = cma.CMAOptions.defaults()
    for k in opts:
        if k not in known:
            raise ConfigError(f"optimizer.cma_options.{k}", "a pycma option (see cma.CMAOptions())",
                              _found("an unknown key"))
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
                opt = make_optimizer(dataclasses.replace(oc, cma_options=options),
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
                              _found(f"{v!r}: {type(exc).__name__}: {exc}"[:300]))
    exc = attempt(dict(oc.cma_options))
    raise ConfigError("optimizer.cma_options", "options pycma accepts together",
                      _found(f"{type(exc).__name__}: {exc}"[:300]))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode,
                       deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError("config", "unique keys in every mapping",
                              _found(f"{key!r} twice (lines {seen[key] + 1} and "
                                     f"{key_node.start_mark.line + 1})"))
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


# -- entry points -------------------------------------------------------------------------------
def config_from_dict(raw: Any, base_dir: str | os.PathLike[str] = ".",
                     default_name: str = "run") -> Config:
    """Validate an already-parsed config mapping."""
    from orchestrator.space import ParameterSpace, SpaceError

    if not isinstance(raw, dict):
        raise ConfigError("", "a YAML mapping at the top level", raw)
    for key in raw:
        if key not in TOP_KEYS:
            valid = ", ".join(f"{k} (default {v})" for k, v in TOP_KEYS.items())
            raise ConfigError(str(key), f"one of the top-level keys: {valid}",
                              _found("an unknown key"))
    base = Path(base_dir).resolve()
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError("name", "a non-empty name without '/' or a leading '.'", name)
    if "parameters" not in raw:
        raise ConfigError("parameters", "a mapping name -> [low, high] (required)",
                          _found("nothing"))
    try:
        space = ParameterSpace.from_config(raw["parameters"])
    except SpaceError as exc:
        raise ConfigError(exc.path, exc.expected, exc.found) from None
    try:
        centroid = space.centroid(raw.get("centroid"))
        space.check_derived(centroid)
    except SpaceError as exc:
        raise ConfigError(exc.path, exc.expected, exc.found) from None
    optimizer = _build(OptimizerConfig, raw.get("optimizer"), "optimizer")
    if (optimizer.algorithm == "nsga2" and optimizer.popsize is not None
            and optimizer.popsize < 2):
        raise ConfigError("optimizer.popsize", "null or >= 2", optimizer.popsize)
    if (optimizer.algorithm == "cma" and optimizer.surrogate == "lq"
            and optimizer.screen_factor > 1 and optimizer.popsize is not None
            and optimizer.popsize <= optimizer.offspring_size):
        raise ConfigError("optimizer.popsize", f"null or > offspring_size "
                          f"({optimizer.offspring_size}) when screen_factor > 1 pre-screens",
                          optimizer.popsize)
    _cma_options(optimizer.cma_options)
    if optimizer.cma_options:
        _try_cma(optimizer, space.dim)
    executor = _build(ExecutorConfig, raw.get("executor"), "executor")
    cleanup = _build(CleanupConfig, raw.get("cleanup"), "cleanup")
    if "evaluator" not in raw:
        raise ConfigError("evaluator", "a mapping with 'kind' (required)", _found("nothing"))
    evaluator = _evaluator(raw["evaluator"], base)
    if "targets" not in raw:
        raise ConfigError("targets", "a non-empty list of targets (required)", _found("nothing"))
    tgts = _targets(raw["targets"], base, has_reference=raw.get("reference") is not None)
    repeats = raw.get("repeats", 1)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError("repeats", "an integer >= 1", repeats)
    sim_seed = raw.get("simulation_seed", 0)
    if isinstance(sim_seed, bool) or not isinstance(sim_seed, int) or sim_seed < 0:
        raise ConfigError("simulation_seed", "an integer >= 0", sim_seed)
    reference = None
    if raw.get("reference") is not None:
        reference = _build(ReferenceConfig, raw["reference"], "reference")
        for k, v in reference.parameters.items():
            if k not in space.names:
                raise ConfigError(f"reference.parameters.{k}",
                                  f"a parameter name ({', '.join(space.names)})",
                                  _found("an unknown parameter"))
            _number(v, f"reference.parameters.{k}")
    return Config(
        name=name, space=space, centroid=centroid, targets=tgts, optimizer=optimizer,
        executor=executor, evaluator=evaluator, cleanup=cleanup, repeats=repeats,
        simulation_seed=sim_seed, reference=reference, base_dir=base, raw=raw,
    )


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the YAML config at ``path`` (writes nothing)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config", "an existing YAML file", str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", "a readable UTF-8 file", _found(str(exc))) from None
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
        raise ConfigError("config", f"valid YAML (error at {where})", _found(problem)) from None
    # evaluators and targets may import user modules that live beside the config
    add_user_dir(p.resolve().parent)
    return config_from_dict(raw, p.resolve().parent, default_name=p.stem)
