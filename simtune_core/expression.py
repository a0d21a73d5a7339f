"""Safe arithmetic expressions of named values (derived parameters, parameter penalties).

Parsed with :mod:`ast` and evaluated by a whitelist: numbers, names, ``+ - * / // % **``, unary
``+``/``-`` and the functions in :data:`FUNCTIONS`. Anything else (attribute access, other calls,
strings, subscripts, lambdas) is refused at parse time, so no code can be injected.

Bounded work: an expression is user input (a config), so evaluating one must be cheap whatever it
says. Text longer than :data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_DEPTH` is
refused at parse time, and every number is a float during evaluation (constants and function
results alike): Python's integers would make ``9**9**9`` a computation of a 370-million-digit
number; as floats it is an ``OverflowError`` at once, reported as a :class:`ValueError`. Each
evaluation therefore costs at most one float operation per node of the parsed tree.

Both the parameter space (``orchestrator.space``) and the penalty targets (``targets.penalty``)
use this module; it imports nothing of simtune.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable, Mapping

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "SafeExpression"]

#: the functions an expression may call
FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "abs": abs, "min": min, "max": max,
    "floor": math.floor, "ceil": math.ceil, "round": round,
}
#: longest accepted expression text (characters)
MAX_LENGTH = 2000
#: deepest accepted nesting of operators and calls
MAX_DEPTH = 50

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_ALLOWED = "only arithmetic, parameter names and sqrt, exp, ... are allowed"


class SafeExpression:
    """An arithmetic expression of parameter names, checked at parse time.

    Parameters
    ----------
    text
        The expression, e.g. ``"x + 2 * sqrt(y)"``.

    Raises
    ------
    ValueError
        If ``text`` is not such an expression (or is longer than :data:`MAX_LENGTH`, or nested
        deeper than :data:`MAX_DEPTH`).

    Examples
    --------
    >>> SafeExpression("x + 2 * sqrt(y)").evaluate({"x": 1.0, "y": 4.0})
    5.0
    >>> SafeExpression("__import__('os')")
    Traceback (most recent call last):
    ...
    ValueError: only arithmetic, parameter names and sqrt, exp, ... are allowed; found a call of '__import__'
    >>> SafeExpression("9 ** 9 ** 9").evaluate({})
    Traceback (most recent call last):
    ...
    ValueError: '9 ** 9 ** 9' cannot be evaluated: OverflowError (numerical result out of range)
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a non-empty expression, found {text!r}")
        if len(text) > MAX_LENGTH:
            raise ValueError(f"an expression of at most {MAX_LENGTH} characters, "
                             f"found {len(text)}")
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"a valid arithmetic expression ({exc.msg})") from None
        except (RecursionError, MemoryError):
            raise ValueError(f"an expression nested at most {MAX_DEPTH} deep") from None
        self.names: set[str] = set()
        self._check(tree.body, 0)
        self._tree = tree.body

    def _check(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(f"an expression nested at most {MAX_DEPTH} deep")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"{_ALLOWED}; found the constant {node.value!r}")  # noqa: TRY004
        elif isinstance(node, ast.Name):
            if node.id not in FUNCTIONS:
                self.names.add(node.id)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left, depth + 1)
            self._check(node.right, depth + 1)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand, depth + 1)
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords:
                fname = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)
                raise ValueError(f"{_ALLOWED}; found a call of {fname!r}")
            for a in node.args:
                self._check(a, depth + 1)
        else:
            raise ValueError(f"{_ALLOWED}; found {type(node).__name__}")

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The expression's value for ``values`` (every name it uses must be there).

        Raises
        ------
        KeyError
            A name is missing from ``values``.
        ValueError
            The arithmetic fails (overflow, division by zero, ``log(-1)``...).
        """
        try:
            return float(self._eval(self._tree, values))
        except (ArithmeticError, ValueError, TypeError) as exc:
            why = str(exc).lower() or "no detail"
            raise ValueError(f"{self.text!r} cannot be evaluated: {type(exc).__name__} "
                             f"({why})") from None

    def _eval(self, node: ast.AST, values: Mapping[str, float]) -> float:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, (int, float))  # checked at parse time
            return float(node.value)
        if isinstance(node, ast.Name):
            return float(values[node.id])
        if isinstance(node, ast.BinOp):
            return float(_BINOPS[type(node.op)](self._eval(node.left, values),
                                                self._eval(node.right, values)))
        if isinstance(node, ast.UnaryOp):
            return float(_UNARY[type(node.op)](self._eval(node.operand, values)))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return float(FUNCTIONS[node.func.id](*(self._eval(a, values) for a in node.args)))
