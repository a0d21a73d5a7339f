"""Safe arithmetic expressions of named values (derived parameters, parameter penalties).

Parsed with :mod:`ast` and evaluated by a whitelist: numbers, names, ``+ - * / // % **``, unary
``+``/``-`` and the functions in :data:`FUNCTIONS`. Anything else (attribute access, other calls,
strings, subscripts, lambdas) is refused at parse time, so no code can be injected.

This module lives in ``targets`` (which imports nothing else of simtune) so that both the
parameter space (``orchestrator.space``) and the penalty targets (``targets.penalty``) use it.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable, Mapping

__all__ = ["FUNCTIONS", "SafeExpression"]

FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "abs": abs, "min": min, "max": max,
    "floor": math.floor, "ceil": math.ceil, "round": round,
}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class SafeExpression:
    """An arithmetic expression of parameter names, checked at parse time.

    >>> SafeExpression("x + 2 * sqrt(y)").evaluate({"x": 1.0, "y": 4.0})
    5.0
    >>> SafeExpression("__import__('os')")
    Traceback (most recent call last):
    ...
    ValueError: only arithmetic, parameter names and sqrt, exp, ... are allowed; found a call of '__import__'
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a non-empty expression, found {text!r}")
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"a valid arithmetic expression ({exc.msg})") from None
        self.names: set[str] = set()
        self._check(tree.body)
        self._tree = tree.body

    def _check(self, node: ast.AST) -> None:
        allowed = "only arithmetic, parameter names and sqrt, exp, ... are allowed"
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"{allowed}; found the constant {node.value!r}")  # noqa: TRY004
        elif isinstance(node, ast.Name):
            if node.id not in FUNCTIONS:
                self.names.add(node.id)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand)
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords:
                fname = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)
                raise ValueError(f"{allowed}; found a call of {fname!r}")
            for a in node.args:
                self._check(a)
        else:
            raise ValueError(f"{allowed}; found {type(node).__name__}")

    def evaluate(self, values: Mapping[str, float]) -> float:
        return float(self._eval(self._tree, values))

    def _eval(self, node: ast.AST, values: Mapping[str, float]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, values),
                                          self._eval(node.right, values))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, values))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id](*(self._eval(a, values) for a in node.args))
