"""The evaluation runner: plan a run, execute its episodes on a backend, keep every result.

A run lives in a run folder (see :mod:`policywright.evals._rundir`). Episodes are executed by a
backend: the local process pool here (:class:`LocalPool`) or a Ray cluster
(:class:`policywright.evals._ray.RayPool`). Both hand each worker one episode at a time as a
JSON string and get its ``EpisodeResult`` back as a JSON string; nothing is unpickled.

Failure handling is the same on every backend (:class:`Tracker`): a worker that dies, hangs past
the episode's wall-clock limit, or returns an infrastructure error gets that try recorded as an
``infra_error`` (``episodes/<suite>/<id>.infra.json``) and the episode is tried once more on a
fresh worker; a second infrastructure error is the episode's result. The run goes on either way,
and each finished episode is on disk (atomically) before the next one is handed out.

Start method of the local pool: "spawn" (the default). Measured on the project machine (2
cores, shared): a spawned worker is ready after 1.4-1.7 s (imports, then its sandbox zygote),
one from a forkserver that preloads the engine after 1.35 s, a forked one after 0.2 s when the
parent has already imported everything; each worker pays it once (and again after a crash), a
few seconds per run. All three ran PyBullet episodes correctly, but fork copies whatever the
parent holds (a progress-bar thread, SQLite handles, PyBullet clients), so spawn is the default
and the others are options for measurements.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policywright.errors import ConfigError, InternalError, UnknownNameError, UserError
from policywright.evals._jobs import (
    DEFAULT_EPISODE_FN,
    MAX_START_FAILURES,
    WORKER_START_TIMEOUT_S,
    EventSink,
    Job,
    Tracker,
    load_episode_fn,
)
from policywright.evals._rundir import (
    Manifest,
    PlannedEpisode,
    artifacts_dir,
    atomic_write_text,
    finished,
    package_version,
    read_manifest,
)

__all__ = [
    "DEFAULT_EPISODE_FN",
    "Backend",
    "ConnectedBackend",
    "Job",
    "LocalPool",
    "RunOptions",
    "RunSummary",
    "Tracker",
    "default_workers",
    "execute_run",
    "make_backend",
    "open_run",
    "plan_run",
    "run_eval",
]

logger = logging.getLogger(__name__)

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunOptions(_Model):
    """What to run (everything that decides the episode set) and the timeout policy.

    Attributes:
        suites: Suite ids or YAML paths.
        planner: The planner without a model ("offline").
        llm: A chat model spec; when set the LLM planner plans.
        splits: Split ids (None = every split of each suite).
        tasks: Task ids (None = every task).
        trials: Trials per (task, split) cell (None = each suite's default).
        seed: The run seed (each episode's seed derives from it).
        gif: Record a GIF per episode.
        verify: How episodes are verified: "code", "vlm" or "both" (``EngineConfig.verify``).
        skills: Skill family -> variant id (``EngineConfig.skills``), to compare skill variants.
        llm_settings: ``EngineConfig.llm_settings`` for the model backends (timeouts, retries,
            prices, cache); never an API key (it would be written to the run's manifest; the
            workers read keys from the environment).
        timeout_base_s: Wall seconds every episode gets (planning, model calls, setup).
        timeout_factor: Plus this many wall seconds per simulated second of the task's limit.
        rehearse: Rehearse each program in a twin built from perception before the real run.
        candidates: Programs per attempt (``EngineConfig.candidates``; None = the default).
        rehearsal_budget: ``EngineConfig.rehearsal_budget`` (None = the default).
    """

    suites: list[str] = Field(min_length=1)
    planner: str = "offline"
    llm: str | None = None
    splits: list[str] | None = None
    tasks: list[str] | None = None
    trials: int | None = Field(default=None, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)
    gif: bool = False
    verify: Literal["code", "vlm", "both"] = "code"
    skills: dict[str, str] = Field(default_factory=dict)
    llm_settings: dict[str, Any] = Field(default_factory=dict)
    timeout_base_s: float = Field(default=120.0, ge=0.0)
    timeout_factor: float = Field(default=1.0, gt=0.0)
    rehearse: bool = True
    candidates: int | None = Field(default=None, ge=1, le=8)
    rehearsal_budget: int | None = Field(default=None, ge=0, le=50)


class RunSummary(_Model):
    """What one execution of a run did.

    Attributes:
        run_dir: The run folder.
        backend: The backend's description.
        planned: Episodes in the run.
        skipped: Episodes already finished by an earlier execution.
        ran: Episodes executed now.
        succeeded: Of those, successes.
        failed: Of those, task failures.
        infra_errors: Of those, infrastructure errors (after the retry).
        retried: Tries that ended in an infrastructure error and were retried.
        wall_s: Wall seconds of this execution.
    """

    run_dir: str
    backend: str
    planned: int
    skipped: int
    ran: int = 0
    succeeded: int = 0
    failed: int = 0
    infra_errors: int = 0
    retried: int = 0
    wall_s: float = 0.0

    @property
    def episodes_per_min(self) -> float:
        """Throughput of this execution."""
        return 60.0 * self.ran / self.wall_s if self.wall_s > 0 else 0.0


class Backend(Protocol):
    """Executes jobs and reports each outcome to the tracker."""

    def describe(self) -> str:
        """One line for the user: what runs the episodes."""
        ...

    def run(self, tracker: Tracker) -> None:
        """Execute until the tracker has a final result for every job."""
        ...


@runtime_checkable
class ConnectedBackend(Backend, Protocol):
    """A backend that talks to something outside this process (the Ray pool's cluster).

    ``connect`` before the run (it says what it connected to), ``close`` after it, whatever
    happened; a local pool has neither.
    """

    def connect(self) -> str:
        """Connect; one line saying to what.

        Raises:
            UserError: the address does not answer.
        """
        ...

    def close(self) -> None:
        """Release the connection (the run is over)."""
        ...


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# -- planning ----------------------------------------------------------------------------------


def plan_run(options: RunOptions) -> list[PlannedEpisode]:
    """Every episode of a run, in a deterministic order (suite, split, task, trial).

    With several suites (``eval all``) a split or task filter applies to the suites that have
    it; it must match at least one.

    Raises:
        UnknownNameError: an unknown suite, split or task (did-you-mean).
        ConfigError: a malformed suite file.
        UserError: the filters leave nothing to run.
    """
    from policywright.config import SkillSelection
    from policywright.evals._episodes import plan_episodes
    from policywright.evals._schema import load_suite
    from policywright.skills import default_skill_registry

    try:
        selection = SkillSelection.model_validate(options.skills)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid skill selection: {problems}") from None
    if "api_key" in options.llm_settings:
        raise UserError(
            "an evaluation does not take an API key in its settings (the run's manifest would "
            "store it): set the provider's environment variable instead"
        )
    if options.skills:  # unknown ids fail here (did-you-mean), not in every worker
        registry = default_skill_registry()
        for skill_id in selection.model_dump().values():
            registry.get(skill_id)

    several = len(options.suites) > 1
    planned: list[PlannedEpisode] = []
    known_splits: set[str] = set()
    known_tasks: set[str] = set()
    for ref in options.suites:
        suite = load_suite(ref)
        task_ids = [t.id for t in suite.tasks]
        known_splits.update(suite.splits)
        known_tasks.update(task_ids)
        splits, tasks = options.splits, options.tasks
        if several and splits is not None:
            splits = [s for s in splits if s in suite.splits]
            if not splits:
                continue
        if several and tasks is not None:
            tasks = [t for t in tasks if t in task_ids]
            if not tasks:
                continue
        specs = plan_episodes(
            suite,
            splits=splits,
            tasks=tasks,
            trials=options.trials or suite.trials,
            seed=options.seed,
            planner=options.planner,
            llm=options.llm,
            gif=options.gif,
            verify=options.verify,
            skills=dict(options.skills),
            llm_settings=dict(options.llm_settings),
            rehearse=options.rehearse,
            candidates=options.candidates,
            rehearsal_budget=options.rehearsal_budget,
        )
        for spec in specs:
            task = suite.task(spec.task_id)
            timeout = options.timeout_base_s + options.timeout_factor * task.limits.max_sim_s
            planned.append(
                PlannedEpisode(
                    key=f"{suite.id}/{spec.episode_id}",
                    suite_id=suite.id,
                    family=task.family,
                    timeout_s=timeout,
                    spec=spec.model_dump(mode="json"),
                )
            )
    if several:
        for name in options.splits or []:
            if name not in known_splits:
                raise UnknownNameError("split", name, sorted(known_splits))
        for name in options.tasks or []:
            if name not in known_tasks:
                raise UnknownNameError("task", name, sorted(known_tasks))
    keys = [p.key for p in planned]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise UserError(f"two suites of this run share an id: episodes {dupes[:3]} collide")
    if not planned:
        raise UserError(
            "nothing to run: no task of the chosen suites is in the chosen splits "
            f"(splits {options.splits}, tasks {options.tasks})"
        )
    return planned


def _default_run_id(options: RunOptions, label: str | None) -> str:
    from pathlib import PurePath

    name = label or "+".join(PurePath(s).stem for s in options.suites)
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", name)[:80]
    return f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def _first_difference(old: Manifest, new: list[PlannedEpisode]) -> str:
    if len(old.episodes) != len(new):
        return f"it plans {len(old.episodes)} episodes, these options {len(new)}"
    for a, b in zip(old.episodes, new, strict=True):
        if a.key != b.key or a.spec != b.spec:
            changed = sorted(k for k in {*a.spec, *b.spec} if a.spec.get(k) != b.spec.get(k))
            return f"episode {a.key} differs in {', '.join(changed) or 'its id'}"
    return "the options differ"


def open_run(
    options: RunOptions,
    out: Path,
    run_id: str | None = None,
    *,
    label: str | None = None,
    planned: list[PlannedEpisode] | None = None,
) -> tuple[Path, Manifest]:
    """Create a run folder, or reopen an unfinished one with the same episodes.

    Args:
        options: What to run.
        out: The parent folder of run folders (``runs/``).
        run_id: The folder's name (default: suites and the UTC time).
        label: Name part of a default run id ("all").
        planned: The episodes, when the caller has planned them already (:func:`plan_run`).

    Returns:
        The run folder and its manifest.

    Raises:
        UserError: the folder exists and holds another run, another format version, or is not
            a run folder; a malformed run id.
    """
    planned = plan_run(options) if planned is None else planned
    run_id = run_id or _default_run_id(options, label)
    if not _RUN_ID.match(run_id):
        raise UserError(f"invalid run id {run_id!r}: use letters, digits and . _ + - (at most 128)")
    run_dir = out / run_id
    if (run_dir / "manifest.json").is_file():
        manifest = read_manifest(run_dir)
        if [(e.key, e.spec) for e in manifest.episodes] != [(e.key, e.spec) for e in planned]:
            why = _first_difference(manifest, planned)
            raise UserError(
                f"{run_dir} holds a run with other episodes ({why}):"
                f" resume it as it was with `policywright eval {run_dir}`, or start a new run "
                "with another --run-id"
            )
        return run_dir, manifest
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"{run_dir} exists and is not a run folder: choose another --run-id")
    manifest = Manifest(
        run_id=run_id,
        policywright_version=package_version(),
        suites=list(options.suites),
        options=options.model_dump(mode="json"),
        episodes=planned,
    )
    atomic_write_text(run_dir / "manifest.json", manifest.model_dump_json(indent=1))
    return run_dir, manifest


def jobs_for(run_dir: Path, manifest: Manifest) -> tuple[list[Job], int]:
    """The jobs still to run (unfinished episodes) and how many are already finished."""
    done = finished(run_dir, [e.key for e in manifest.episodes])
    jobs = [
        Job(
            key=e.key,
            episode_id=e.episode_id,
            suite_id=e.suite_id,
            family=e.family,
            spec_json=json.dumps(e.spec),
            out_dir=str(artifacts_dir(run_dir, e.suite_id).resolve()),
            timeout_s=e.timeout_s,
        )
        for e in manifest.episodes
        if e.key not in done
    ]
    return jobs, len(done)


# Outcome bookkeeping (Job, Tracker) is in evals/_jobs.py, shared with the Ray backend.


# -- the local process pool --------------------------------------------------------------------


def _redirect_output(log_path: str | None) -> None:
    """Send the worker's fds 1 and 2 to the run's worker log.

    PyBullet's C code and the engine's warnings write there; on the terminal they would tear
    the parent's progress bar (and anything on fd 1 would corrupt ``--json`` output).
    """
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    os.dup2(2, 1)


def worker_main(conn: multiprocessing.connection.Connection, fn_path: str, log: str | None) -> None:
    """A pool worker: one sandbox for its life, one episode per request, JSON both ways.

    Args:
        conn: The worker's end of its pipe (bytes: UTF-8 JSON messages).
        fn_path: The episode function, ``module:function``.
        log: A file for the worker's stdout and stderr (None: inherit stderr).
    """
    _redirect_output(log)
    # Ctrl-C reaches the whole process group: the parent decides, and kills us if it must.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format=f"[worker {os.getpid()}] %(message)s")
    from policywright.agent.sandbox import Sandbox

    fn = load_episode_fn(fn_path)
    if fn_path == DEFAULT_EPISODE_FN:
        # Episodes import the engine (LangGraph, PyBullet) lazily: import it before "ready" so
        # that the first episode's wall-clock limit does not pay for it.
        importlib.import_module("policywright.engine")
    sandbox = Sandbox()
    sandbox.start()
    try:
        conn.send_bytes(json.dumps({"type": "ready", "pid": os.getpid()}).encode())
        while True:
            try:
                request = json.loads(conn.recv_bytes())
            except EOFError:  # the parent is gone
                return
            if request.get("type") != "episode":
                return
            sandbox.start()  # restarts the zygote if it died
            reply: dict[str, Any] = {"type": "result", "key": request["key"]}
            try:
                reply["result"] = fn(request["spec"], request["out_dir"], sandbox=sandbox)
            except Exception:
                reply["error"] = traceback.format_exc()
            conn.send_bytes(json.dumps(reply).encode())
    finally:
        sandbox.close()


class _Worker:
    """The pool's handle on one worker process."""

    def __init__(self, ctx: Any, fn_path: str, log: str | None, index: int) -> None:
        self.conn, theirs = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(
            target=worker_main,
            args=(theirs, fn_path, log),
            name=f"policywright-eval-{index}",
            daemon=True,
        )
        self.proc.start()
        theirs.close()
        self.started = time.monotonic()
        self.ready = False
        self.job: tuple[Job, int] | None = None
        self.submitted = 0.0

    def submit(self, item: tuple[Job, int]) -> None:
        self.job = item
        self.submitted = time.monotonic()
        self.conn.send_bytes(item[0].message().encode())

    def overdue(self, now: float) -> bool:
        if self.job is not None:
            return now - self.submitted > self.job[0].timeout_s
        return not self.ready and now - self.started > WORKER_START_TIMEOUT_S

    def deadline(self) -> float:
        if self.job is not None:
            return self.submitted + self.job[0].timeout_s
        return float("inf") if self.ready else self.started + WORKER_START_TIMEOUT_S

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=10)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b'{"type": "stop"}')
        self.proc.join(timeout=15)
        self.kill()


class LocalPool:
    """Runs episodes on worker processes of this machine.

    Args:
        workers: Worker processes (at most one per job).
        episode_fn: The episode function, ``module:function`` (tests inject fakes).
        start_method: multiprocessing start method ("spawn"; see the module docstring).
        log_name: File name (in the run folder) of the workers' output; None = inherit.
    """

    def __init__(
        self,
        workers: int,
        *,
        episode_fn: str = DEFAULT_EPISODE_FN,
        start_method: Literal["spawn", "forkserver", "fork"] = "spawn",
        log_name: str | None = "workers.log",
    ) -> None:
        if workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.episode_fn = episode_fn
        self.start_method = start_method
        self.log_name = log_name

    def describe(self) -> str:
        """What runs the episodes."""
        return f"local process pool, {self.workers} worker(s) ({self.start_method})"

    def run(self, tracker: Tracker) -> None:
        """Execute every job of the tracker."""
        if tracker.done():
            return
        ctx = multiprocessing.get_context(self.start_method)
        log = str(tracker.run_dir / self.log_name) if self.log_name else None
        n = min(self.workers, len(tracker.jobs))
        counter = iter(range(1 << 30))
        pool = [_Worker(ctx, self.episode_fn, log, next(counter)) for _ in range(n)]
        start_failures = 0
        try:
            while not tracker.done():
                for w in pool:
                    if w.ready and w.job is None:
                        item = tracker.take()
                        if item is not None:
                            w.submit(item)
                now = time.monotonic()
                nearest = min(w.deadline() for w in pool)
                timeout = max(0.0, nearest - now) if nearest != float("inf") else 5.0
                multiprocessing.connection.wait(
                    [w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=timeout
                )
                for i, w in enumerate(pool):
                    outcome = self._service(w, tracker)
                    if outcome == "ok":
                        continue
                    if outcome == "start_failed":
                        start_failures += 1
                        if start_failures >= MAX_START_FAILURES:
                            raise InternalError(
                                f"{start_failures} pool workers in a row died before they were"
                                f" ready; see {log or 'stderr'}"
                            )
                    else:
                        start_failures = 0
                    tracker.log(f"worker {w.proc.pid} replaced ({outcome})")
                    pool[i] = _Worker(ctx, self.episode_fn, log, next(counter))
        finally:
            for w in pool:
                if w.job is None:
                    w.stop()
                else:  # interrupted mid-episode: nobody waits for its result
                    w.kill()

    def _service(self, w: _Worker, tracker: Tracker) -> str:
        """Read what a worker says; returns "ok" or why it must be replaced."""
        message: dict[str, Any] | None = None
        try:
            if w.conn.poll():
                message = json.loads(w.conn.recv_bytes())
        except (EOFError, OSError):
            message = None
        if message is not None:
            if message.get("type") == "ready":
                w.ready = True
                tracker.worker_ready(int(message.get("pid", 0)))
                return "ok"
            if message.get("type") == "result" and w.job is not None:
                job, try_no = w.job
                w.job = None
                wall = time.monotonic() - w.submitted
                if "result" in message:
                    bad = tracker.complete(job, try_no, str(message["result"]), wall)
                else:
                    tracker.infra(job, try_no, str(message.get("error", "")), wall)
                    bad = True
                if bad:
                    w.kill()
                    return "infrastructure error"
                return "ok"
        if not w.proc.is_alive():
            w.proc.join(timeout=5)
            code = w.proc.exitcode
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            w.conn.close()
            if w.job is not None:
                job, try_no = w.job
                wall = time.monotonic() - w.submitted
                tracker.infra(
                    job, try_no, f"the worker process died during the episode ({how})", wall
                )
                return f"died, {how}"
            return "start_failed" if not w.ready else f"died while idle, {how}"
        if w.overdue(time.monotonic()):
            if w.job is not None:
                job, try_no = w.job
                w.kill()
                tracker.infra(
                    job,
                    try_no,
                    f"no result within the episode's wall-clock limit of {job.timeout_s:.0f} s;"
                    " the worker was killed",
                    time.monotonic() - w.submitted,
                )
                return "hung"
            w.kill()
            return "start_failed"
        return "ok"


# -- the whole run -----------------------------------------------------------------------------


def execute_run(
    run_dir: Path,
    manifest: Manifest,
    backend: Backend,
    *,
    on_event: EventSink | None = None,
) -> RunSummary:
    """Run every unfinished episode of a run folder on a backend.

    Args:
        run_dir: The run folder.
        manifest: Its manifest.
        backend: The local pool or Ray.
        on_event: Progress sink; first gets ("start", {"total", "skipped", "todo", "backend"}).

    Returns:
        What this execution did (finished episodes are skipped, not counted in ``ran``).
    """
    jobs, skipped = jobs_for(run_dir, manifest)
    summary = RunSummary(
        run_dir=str(run_dir),
        backend=backend.describe(),
        planned=len(manifest.episodes),
        skipped=skipped,
    )
    if on_event is not None:
        on_event(
            "start",
            {
                "total": len(manifest.episodes),
                "skipped": skipped,
                "todo": len(jobs),
                "backend": summary.backend,
            },
        )
    tracker = Tracker(run_dir, jobs, on_event)
    t0 = time.monotonic()
    try:
        backend.run(tracker)
    finally:
        counts = tracker.summary_counts
        summary.wall_s = time.monotonic() - t0
        summary.succeeded = counts["succeeded"]
        summary.failed = counts["failed"]
        summary.infra_errors = counts["infra_error"]
        summary.retried = counts["retried"]
        summary.ran = summary.succeeded + summary.failed + summary.infra_errors
    return summary


def make_backend(ray: str | None, workers: int | None, start_method: str = "spawn") -> Backend:
    """A Ray pool when ``ray`` is given ("auto" or HOST:PORT), else a local process pool.

    Raises:
        UserError: an unknown start method, or fewer than one worker.
    """
    if ray is not None:
        from policywright.evals._ray import RayPool

        return RayPool(ray, workers)
    if start_method not in ("spawn", "forkserver", "fork"):
        raise UserError(f"--start-method must be spawn, forkserver or fork, not {start_method!r}")
    return LocalPool(workers or default_workers(), start_method=start_method)  # type: ignore[arg-type]


def run_eval(
    options: RunOptions,
    out: str | Path = "runs",
    *,
    workers: int | None = None,
    ray: str | None = None,
    run_id: str | None = None,
    on_event: EventSink | None = None,
) -> RunSummary:
    """Plan, open (or resume) and execute an evaluation run: the library form of ``eval``.

    Args:
        options: What to run.
        out: The parent folder of run folders.
        workers: Local worker processes (default: all cores), or Ray actors with ``ray``.
        ray: "auto" or a head node's HOST:PORT to run on a Ray cluster (extra ``[ray]``).
        run_id: The run folder's name; an unfinished run of the same name is resumed.
        on_event: Progress sink (see :func:`execute_run`).

    Returns:
        What this execution did; the episodes are in ``summary.run_dir``.

    Raises:
        UserError: unknown suite, split or task ids, a run folder that holds another run, a Ray
            address that does not answer.
        MissingExtraError: ``ray`` is given and Ray is not installed.
    """
    planned = plan_run(options)
    backend = make_backend(ray, workers)
    # Only a backend that talks to a cluster connects (and closes): declared, not probed.
    connected = backend if isinstance(backend, ConnectedBackend) else None
    try:
        if connected is not None:
            connected.connect()
        run_dir, manifest = open_run(options, Path(out), run_id, planned=planned)
        return execute_run(run_dir, manifest, backend, on_event=on_event)
    finally:
        if connected is not None:
            connected.close()
