"""The ``gates`` section: early-abort conditions, each checked as far as it can be at load.

A gate names the segment kind after which it is checked (``after``) and either a target of the
config with a bound (``above`` and/or ``below``) or the store's ``explosion`` flag
(:class:`orchestrator.config.sections.GateEntry`; what the worker does with them:
:mod:`evaluators.gates`). Refused at load, with the key path: an unknown key, a missing
``after``, an unknown target name, neither ``above`` nor ``below``, both a target and
``explosion``, ``below >= above`` (a gate with both bounds fires outside ``[below, above]``),
and a segment kind the evaluator is known never to write.
"""

from __future__ import annotations

from typing import Any, Sequence

from evaluators.gates import Gate
from orchestrator.config.errors import ConfigError, found
from orchestrator.config.schema import build
from orchestrator.config.sections import GateEntry, TargetConfig

__all__ = ["parse_gates"]


def parse_gates(data: Any, targets: Sequence[TargetConfig],
                segment_kinds: frozenset[str] | None) -> tuple[Gate, ...]:
    """Validate the ``gates`` list against the run's ``targets`` and, where the evaluator says
    which segment kinds it writes (``segment_kinds``; ``None``: unknown), against those."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError("gates", "a list of gates ({after: ..., target: ..., above: ...})",
                          data)
    names = [t.name for t in targets]
    out = []
    for i, entry in enumerate(data):
        p = f"gates[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(p, "a mapping with after and target/above/below or explosion",
                              entry)
        g: GateEntry = build(GateEntry, entry, p)
        if not g.after:
            raise ConfigError(f"{p}.after", "a segment kind", g.after)
        if segment_kinds is not None and g.after not in segment_kinds:
            raise ConfigError(f"{p}.after", "a segment kind the evaluator writes ("
                              f"{', '.join(sorted(segment_kinds))})", g.after)
        if g.explosion:
            if g.target is not None or g.above is not None or g.below is not None:
                raise ConfigError(f"{p}.explosion", "explosion: true alone (a gate reads either "
                                  "the explosion flag or a target)", found("both"))
        else:
            if g.target is None:
                raise ConfigError(f"{p}.target", "the name of a target (one of "
                                  f"{', '.join(names)}) or explosion: true", found("nothing"))
            if g.target not in names:
                raise ConfigError(f"{p}.target", f"the name of a target ({', '.join(names)})",
                                  g.target)
            if g.above is None and g.below is None:
                raise ConfigError(f"{p}.above", "a bound: above and/or below (the value that "
                                  "stops the simulation)", found("neither"))
            if g.above is not None and g.below is not None and g.below >= g.above:
                raise ConfigError(f"{p}.below", f"a number < above ({g.above:g}): the gate "
                                  "fires outside [below, above]",
                                  g.below)
        out.append(Gate(after=g.after, target=g.target, above=g.above, below=g.below,
                        explosion=g.explosion))
    return tuple(out)
