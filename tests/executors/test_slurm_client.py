"""The SLURM executor's scheduler client on canned scheduler output (no cluster needed): limits,
array chunks and the submit throttle, calls per poll and back-off, transient errors."""

from __future__ import annotations

import dataclasses
import subprocess
import types
from pathlib import Path
from typing import Any

import pytest
from submitit.core.utils import FailedJobError

from orchestrator.executors import JobState
from orchestrator.executors.slurm import SlurmExecutor, SubmitError
from orchestrator.executors.slurm_client import (
    PollBackoff,
    backoff_cap,
    is_transient,
    pack_problem,
    parse_assoc,
    parse_qos,
    read_limits,
    retry,
)
from orchestrator.executors.watcher import JobWatcher, Limits, WatchedTask
from tests.slurm.conftest import make_options

CONFIG = "Configuration data as of 2026-12-02T10:00:00\nMaxArraySize            = 1001\n" \
         "MaxJobCount             = 100000\n"
ASSOC = "proj|200|50|normal,debug|\nother|5000|||\n"
QOS = "normal|100|40||\ndebug|4|2||\n"

TRANSIENT = [
    "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
    "sbatch: error: Batch job submission failed: Resource temporarily unavailable",
    "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
    "sacct: error: Problem talking to the database: Connection refused",
    "squeue: error: slurm_receive_msg: Zero Bytes were transmitted or received",
    "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying",
    "scancel: error: Slurm controller not responding, sleeping and retrying",
    "squeue timed out after 60 s",
]
PERMANENT = [
    "sbatch: error: Batch job submission failed: Invalid partition name specified",
    "sbatch: error: Batch job submission failed: Requested node configuration is not available",
    "sbatch: error: Batch job submission failed: Invalid job array specification",
]


