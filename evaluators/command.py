"""The external-simulator evaluator: ``evaluator: {kind: command, command: [argv...]}``.

The simulator is run as a subprocess from an argument list, never through a shell: parameter
values, paths and seeds reach it byte for byte whatever they contain (spaces, quotes, ``;``,
``$()``, backticks, newlines). Per evaluation, in the output directory ``out_dir``:

1. ``params_file`` (``params.json``) is written atomically::

       {"parameters": {"name": value, ...}, "seed": 11, "out_dir": "/abs/eval/dir",
        "datastore": "/abs/eval/dir/datastore.h5"}

2. the command runs with the working directory ``cwd`` (default ``out_dir``), the environment of
   the job plus ``env`` plus ``SIMTUNE_PARAMS_FILE``, ``SIMTUNE_SEED``, ``SIMTUNE_OUT_DIR``,
   ``SIMTUNE_DATASTORE``; with ``pass_as`` = ``"args"`` or ``"both"`` these arguments are appended
   (three option/value pairs, each value one argv element)::

       --params-file /abs/eval/dir/params.json --seed 11 --out /abs/eval/dir/datastore.h5

3. stdout and stderr go to ``log_file`` (``simulator.log``) in ``out_dir``;
4. a nonzero exit raises :class:`RuntimeError` with the exit code and the last lines of the log
   (recorded as ``exception``); running past ``timeout_s`` kills the simulator's process group
   and raises :class:`~evaluators.EvaluationTimeout` (recorded as ``timeout``);
5. the data store is expected at ``out_dir / datastore``.

With ``gates`` in the config the environment also has ``SIMTUNE_PROGRESS_DIR``
(``<datastore>.progress`` in ``out_dir``): the simulator publishes each finished segment there
(docs/datastore.md, "Writing segment by segment"; simtune's ``DataStoreWriter.flush`` does it),
the evaluator looks at the folder every :data:`GATE_POLL_S` seconds while the simulator runs, and
when a gate fires it terminates the simulator's process group (SIGTERM, SIGKILL after 5 s) and
the evaluation is recorded ``aborted``.

An MPI simulator is started with its launcher in the command, e.g.
``["srun", "--mpi=pmix", "python", "model.py"]`` (the SLURM executor runs the evaluation in the
batch step, so ``srun`` gets the whole allocation).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from evaluators._base import DATASTORE_NAME, EvaluationTimeout, Evaluator
from evaluators.datastore import PROGRESS_ENV, progress_folder
from simtune_core.io import atomic_write_bytes, tail_text

if TYPE_CHECKING:
    from evaluators.gates import GateMonitor

__all__ = ["CommandEvaluator", "GATE_POLL_S", "PASS_AS"]

#: how often a gated run's progress folder is looked at while the simulator runs (one listdir)
GATE_POLL_S = 0.1

#: how parameters reach the simulator
PASS_AS = ("file", "args", "both")


class CommandEvaluator(Evaluator):
    """Run an external simulator as a subprocess (argument list, no shell).

    Parameters
    ----------
    command
        The argument list, e.g. ``["python", "run_model.py"]``. A string is rejected.
    params_file
        Name of the JSON file written into ``out_dir`` (all parameters + seed).
    pass_as
        ``"file"``: only the params file (and the ``SIMTUNE_*`` environment variables);
        ``"args"``/``"both"``: also append ``--params-file PATH --seed N --out STORE``.
    datastore
        Where the simulator writes its data store, relative to ``out_dir``.
    cwd
        Working directory of the simulator (default: ``out_dir``).
    env
        Extra environment variables (added to the job's environment).
    timeout_s
        Kill the simulator after this many seconds and raise
        :class:`~evaluators.EvaluationTimeout` (recorded as ``timeout``).
    log_file
        File in ``out_dir`` receiving the simulator's stdout and stderr.
    base_dir
        The config's folder (set by the config loader): a relative ``cwd``, and a relative
        executable path when no ``cwd`` is given, resolve against it. ``params_file``,
        ``datastore`` and ``log_file`` must stay inside the evaluation directory (no ``..``, not
        absolute).

    Raises
    ------
    TypeError
        ``command`` is a string or contains non-strings.
    ValueError
        Empty ``command`` or an unknown ``pass_as``.
    """

    kind = "command"

    def __init__(
        self,
        command: Sequence[str],
        params_file: str = "params.json",
        pass_as: str = "file",
        datastore: str = DATASTORE_NAME,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        log_file: str = "simulator.log",
        base_dir: str | None = None,
    ) -> None:
        if isinstance(command, (str, bytes)):
            raise TypeError(
                f"command must be a list of arguments, e.g. ['python', 'model.py'], found the "
                f"string {command!r} (simtune never runs a shell)")
        command = list(command)
        if not command:
            raise ValueError("command must not be empty")
        bad = [a for a in command if not isinstance(a, str)]
        if bad:
            raise TypeError(f"command arguments must be strings, found {bad!r}")
        if pass_as not in PASS_AS:
            raise ValueError(f"pass_as must be one of {PASS_AS}, found {pass_as!r}")
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 or None, found {timeout_s!r}")
        for key, name in (("params_file", params_file), ("datastore", datastore),
                          ("log_file", log_file)):
            parts = Path(name).parts
            if not name or Path(name).is_absolute() or ".." in parts:
                raise ValueError(f"{key} must be a relative file name inside the evaluation "
                                 f"directory, found {name!r}")
        if base_dir is not None:  # relative paths in the config are relative to the config
            base = Path(base_dir)
            if cwd is not None and not Path(cwd).is_absolute():
                cwd = str(base / cwd)
            if os.sep in command[0] and not Path(command[0]).is_absolute() and cwd is None:
                command[0] = str(base / command[0])
        self.command = command
        self.params_file = params_file
        self.pass_as = pass_as
        self.datastore = datastore
        self.cwd = cwd
        self.env = {str(k): str(v) for k, v in dict(env or {}).items()}
        self.timeout_s = timeout_s
        self.log_file = log_file

    def _executable(self) -> str | None:
        exe = self.command[0]
        if os.sep in exe:
            path = Path(exe) if Path(exe).is_absolute() or self.cwd is None else Path(self.cwd) / exe
            return str(path) if path.is_file() and os.access(path, os.X_OK) else None
        return shutil.which(exe, path=self.env.get("PATH", os.environ.get("PATH")))

    def check(self) -> None:
        if self._executable() is None:
            raise FileNotFoundError(f"command: executable {self.command[0]!r} not found "
                                    f"(or not executable)")
        if self.cwd is not None and not Path(self.cwd).is_dir():
            raise FileNotFoundError(f"command: cwd {self.cwd!r} is not a directory")

    def argv(self, params_path: Path, seed: int, store: Path) -> list[str]:
        """The simulator's argument list for one run."""
        argv = list(self.command)
        if self.pass_as in ("args", "both"):
            argv += ["--params-file", str(params_path), "--seed", str(int(seed)),
                     "--out", str(store)]
        return argv

    def run(self, parameters: Mapping[str, float], out_dir: Path, seed: int) -> Path:
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        store = out_dir / self.datastore
        params_path = out_dir / self.params_file
        payload = {"parameters": dict(parameters), "seed": int(seed), "out_dir": str(out_dir),
                   "datastore": str(store)}
        atomic_write_bytes(params_path, json.dumps(payload, indent=1).encode())
        env = dict(os.environ)
        env.update(self.env)
        env.update(SIMTUNE_PARAMS_FILE=str(params_path), SIMTUNE_SEED=str(int(seed)),
                   SIMTUNE_OUT_DIR=str(out_dir), SIMTUNE_DATASTORE=str(store))
        monitor = self.gate_monitor
        progress = progress_folder(store)
        if monitor is not None:
            env[PROGRESS_ENV] = str(progress)
        log_path = out_dir / self.log_file
        argv = self.argv(params_path, seed, store)
        with open(log_path, "ab") as log:
            try:
                proc = subprocess.Popen(argv, shell=False, cwd=self.cwd or out_dir, env=env,
                                        stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                raise FileNotFoundError(f"cannot start {argv[0]!r}: {exc}") from exc
            try:
                if monitor is None:
                    code = proc.wait(timeout=self.timeout_s)
                else:
                    code = self._wait_gated(proc, monitor, progress)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise EvaluationTimeout(f"simulator ran longer than timeout_s={self.timeout_s} s; "
                                   f"log tail:\n{tail_text(log_path)}") from None
            except BaseException:
                _kill_group(proc)
                raise
        if code != 0:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise RuntimeError(f"simulator {argv[0]!r} failed with {how}; "
                               f"last lines of {log_path.name}:\n{tail_text(log_path)}")
        return store

    def _wait_gated(self, proc: subprocess.Popen[Any], monitor: GateMonitor,
                    progress: Path) -> int:
        """Wait for the simulator, checking the gates on what it published meanwhile (raises
        :class:`evaluators.gates.GateStop`, or ``TimeoutExpired`` past ``timeout_s``)."""
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        while True:
            step = GATE_POLL_S if deadline is None else min(
                GATE_POLL_S, max(deadline - time.monotonic(), 0.0))
            try:
                code = proc.wait(timeout=step)
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                monitor.poll(progress)
                continue
            monitor.poll(progress)  # the last segments, for the record's gate warnings
            return code


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the simulator's process group, SIGKILL it 5 s later."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
