"""Early-abort gates: stop a simulation as soon as the segments it has written show it is hopeless.

A gate (the config's ``gates:``, docs/config.md, "Gates") names a segment kind (``after``) and a
condition: a target's value ``above`` and/or ``below`` a bound, or the store's ``explosion``
flag. The simulator publishes its segments while it runs
(:meth:`evaluators.datastore.DataStoreWriter.flush`, or any writer following docs/datastore.md,
"Writing segment by segment"): segment ``k`` becomes the complete small store
``<progress>/k.h5``, renamed into place, so a reader never sees half of it. After each
publication the :class:`GateMonitor` checks each newly published file against every rule of
docs/datastore.md (once per file: the cost stays linear in the segments), joins the published
prefix ``0 .. m-1`` into one read-only view (an HDF5 file of external links, no data copied)
and, for every gate whose ``after`` kind is present, computes its target on the view. The first gate whose condition holds stops the simulation:

* in-process (``python``, ``v1_sheet``): :class:`GateStop` is raised out of the ``flush`` call,
  unwinding the model (its writer discards the unfinished store);
* ``command``: the evaluator polls the progress folder while the simulator runs and terminates
  its process group (SIGTERM, SIGKILL after a grace period).

The evaluation is then recorded ``aborted`` (a runaway: told to the optimizer as worse than
every finished evaluation), the gate in ``detail``, the values of the targets computable from
the segments present kept. A published segment that breaks a rule of docs/datastore.md stops
the simulation the same way as ``invalid_datastore``.

A gate is *evaluated* when its target had a value on some view (an explosion gate: when a
segment of its kind was present). A gate never evaluated during a finished simulation (no
segment of its kind was published, or its target was undefined on every view) is reported in
the evaluation's ``result.json`` (``gate_warnings``) and, once per run, in ``simtune.log``,
``run.json`` and ``simtune status`` (the controller keeps it out of ``results.jsonl``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py

import targets as targets_pkg
from evaluators import datastore as ds
from evaluators.scoring import score_store
from evaluators.store_check import InvalidDataStore, check_store
from simtune_core.record import Reason

__all__ = ["Gate", "GateMonitor", "GateStop", "parse_gate"]

_SEGMENT_FILE = re.compile(r"^(\d+)\.h5$")
#: the keys a gate may have
GATE_KEYS = ("after", "target", "above", "below", "explosion")


@dataclass(frozen=True)
class Gate:
    """One validated gate (the task file carries :meth:`spec`)."""

    after: str
    target: str | None = None
    above: float | None = None
    below: float | None = None
    explosion: bool = False

    def spec(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in GATE_KEYS}

    def describe(self) -> str:
        """``after spontaneous: SpontActivityTarget[V1_Exc_L4] > 50``."""
        if self.explosion:
            return f"after {self.after}: explosion"
        parts = []
        if self.above is not None:
            parts.append(f"> {self.above:g}")
        if self.below is not None:
            parts.append(f"< {self.below:g}")
        return f"after {self.after}: {self.target} {' or '.join(parts)}"

    def fires(self, value: float) -> bool:
        """Whether ``value`` (a target's value) meets the gate's condition."""
        return bool((self.above is not None and value > self.above)
                    or (self.below is not None and value < self.below))


def parse_gate(spec: Mapping[str, Any]) -> Gate:
    """A :class:`Gate` from its task-file mapping (validated at config load)."""
    return Gate(after=str(spec["after"]), target=spec.get("target"),
                above=None if spec.get("above") is None else float(spec["above"]),
                below=None if spec.get("below") is None else float(spec["below"]),
                explosion=bool(spec.get("explosion", False)))


class GateStop(BaseException):
    """Stop the simulation: a gate fired (``reason`` ``aborted``) or a published segment broke
    a rule of docs/datastore.md (``invalid_datastore``). A ``BaseException`` so that a model's
    ``except Exception`` does not swallow it."""

    def __init__(self, reason: Reason, detail: str,
                 outcomes: Sequence[targets_pkg.TargetOutcome] | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.outcomes = reason, detail, outcomes


class GateMonitor:
    """Checks the gates of one simulation (one seed) on its published segments.

    Parameters
    ----------
    gates
        The run's gates.
    built
        The run's targets as ``(spec, target object)`` pairs
        (:func:`evaluators.scoring.build_targets`).
    parameters
        The evaluation's parameters (for targets computed from parameters).
    """

    def __init__(self, gates: Sequence[Gate], built: Sequence[tuple[Mapping[str, Any], Any]],
                 parameters: Mapping[str, float]) -> None:
        self.gates = list(gates)
        self.built = list(built)
        self.parameters = dict(parameters)
        self._by_name = {spec["name"]: (spec, t) for spec, t in self.built}
        self._seen: dict[Path, tuple[int, int]] = {}
        self._evaluated: set[int] = set()
        self._kinds: set[str] = set()
        self._valid: set[tuple[Path, int, int]] = set()  # (folder, k, mtime): checked files
        self.checks = 0
        self.dirs: set[Path] = set()

    # -- hooks ----------------------------------------------------------------------------------
    def active(self) -> _Active:
        """Context manager: while inside, an in-process :meth:`DataStoreWriter.flush` calls
        :meth:`check_dir`."""
        return _Active(self)

    def poll(self, progress: Path) -> None:
        """Check ``progress`` if its published prefix changed since the last look (the command
        evaluator calls this while the simulator runs). Raises :class:`GateStop`."""
        self.dirs.add(progress)
        m, stamp = _prefix(progress)
        if m == 0 or self._seen.get(progress) == (m, stamp):
            return
        self.check_dir(progress)

    def check_dir(self, progress: Path) -> None:
        """Check the gates on the published segments in ``progress``; raises :class:`GateStop`."""
        progress = Path(progress)
        self.dirs.add(progress)
        m, stamp = _prefix(progress)
        self._seen[progress] = (m, stamp)
        if m == 0:
            return
        self.checks += 1
        view = progress / f".view-{os.getpid()}.h5"
        new = [k for k in range(m) if (progress, k, _stamp(progress, k)) not in self._valid]
        try:
            # each published file is checked once: the new ones renumbered 0.. (the rules'
            # segment names), in the prefix's own view when they are the whole prefix
            whole = new == list(range(m))
            if new and not whole:
                _write_view(progress, new, view, renumber=True)
                with ds.DataStore(view) as store:
                    self._check_rules(store, new, renumbered=True)
            _write_view(progress, list(range(m)), view)
            with ds.DataStore(view) as store:
                if whole:
                    self._check_rules(store, new, renumbered=False)
                self._check(store, m)
            self._valid |= {(progress, k, _stamp(progress, k)) for k in new}
        except ds.DataStoreError as exc:  # unreadable published file
            raise GateStop(Reason.INVALID_DATASTORE, f"published segments in {progress.name}: "
                           f"{exc}") from None
        except (OSError, KeyError, ValueError) as exc:  # a dangling link, a corrupt file
            raise GateStop(Reason.INVALID_DATASTORE, f"published segments in {progress.name}: "
                           f"{type(exc).__name__}: {exc}") from None
        finally:
            view.unlink(missing_ok=True)

    @staticmethod
    def _check_rules(store: ds.DataStore, new: Sequence[int], renumbered: bool) -> None:
        try:
            check_store(store)
        except InvalidDataStore as exc:
            raise GateStop(Reason.INVALID_DATASTORE, f"published segment(s) {_span(new)}"
                           f"{' (numbered from 0 here)' if renumbered else ''}: {exc}") from None

    def _check(self, store: ds.DataStore, m: int) -> None:
        kinds = {s.kind for s in store.segments()}
        self._kinds |= kinds
        for i, gate in enumerate(self.gates):
            if gate.after not in kinds:
                continue
            if gate.explosion:
                self._evaluated.add(i)
                if store.exploded:
                    self._stop(gate, "the store's explosion flag is set", store, m)
                continue
            (out,) = score_store([self._by_name[gate.target]], store, self.parameters)
            if out.value is None or math.isnan(out.value):
                continue  # not computable from these segments (yet)
            self._evaluated.add(i)
            if gate.fires(out.value):
                self._stop(gate, f"{gate.target} = {out.value:.6g}", store, m)

    def _stop(self, gate: Gate, what: str, store: ds.DataStore, m: int) -> None:
        outcomes = score_store(self.built, store, self.parameters)
        raise GateStop(Reason.ABORTED, f"gate {gate.describe()} fired after segment {m - 1}: "
                       f"{what}", outcomes)

    # -- after the simulation -------------------------------------------------------------------
    def warnings(self) -> list[str]:
        """One line per gate never evaluated during the simulation."""
        out = []
        for i, gate in enumerate(self.gates):
            if i in self._evaluated:
                continue
            if not self.checks:
                why = ("the simulator published no segment while it ran (call "
                       "DataStoreWriter.flush() after each segment; docs/evaluators.md, Gates)")
            elif gate.after not in self._kinds:
                why = f"no published segment of kind {gate.after!r}"
            else:
                why = f"{gate.target} was undefined on every published prefix"
            out.append(f"gate {i} ({gate.describe()}) was never evaluated: {why}")
        return out

    def cleanup(self) -> None:
        """Remove the progress folders (the final store holds everything they held)."""
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


class _Active:
    def __init__(self, monitor: GateMonitor) -> None:
        self.monitor = monitor
        self._previous: Any = None

    def __enter__(self) -> GateMonitor:
        self._previous = ds.set_progress_hook(self.monitor.check_dir)
        return self.monitor

    def __exit__(self, *_: object) -> None:
        ds.set_progress_hook(self._previous)


def _prefix(progress: Path) -> tuple[int, int]:
    """``(m, stamp)``: segments ``0 .. m-1`` are published (the longest prefix without a gap)
    and ``stamp`` is the last one's modification time (it changes when it is published again)."""
    try:
        names = os.listdir(progress)
    except OSError:
        return 0, 0
    have = {int(mt.group(1)) for n in names if (mt := _SEGMENT_FILE.match(n))}
    m = 0
    while m in have:
        m += 1
    return (m, _stamp(progress, m - 1)) if m else (0, 0)


def _stamp(progress: Path, k: int) -> int:
    try:
        return os.stat(progress / f"{k}.h5").st_mtime_ns
    except OSError:
        return 0


def _span(ks: Sequence[int]) -> str:
    return str(ks[0]) if len(ks) == 1 else f"{ks[0]}..{ks[-1]}"


def _write_view(progress: Path, ks: Sequence[int], view: Path, renumber: bool = False) -> None:
    """One file presenting the published segments ``ks`` as a data store: root attributes,
    sheets, values and time series from the last of them, each segment an external link (named
    ``0, 1, ...`` with ``renumber``, else by its own index)."""
    last = (progress / f"{ks[-1]}.h5").resolve()
    with h5py.File(last, "r") as src, h5py.File(view, "w") as out:
        for key, value in src.attrs.items():
            out.attrs[key] = value
        for name in ("sheets", "timeseries", "values"):
            if name in src:
                out[name] = h5py.ExternalLink(str(last), f"/{name}")
        seg = out.create_group("segments")
        for j, k in enumerate(ks):
            seg[str(j if renumber else k)] = h5py.ExternalLink(
                str((progress / f"{k}.h5").resolve()), f"/segments/{k}")