class Clock:
    """A fake monotonic clock; ``sleep`` advances it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


class FakeSlurm:
    """Canned scheduler: a queue of job ids, sacct records of the jobs that left it; every
    command counted. ``fail`` makes the next commands of a kind fail with a message."""

    def __init__(self, limits: dict[str, str] | None = None) -> None:
        self.queue: dict[str, str] = {}  # job id -> squeue state
        self.done: dict[str, str] = {}  # job id -> sacct state
        self.calls: list[list[str]] = []
        self.fail: dict[str, list[str]] = {}
        self.next_array = 100
        self.out = {"scontrol": CONFIG, "assoc": "root|||normal|", "qos": "normal||||"}
        self.out.update(limits or {})
        self.max_queued = 0
        self.arrays: list[int] = []  # sizes of submitted arrays

    def run(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        if self.fail.get(cmd[0]):
            return subprocess.CompletedProcess(cmd, 1, "", self.fail[cmd[0]].pop(0))
        out = ""
        if cmd[0] == "scontrol":
            out = self.out["scontrol"]
        elif cmd[:3] == ["sacctmgr", "-n", "-P"]:
            out = self.out["assoc" if cmd[4] == "assoc" else "qos"]
        elif cmd[0] == "squeue":
            out = "".join(f"{j}|{s}|2026-12-02T10:00:00|None\n" for j, s in self.queue.items())
        elif cmd[0] == "sacct":
            arrays = set(cmd[2].split(","))
            out = "".join(f"{j}|{s}|2026-12-02T10:00:00|0:0|00:00:01|vm\n"
                          for j, s in self.done.items() if j.split("_")[0] in arrays)
        elif cmd[0] == "scancel":
            for spec in cmd[1:]:
                base = spec.split("_")[0]
                for j in [j for j in self.queue if j.split("_")[0] == base]:
                    self.done[j] = "CANCELLED by 0"
                    del self.queue[j]
        return subprocess.CompletedProcess(cmd, 0, out, "")

    def sbatch(self, args: list[list[str]]) -> list[Any]:
        """One array, a task per pack of task files."""
        self.calls.append(["sbatch"])
        if self.fail.get("sbatch"):
            raise FailedJobError(self.fail["sbatch"].pop(0))
        base, self.next_array = self.next_array, self.next_array + 1
        self.arrays.append(len(args))
        ids = [f"{base}_{i}" for i in range(len(args))]
        for jid in ids:
            self.queue[jid] = "PENDING"
        self.max_queued = max(self.max_queued, len(self.queue))
        return [types.SimpleNamespace(job_id=j) for j in ids]

    def finish(self, jid: str, state: str = "COMPLETED") -> None:
        del self.queue[jid]
        self.done[jid] = state

    def count(self, kind: str) -> int:
        return sum(1 for c in self.calls if c[0] == kind)


def _executor(tmp_path: Path, fake: FakeSlurm, clock: Clock, **kw: Any) -> SlurmExecutor:
    ex = SlurmExecutor(tmp_path / "jobs", make_options(**kw))
    ex._run = types.MethodType(lambda self, cmd: fake.run(cmd), ex)  # type: ignore[method-assign]
    ex._sbatch = types.MethodType(  # type: ignore[method-assign]
        lambda self, packs: fake.sbatch(packs), ex)
    ex._clock, ex._sleep = clock, clock.sleep
    return ex


# -- limits ---------------------------------------------------------------------------------------
def test_limits_parsed_from_association_and_qos() -> None:
    assert parse_assoc(ASSOC, None) == (200, 50, ["normal", "debug"], None)
    assert parse_assoc(ASSOC, "other")[:2] == (5000, None)
    assert parse_qos(QOS, "debug") == (4, 2) and parse_qos(QOS, "nope") == (None, None)
    opts = make_options()
    fake = FakeSlurm({"assoc": ASSOC, "qos": QOS})
    lim = read_limits(fake.run, opts, "u")
    assert (lim.max_array_size, lim.max_submit_jobs, lim.max_jobs) == (1001, 100, 40)
    # the QOS asked for in additional_parameters is the one that counts
    opts = make_options(slurm={"additional_parameters": {"qos": "debug"}})
    assert read_limits(fake.run, opts, "u").max_submit_jobs == 4
    # config overrides what was read
    opts = make_options(slurm={"max_array_size": 5, "max_submit_jobs": 7})
    lim = read_limits(fake.run, opts, "u")
    assert (lim.max_array_size, lim.max_submit_jobs) == (5, 7)
    # nothing readable: unlimited submissions, a conservative array size
    fake.fail = {"scontrol": ["down"], "sacctmgr": ["down"]}
    lim = read_limits(fake.run, make_options(), "u")
    assert (lim.max_array_size, lim.max_submit_jobs) == (1001, None)


def test_a_large_batch_is_several_arrays_every_index_below_the_limit(tmp_path: Path) -> None:
    fake, clock = FakeSlurm({"scontrol": "MaxArraySize = 5\n"}), Clock()
    ex = _executor(tmp_path, fake, clock)
    ids = ex.submit([tmp_path / f"t{i}.json" for i in range(23)], "big")
    assert fake.arrays == [5, 5, 5, 5, 3] and len(set(ids)) == 23
    assert max(int(j.split("_")[1]) for j in ids) == 4
    assert fake.count("scontrol") == 1  # limits read once per executor
    ex.submit([tmp_path / "t.json"], "again")
    assert fake.count("scontrol") == 1


def test_packs_full_arrays_a_smaller_remainder_and_capacity_in_evaluations(
        tmp_path: Path) -> None:
    """pack 3 under MaxArraySize 2 and MaxSubmitJobs 4: 14 tasks = 4 full packs (arrays of 2 and
    2 tasks, 3 CPUs each) + a smaller pack of 2 (2 CPUs); each evaluation has its pack's id."""
    fake = FakeSlurm({"scontrol": "MaxArraySize = 2\n", "qos": "normal|4|||\n"})
    ex = _executor(tmp_path, fake, Clock(), pack=3, time_limit_s=600, max_parallel=7,
                   slurm={"mem_gb": 1.5})
    assert ex.capacity() == 4 * 3  # the submit limit counts tasks, the watcher evaluations
    seen: list[dict[str, Any]] = []
    real = fake.sbatch

    def spy(packs: list[list[str]]) -> list[Any]:
        p = ex._ex.parameters
        seen.append({"sizes": [len(k) for k in packs], "cpus": p["cpus_per_task"],
                     "mem": p["mem"], "time": p["time"], "par": p["array_parallelism"]})
        return real(packs)

    ex._sbatch = types.MethodType(lambda self, packs: spy(packs), ex)  # type: ignore[method-assign]
    paths = [tmp_path / f"t{i}.json" for i in range(14)]
    ids = ex.submit(paths, "packed")
    assert [s["sizes"] for s in seen] == [[3, 3], [3, 3], [2]]
    assert [(s["cpus"], s["mem"]) for s in seen] == [(3, "4608M")] * 2 + [(2, "3072M")]
    assert {s["time"] for s in seen} == {11}  # (600 s + 30 s margin) in whole minutes
    assert [s["par"] for s in seen] == [3, 3, 4]  # ceil(max_parallel 7 / pack size)
    assert len(set(ids)) == 5 and [ids.count(i) for i in dict.fromkeys(ids)] == [3, 3, 3, 3, 2]
    assert max(int(j.split("_")[1]) for j in ids) == 1
    assert ex.capacity() == 0  # 5 tasks queued > 4 (the remainder went out with the batch)


