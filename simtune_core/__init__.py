"""simtune's bottom layer: what every other package of simtune may import.

* :mod:`simtune_core.record` -- the evaluation record, its status and failure reasons;
* :mod:`simtune_core.io` -- atomic file writes;
* :mod:`simtune_core.faults` -- failpoints for the fault-injection tests;
* :mod:`simtune_core.expression` -- safe, bounded arithmetic expressions of named values.

It imports nothing of simtune (``targets``, ``evaluators``, ``orchestrator`` stand on it; see
docs/architecture.md), and nothing heavy: a job process pays for it only what it uses.
"""
