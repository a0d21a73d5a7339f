"""simtune's orchestrator: config, optimizer, executors, controller, results and CLI.

The public entry points are the ``simtune`` command (:mod:`orchestrator.cli`) and
:func:`load_results`, which returns every evaluation of a run as a pandas DataFrame. Importing the
package is cheap (pandas loads on first use), so job processes that import it pay nothing.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_generations", "load_results"]


def __getattr__(name: str) -> Any:
    if name in ("load_results", "load_generations"):
        from orchestrator import results

        return getattr(results, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