def test_submit_limit_throttles_through_the_watcher(tmp_path: Path) -> None:
    """23 evaluations, MaxSubmitJobs 4 (QOS): never more than 4 queued, all submitted in the
    end, the job table holds every chunk's ids (re-attachable)."""
    fake = FakeSlurm({"scontrol": "MaxArraySize = 5\n", "qos": "normal|4|||\n"})
    clock = Clock()
    ex = _executor(tmp_path, fake, clock)
    jobs: dict[str, dict[str, Any]] = {}
    saved: list[int] = []
    watcher = JobWatcher(ex, Limits(120.0, poll_interval_s=0.0), jobs,
                         lambda: saved.append(len(jobs)))
    tasks = []
    for i in range(23):
        d = tmp_path / f"e{i}"
        d.mkdir()
        tasks.append(WatchedTask(f"k{i}", {"eval_dir": str(d), "generation": 0, "individual": i}))
    assert watcher.add(tasks) == []
    for _ in range(200):
        watcher.step()
        assert len(fake.queue) <= 4
        for jid in list(fake.queue)[:2]:  # two jobs end per tick (no result: crashed)
            fake.finish(jid)
        clock.t += 1.0
        if len(jobs) == 23:
            break
    assert len(jobs) == 23 and fake.max_queued == 4
    assert len({j["job_id"] for j in jobs.values()}) == 23 and saved[-1] == 23


# -- a quiet client -------------------------------------------------------------------------------
def test_2000_in_flight_one_squeue_per_poll_and_back_off(tmp_path: Path) -> None:
    fake, clock = FakeSlurm(), Clock()
    ex = _executor(tmp_path, fake, clock, poll_interval_s=1.0)
    ids = ex.submit([tmp_path / f"t{i}.json" for i in range(2000)], "many")
    assert fake.arrays == [1001, 999]
    for jid in ids:
        fake.queue[jid] = "RUNNING"
    fake.calls.clear()
    per_minute = []
    for minute in range(10):
        before = len(fake.calls)
        for _ in range(60 * 4):  # the watcher asks 4 times a second
            n = len(fake.calls)
            st = ex.poll(ids)
            assert len(fake.calls) - n <= 1  # at most one scheduler call per poll
            clock.t += 0.25
        per_minute.append(len(fake.calls) - before)
        assert all(s.state is JobState.RUNNING for s in st.values())
    assert fake.count("sacct") == 0  # nothing left the queue: no sacct at all
    assert per_minute[0] <= 12 and max(per_minute[2:]) <= 6, per_minute
    assert ex._backoff.interval == backoff_cap(1.0, None) == 10.0
    # a job leaves the queue: one squeue + one sacct, then the interval snaps back
    fake.finish(ids[7])
    clock.t += 10.0
    n = len(fake.calls)
    assert ex.poll(ids)[ids[7]].state is JobState.COMPLETED
    assert [c[0] for c in fake.calls[n:]] == ["squeue", "sacct"]
    assert ex._backoff.interval == 1.0
    # quiet again, then a result arrives (the caller stops asking for a job): snaps back
    for _ in range(30):
        ex.poll(ids)
        clock.t += 1.0
    assert ex._backoff.interval > 5.0
    ex.poll(ids[10:])
    assert ex._backoff.interval <= 1.5


def test_backoff() -> None:
    b = PollBackoff(1.0, 4.0)
    for _ in range(10):
        b.quiet()
    assert b.interval == 4.0
    b.news()
    assert b.interval == 1.0
    assert backoff_cap(0.2, None) == 2.0 and backoff_cap(30.0, None) == 60.0
    assert backoff_cap(60.0, None) == 60.0 and backoff_cap(1.0, 5.0) == 5.0


# -- transient errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", TRANSIENT)
def test_transient_messages(text: str) -> None:
    assert is_transient(text)


@pytest.mark.parametrize("text", PERMANENT)
def test_permanent_messages(text: str) -> None:
    assert not is_transient(text)


def test_retry_backs_off_then_gives_up() -> None:
    clock = Clock()
    tries = []

    def flaky() -> str:
        tries.append(clock.t)
        if len(tries) < 4:
            raise RuntimeError("Socket timed out on send/recv operation")
        return "ok"

    assert retry(flaky, 600, "x", sleep=clock.sleep, clock=clock) == "ok"
    assert clock.slept == [1.0, 2.0, 4.0]

    def down() -> str:
        raise RuntimeError("Unable to contact slurm controller (connect failure)")

    clock = Clock()
    with pytest.raises(RuntimeError, match="Unable to contact"):
        retry(down, 100, "x", sleep=clock.sleep, clock=clock)
    assert 100 <= sum(clock.slept) <= 101 and max(clock.slept) == 30.0

    def refused() -> str:
        raise RuntimeError("Invalid partition name specified")

    clock = Clock()
    with pytest.raises(RuntimeError, match="Invalid partition"):
        retry(refused, 600, "x", sleep=clock.sleep, clock=clock)
    assert clock.slept == []


