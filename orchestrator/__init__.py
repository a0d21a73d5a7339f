"""simtune's orchestrator: config, optimizer, executors, controller, results and CLI.

The public entry points are the ``simtune`` command (:mod:`orchestrator.cli`) and
:func:`load_results`, which returns every evaluation of a run as a pandas DataFrame.
"""

from __future__ import annotations

from orchestrator.results import load_generations, load_results

__version__ = "0.1.0"
__all__ = ["__version__", "load_generations", "load_results"]
