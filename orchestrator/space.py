"""The parameter space: free parameters (the optimizer's unit cube), constants and derived ones.

``parameters`` in the config maps each name to one of:

* ``[low, high]`` — a free float parameter;
* ``{low, high, integer: bool, log: bool}`` — a free parameter, rounded to an integer and/or
  searched on a log scale (``low > 0``);
* a number — a constant;
* a string — a derived parameter, an arithmetic expression of other parameters
  (``"x + dxy"``, ``"2 * sqrt(tau)"``). Expressions are parsed with :mod:`ast` and evaluated by a
  whitelist (numbers, names, + - * / // % **, unary +/-, and the functions in
  :data:`FUNCTIONS`); nothing else is accepted, so no code can be injected.

The optimizer sees only the free parameters, each mapped linearly (or logarithmically) to
``[0, 1]``; every record has every parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, TypeGuard

import numpy as np

from simtune_core.expression import FUNCTIONS, SafeExpression

__all__ = ["FUNCTIONS", "Parameter", "ParameterSpace", "SpaceError", "SafeExpression"]


class SpaceError(Exception):
    """A parameter-spec error, with the config path, what was expected and what was found."""

    def __init__(self, path: str, expected: str, found: Any) -> None:
        self.path, self.expected, self.found = path, expected, found
        super().__init__(f"{path}: expected {expected}, found {found!r}")


@dataclass(frozen=True)
class Parameter:
    """One parameter: free (``low``/``high``), constant (``value``) or derived (``expr``)."""

    name: str
    low: float | None = None
    high: float | None = None
    value: float | None = None
    expr: SafeExpression | None = None
    integer: bool = False
    log: bool = False

    @property
    def free(self) -> bool:
        return self.low is not None

    def to_unit(self, x: float) -> float:
        assert self.low is not None and self.high is not None
        if self.log:
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        assert self.low is not None and self.high is not None
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        if self.integer:
            x = float(min(max(round(x), math.ceil(self.low)), math.floor(self.high)))
        return x


def _num(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class ParameterSpace:
    """All parameters of a run, in config order."""

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        self.by_name = {p.name: p for p in params}
        self.free = [p for p in params if p.free]
        self._order = self._derivation_order()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def free_names(self) -> list[str]:
        return [p.name for p in self.free]

    @property
    def dim(self) -> int:
        return len(self.free)

    @classmethod
    def from_config(cls, data: Any) -> ParameterSpace:
        if not isinstance(data, dict) or not data:
            raise SpaceError("parameters", "a non-empty mapping name -> [low, high]", data)
        params = []
        for name, spec in data.items():
            p = f"parameters.{name}"
            if not isinstance(name, str) or not name.strip():
                raise SpaceError("parameters", "parameter names that are non-empty strings", name)
            if isinstance(spec, list):
                spec = {"low": spec[0], "high": spec[1]} if len(spec) == 2 else spec
                if isinstance(spec, list):
                    raise SpaceError(p, "[low, high]", spec)
            if isinstance(spec, dict):
                unknown = set(spec) - {"low", "high", "integer", "log"}
                if unknown:
                    raise SpaceError(f"{p}.{min(unknown)}",
                                     "one of the keys: low, high, integer (false), log (false)",
                                     "an unknown key")
                lo_raw, hi_raw = spec.get("low"), spec.get("high")
                if not _num(lo_raw):
                    raise SpaceError(f"{p}.low" if "low" in spec else p, "a number", lo_raw)
                if not _num(hi_raw):
                    raise SpaceError(f"{p}.high" if "high" in spec else p, "a number", hi_raw)
                lo, hi = float(lo_raw), float(hi_raw)
                if not lo < hi:
                    raise SpaceError(p, "[low, high] with low < high", [lo_raw, hi_raw])
                integer, log = spec.get("integer", False), spec.get("log", False)
                for key, flag in (("integer", integer), ("log", log)):
                    if not isinstance(flag, bool):
                        raise SpaceError(f"{p}.{key}", "true or false", flag)
                if log and lo <= 0:
                    raise SpaceError(f"{p}.low", "a number > 0 for a log-scaled parameter",
                                     lo_raw)
                if integer and math.floor(hi) < math.ceil(lo):
                    raise SpaceError(p, "bounds that contain an integer", [lo_raw, hi_raw])
                params.append(Parameter(name, lo, hi, integer=integer, log=log))
            elif _num(spec):
                params.append(Parameter(name, value=float(spec)))
            elif isinstance(spec, str):
                try:
                    expr = SafeExpression(spec)
                except ValueError as exc:
                    raise SpaceError(p, "an arithmetic expression of other parameters",
                                     f"{spec!r}: {exc}") from None
                params.append(Parameter(name, expr=expr))
            else:
                raise SpaceError(p, "[low, high], a number, or an expression string", spec)
        names = {q.name for q in params}
        for q in params:
            if q.expr is not None:
                missing = q.expr.names - names
                if missing:
                    raise SpaceError(f"parameters.{q.name}", f"names of parameters ({', '.join(names)})",
                                     f"{q.expr.text!r} uses {sorted(missing)}")
        if not any(q.free for q in params):
            raise SpaceError("parameters", "at least one free parameter [low, high]",
                             "only constants and expressions")
        return cls(params)

    def _derivation_order(self) -> list[Parameter]:
        order: list[Parameter] = []
        done = {p.name for p in self.params if p.expr is None}
        pending = [p for p in self.params if p.expr is not None]
        while pending:
            ready = [p for p in pending if p.expr is not None and p.expr.names <= done]
            if not ready:
                raise SpaceError(f"parameters.{pending[0].name}", "expressions without cycles",
                                 f"a cycle among {[p.name for p in pending]}")
            for p in ready:
                order.append(p)
                done.add(p.name)
                pending.remove(p)
        return order

    # -- mappings ---------------------------------------------------------------------------------
    def centroid(self, data: Any) -> dict[str, float]:
        """Validated start point (physical units) of the free parameters; default: the middle."""
        out = {p.name: p.from_unit(0.5) for p in self.free}
        if data is None:
            return out
        if not isinstance(data, dict):
            raise SpaceError("centroid", "a mapping of free parameter -> value", data)
        for name, v in data.items():
            if name not in self.by_name or not self.by_name[name].free:
                raise SpaceError(f"centroid.{name}",
                                 f"a free parameter ({', '.join(self.free_names)})",
                                 "an unknown or non-free parameter")
            p = self.by_name[name]
            if not _num(v):
                raise SpaceError(f"centroid.{name}", "a number", v)
            if not (p.low <= v <= p.high):  # type: ignore[operator]
                raise SpaceError(f"centroid.{name}", f"a value within [{p.low}, {p.high}]", v)
            out[name] = float(v)
        return out

    def to_unit(self, values: Mapping[str, float]) -> np.ndarray:
        """Free parameters (physical) -> point of the unit cube."""
        return np.array([p.to_unit(values[p.name]) for p in self.free], dtype=float)

    def from_unit(self, u: np.ndarray | list[float]) -> dict[str, float]:
        """Point of the unit cube -> every parameter (free, constant, derived) in config order."""
        values: dict[str, float] = {}
        for p, ui in zip(self.free, u):
            values[p.name] = p.from_unit(ui)
        for p in self.params:
            if p.value is not None:
                values[p.name] = p.value
        for p in self._order:
            assert p.expr is not None
            try:
                values[p.name] = p.expr.evaluate(values)
            except (ArithmeticError, ValueError):
                values[p.name] = float("nan")  # recorded; the simulator decides what NaN means
        return {p.name: values[p.name] for p in self.params}

    def check_derived(self, free_values: Mapping[str, float]) -> None:
        """Raise :class:`SpaceError` naming the first derived parameter whose expression cannot
        be evaluated at ``free_values`` (the centroid, at config load)."""
        values = {p.name: p.value for p in self.params if p.value is not None}
        values.update(free_values)
        for p in self._order:
            assert p.expr is not None
            try:
                values[p.name] = p.expr.evaluate(values)  # type: ignore[arg-type]
            except ValueError as exc:
                raise SpaceError(f"parameters.{p.name}", "an expression that can be evaluated "
                                 "at the centroid", f"<{exc}>") from None

    def complete(self, free_values: Mapping[str, float]) -> dict[str, float]:
        """Every parameter from values of the free ones (physical units)."""
        return self.from_unit(self.to_unit(free_values))