def test_sbatch_retried_on_transient_errors(tmp_path: Path) -> None:
    fake, clock = FakeSlurm(), Clock()
    ex = _executor(tmp_path, fake, clock)
    fake.fail["sbatch"] = [TRANSIENT[0], TRANSIENT[2], TRANSIENT[1]]
    ids = ex.submit([tmp_path / "a.json", tmp_path / "b.json"], "flaky")
    assert len(ids) == 2 and fake.count("sbatch") == 4 and clock.slept == [1.0, 2.0, 4.0]
    # a permanent refusal is a SubmitError at once
    fake.fail["sbatch"] = [PERMANENT[0]]
    with pytest.raises(SubmitError, match="Invalid partition"):
        ex.submit([tmp_path / "c.json"], "bad")


def test_sbatch_gives_up_after_scheduler_retry_s_and_cancels_earlier_chunks(
        tmp_path: Path) -> None:
    fake, clock = FakeSlurm({"scontrol": "MaxArraySize = 2\n"}), Clock()
    ex = _executor(tmp_path, fake, clock, slurm={"scheduler_retry_s": 60.0})
    real = fake.sbatch

    def second_chunk_down(packs: list[list[str]]) -> list[Any]:
        if fake.arrays:  # the first array went through; then slurmctld stays down
            fake.calls.append(["sbatch"])
            raise FailedJobError(TRANSIENT[2])
        return real(packs)

    ex._sbatch = types.MethodType(  # type: ignore[method-assign]
        lambda self, packs: second_chunk_down(packs), ex)
    with pytest.raises(SubmitError, match="Unable to contact"):
        ex.submit([tmp_path / f"t{i}.json" for i in range(4)], "down")
    assert 60 <= sum(clock.slept) <= 61
    assert fake.queue == {} and set(fake.done) == {"100_0", "100_1"}  # the first chunk: cancelled


def test_a_failing_poll_is_a_poll_without_news(tmp_path: Path) -> None:
    fake, clock = FakeSlurm(), Clock()
    ex = _executor(tmp_path, fake, clock, poll_interval_s=1.0)
    ids = ex.submit([tmp_path / "a.json", tmp_path / "b.json"], "x")
    fake.queue[ids[0]] = "RUNNING"
    clock.t += 2
    assert ex.poll(ids)[ids[0]].state is JobState.RUNNING
    fake.finish(ids[0])
    fake.fail = {"squeue": [TRANSIENT[2]] * 3, "sacct": [TRANSIENT[3]]}
    for _ in range(3):  # slurmctld down: the last known states, never UNKNOWN or lost
        clock.t += 100
        st = ex.poll(ids)
        assert st[ids[0]].state is JobState.RUNNING and st[ids[1]].state is JobState.PENDING
    clock.t += 100  # squeue back, sacct still failing once
    st = ex.poll(ids)
    assert st[ids[0]].state is JobState.RUNNING
    clock.t += 100
    assert ex.poll(ids)[ids[0]].state is JobState.COMPLETED


def test_scancel_retried(tmp_path: Path) -> None:
    fake, clock = FakeSlurm(), Clock()
    ex = _executor(tmp_path, fake, clock)
    ids = ex.submit([tmp_path / "a.json"], "x")
    fake.fail["scancel"] = [TRANSIENT[6], TRANSIENT[0]]
    ex.cancel(ids)
    assert fake.count("scancel") == 3 and fake.queue == {}


def test_options_are_frozen_dataclasses() -> None:
    opts = make_options()
    assert dataclasses.replace(opts.slurm, scheduler_retry_s=5.0).scheduler_retry_s == 5.0
    assert opts.slurm.scheduler_retry_s == 600.0 and opts.slurm.max_array_size is None


def test_pack_problem_when_a_pack_does_not_fit_on_a_node() -> None:
    def sinfo(out: str, code: int = 0) -> Any:
        return lambda cmd: subprocess.CompletedProcess(cmd, code, out, "")

    opts = make_options(pack=4, slurm={"cpus_per_task": 2, "partition": "short"})
    why = pack_problem(sinfo("16\n6+\n"), opts)
    assert why is None  # 8 CPUs fit on the 16-CPU nodes
    why = pack_problem(sinfo("6\n4\n"), opts)
    assert why is not None and why.startswith("executor.pack: expected at most 3 (")
    assert "8 CPUs per array task" in why and "partition 'short' has 6" in why
    assert why.endswith("found 4")
    assert pack_problem(sinfo("", 1), opts) is None  # unreadable: sbatch will say
    assert pack_problem(sinfo("1\n"), make_options(pack=1)) is None
