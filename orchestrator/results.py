"""The results record: one row per evaluation, append-only, and :func:`load_results`.

Format: ``RUN_DIR/results.jsonl``, one JSON object per line, appended with a single ``write`` per
generation and fsynced before the checkpoint that counts them. A crash while appending can leave
at most one torn last line; readers skip it, and the next append starts on a fresh line. Rows are
keyed by ``(generation, individual)``: appending a key that is already present is a no-op, so a
generation redone after a crash never duplicates rows.

Per-generation statistics (step size, mean, best, failures) go to ``generations.jsonl`` the same
way; the last search covariance to ``covariance.json`` (atomic, replaced every generation).

Reading: :func:`load_results` reads the columnar cache (:mod:`orchestrator.columnar`: Arrow IPC
parts the controller brings up to date after every generation, rebuilt from the log when
missing, stale or corrupt) plus the log's tail past it (docs/benchmarks.md: 10^6 rows).

Columns of :func:`load_results`: ``generation, individual, status, reason, detail, total_score,
runtime_s, job_id, host, eval_dir, asked_at, submitted_at, started_at, finished_at, tell_seq``
(``tell_seq``: the order an asynchronous run told results; empty in generational runs), then
``param.<name>`` for every parameter, ``value.<target>``, ``score.<target>``, ``std.<target>``
(with repeats) and ``why.<target>`` (why a target scored max_score, where it did).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pandas as pd

from simtune_core.faults import failpoint
from simtune_core.io import atomic_write_json
from simtune_core.record import EvaluationRecord, Status

__all__ = ["COVARIANCE_FILE", "GENERATIONS_FILE", "RESULTS_FILE", "ResultsWriter", "iter_jsonl",
           "load_generations", "load_results", "ok_mask", "records_frame"]

RESULTS_FILE = "results.jsonl"
GENERATIONS_FILE = "generations.jsonl"
COVARIANCE_FILE = "covariance.json"
FIXED_COLUMNS = [
    "generation", "individual", "status", "reason", "detail", "total_score", "runtime_s",
    "job_id", "host", "eval_dir", "asked_at", "submitted_at", "started_at", "finished_at",
    "tell_seq",
]


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; a torn (partial) line is skipped."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by `with fh` below
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break  # torn last line from a crash mid-append
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def _append_lines(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    data = b"".join(json.dumps(r, default=_default).encode() + b"\n" for r in rows)
    if not data:
        return 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        # if a previous append was torn, start on a fresh line (the torn one is then skipped)
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
        view = memoryview(data)
        half = len(view) // 2
        while len(view) > half:  # in two parts, so a test can kill the writer in between
            n = os.write(fd, view[: len(view) - half])
            view = view[n:]
        failpoint("results_write")
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(data)


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


class ResultsWriter:
    """Appends evaluation rows and generation rows to a run directory."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / RESULTS_FILE
        self.gen_path = self.run_dir / GENERATIONS_FILE
        self._keys = {(r["generation"], r["individual"]) for r in iter_jsonl(self.path)}
        self._gens = {r["generation"] for r in iter_jsonl(self.gen_path)}

    def __len__(self) -> int:
        return len(self._keys)

    def has(self, generation: int, individual: int) -> bool:
        return (generation, individual) in self._keys

    def append(self, records: Iterable[EvaluationRecord]) -> int:
        """Append records not yet present; returns how many were written."""
        new = [r for r in records if r.key not in self._keys]
        _append_lines(self.path, [r.to_json() for r in new])
        self._keys.update(r.key for r in new)
        return len(new)

    def append_generation(self, row: Mapping[str, Any]) -> None:
        """Append a generation's row (once per generation)."""
        if row["generation"] not in self._gens:
            _append_lines(self.gen_path, [row])
            self._gens.add(row["generation"])

    def update_cache(self, warm: bool = False) -> None:
        """Bring the columnar cache up to date (best effort: the log is the record);
        ``warm``: also load its library now (:func:`orchestrator.columnar.warm`)."""
        from orchestrator import columnar

        if warm:
            columnar.warm()
        columnar.update(self.run_dir, RESULTS_FILE)

    def write_covariance(self, generation: int, covariance: Any) -> None:
        """Replace ``covariance.json`` with the search covariance after ``generation``."""
        atomic_write_json(self.run_dir / COVARIANCE_FILE,
                          {"generation": generation, "covariance": covariance})


def load_results(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every evaluation of a run as a DataFrame, one row per evaluation (works on a live run).

    Rows are sorted by generation and individual; see the module docstring for the columns.
    Reads the columnar cache and the log's tail past it (:mod:`orchestrator.columnar`).
    """
    from orchestrator import columnar

    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    return _finish(columnar.load(run_dir, RESULTS_FILE))


def ok_mask(df: pd.DataFrame) -> pd.Series:
    """Which rows of a results table are ok evaluations (:func:`simtune_core.record.is_ok`)."""
    if "status" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["status"] == Status.OK.value


#: nested record fields -> column prefix
_NESTED = (("parameters", "param."), ("values", "value."), ("scores", "score."),
           ("value_std", "std."), ("target_reasons", "why."))


def records_frame(records: list[dict[str, Any]], sort: bool = True) -> pd.DataFrame:
    """Evaluation records (``result.json`` mappings) -> the table of :func:`load_results`
    (column by column, so that 10^5 records of dozens of parameters and targets take a second,
    not a dict per row); ``sort=False`` keeps their order and duplicates."""
    if not records:
        return pd.DataFrame(columns=FIXED_COLUMNS)
    cols: dict[str, Any] = {k: [r.get(k) for r in records] for k in FIXED_COLUMNS}
    for field_name, prefix in _NESTED:
        subs = [r.get(field_name) or {} for r in records]
        keys = list(dict.fromkeys(k for d in _distinct_key_sets(subs) for k in d))
        for k in keys:
            cols[prefix + k] = [d.get(k) for d in subs]
    for c, column in cols.items():
        if c.startswith(("value.", "score.", "std.")) or c in _NUMERIC:
            cols[c] = pd.to_numeric(pd.Series(column, dtype=object), errors="coerce")
    df = pd.DataFrame(cols)
    return _finish(df) if sort else df


#: fixed columns that are numbers (None where unknown)
_NUMERIC = frozenset({"total_score", "runtime_s", "asked_at", "submitted_at", "started_at",
                      "finished_at", "tell_seq"})


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (generation, individual), the first recorded, sorted by them."""
    if df.empty:
        return df.reset_index(drop=True)
    keys = ["generation", "individual"]
    dup = df.duplicated(keys, keep="first")
    if dup.any():
        df = df[~dup]
    g = df["generation"].to_numpy()
    i = df["individual"].to_numpy()
    if not ((g[1:] > g[:-1]) | ((g[1:] == g[:-1]) & (i[1:] > i[:-1]))).all():
        df = df.sort_values(keys, kind="stable")
    return df.reset_index(drop=True)


def _distinct_key_sets(dicts: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The distinct key tuples of ``dicts`` in first-seen order (usually just one)."""
    return list(dict.fromkeys(tuple(d) for d in dicts))


def load_generations(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Per-generation statistics (sigma, best, failures...) as a DataFrame."""
    rows = list(iter_jsonl(Path(run_dir) / GENERATIONS_FILE))
    df = pd.DataFrame.from_records(rows)
    if not df.empty:
        df = df.drop_duplicates("generation", keep="first").sort_values("generation")
    return df.reset_index(drop=True)
