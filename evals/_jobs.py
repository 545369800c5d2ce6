"""What every evaluation backend shares: the job, the outcome tracker, the episode function.

Apart from the runner so that the Ray backend (:mod:`policywright.evals._ray`) uses them without
importing the runner, which builds that backend (an import cycle).
"""

from __future__ import annotations

import collections
import importlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywright.errors import InternalError
from policywright.evals._rundir import atomic_write_text, episode_path

__all__ = [
    "DEFAULT_EPISODE_FN",
    "MAX_START_FAILURES",
    "WORKER_START_TIMEOUT_S",
    "EventSink",
    "Job",
    "Tracker",
    "infra_record",
    "load_episode_fn",
]

logger = logging.getLogger(__name__)

#: The episode function workers call: ``fn(spec_json, out_dir, *, sandbox) -> result_json``.
DEFAULT_EPISODE_FN = "policywright.evals._episodes:run_episode"

#: A worker that is not ready this long after it was started has failed to start.
WORKER_START_TIMEOUT_S = 180.0
#: Consecutive workers that die before they are ready: the run stops (something is broken).
MAX_START_FAILURES = 3

#: Progress sink of a run: (kind, data).
EventSink = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Job:
    """One episode to execute.

    Attributes:
        key: ``<suite>/<episode_id>``.
        episode_id: The episode id.
        suite_id: The suite id.
        family: The task family (for an infrastructure-error record).
        spec_json: The ``EpisodeSpec`` as JSON (what the worker receives).
        out_dir: The folder the episode writes its artifacts under.
        timeout_s: Wall-clock limit of one try.
    """

    key: str
    episode_id: str
    suite_id: str
    family: str
    spec_json: str
    out_dir: str
    timeout_s: float

    def message(self) -> str:
        """The JSON request a worker gets."""
        return json.dumps(
            {"type": "episode", "key": self.key, "spec": self.spec_json, "out_dir": self.out_dir}
        )


def infra_record(job: Job, message: str, wall_s: float) -> str:
    """An ``EpisodeResult`` (JSON) for a try that ended in an infrastructure error."""
    from policywright.evals._episodes import EpisodeResult

    spec = json.loads(job.spec_json)
    first_line = message.strip().splitlines()[-1] if message.strip() else "infrastructure error"
    return EpisodeResult(
        episode_id=job.episode_id,
        suite=job.suite_id,
        task_id=str(spec.get("task_id", "")),
        family=job.family,
        split=str(spec.get("split", "")),
        trial=int(spec.get("trial", 0)),
        seed=int(spec.get("seed", 0)),
        command="",
        success=False,
        status="infra_error",
        failure_category="infra",
        engine_status="",
        reason=first_line,
        attempts=0,
        tokens_in=0,
        tokens_cached=0,
        tokens_out=0,
        cost_usd=0.0,
        latency_first_motion_s=None,
        wall_s=wall_s,
        sim_s=0.0,
        error=message,
    ).model_dump_json()


@dataclass
class Tracker:
    """Hands out jobs, writes outcomes, and retries infrastructure errors once.

    Args:
        run_dir: The run folder results are written into.
        jobs: The jobs to run.
        on_event: Progress sink: ("episode", {...}) per final result, ("retry", {...}) per
            retried try, ("ready", {"pid": ...}) per started worker, ("log", {"message": ...})
            for backend notes.
    """

    run_dir: Path
    jobs: Sequence[Job]
    on_event: EventSink | None = None
    summary_counts: collections.Counter[str] = field(default_factory=collections.Counter)
    pending: collections.deque[tuple[Job, int]] = field(init=False)
    remaining: int = field(init=False)

    def __post_init__(self) -> None:
        self.pending = collections.deque((job, 1) for job in self.jobs)
        self.remaining = len(self.jobs)

    def done(self) -> bool:
        """Every job has its final result."""
        return self.remaining == 0

    def take(self) -> tuple[Job, int] | None:
        """The next job and its try number (1 or 2), or None when none is waiting."""
        return self.pending.popleft() if self.pending else None

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def worker_ready(self, pid: int) -> None:
        """A worker finished starting (imports, sandbox) and takes episodes now."""
        self._emit("ready", {"pid": pid})

    def log(self, message: str) -> None:
        """A backend note (a worker restarted...)."""
        logger.info("%s", message)
        self._emit("log", {"message": message})

    def complete(self, job: Job, try_no: int, result_json: str, wall_s: float) -> bool:
        """A worker returned a result.

        Returns:
            Whether the worker should be replaced (it reported an infrastructure error).
        """
        from pydantic import ValidationError

        from policywright.evals._episodes import EpisodeResult

        try:
            result = EpisodeResult.model_validate_json(result_json)
        except ValidationError as exc:
            self.infra(job, try_no, f"the episode returned a malformed result: {exc}", wall_s)
            return True
        if result.episode_id != job.episode_id:
            self.infra(
                job,
                try_no,
                f"the worker returned episode {result.episode_id!r} for {job.episode_id!r}",
                wall_s,
            )
            return True
        if result.status == "infra_error":
            self._infra_result(job, try_no, result.model_dump_json())
            return True
        self._final(job, result.model_dump_json(), result.model_dump(mode="json"))
        return False

    def infra(self, job: Job, try_no: int, message: str, wall_s: float) -> None:
        """A try ended without a result: the worker died, hung, or failed."""
        logger.warning("episode %s, try %d: %s", job.key, try_no, message.strip())
        self._infra_result(job, try_no, infra_record(job, message, wall_s))

    def _infra_result(self, job: Job, try_no: int, record_json: str) -> None:
        record = json.loads(record_json)
        if try_no == 1:
            atomic_write_text(episode_path(self.run_dir, job.key, infra=True), record_json)
            self.summary_counts["retried"] += 1
            self.pending.append((job, 2))
            self._emit("retry", {"key": job.key, "error": record.get("reason", "")})
            return
        self._final(job, record_json, record)

    def _final(self, job: Job, result_json: str, result: dict[str, Any]) -> None:
        atomic_write_text(episode_path(self.run_dir, job.key), result_json)
        self.remaining -= 1
        self.summary_counts[str(result.get("status"))] += 1
        self._emit(
            "episode",
            {
                "key": job.key,
                "result": result,
                "done": len(self.jobs) - self.remaining,
                "total": len(self.jobs),
            },
        )


def load_episode_fn(path: str) -> Callable[..., str]:
    """Import ``module:function``.

    Raises:
        InternalError: it does not name a callable.
    """
    module, _, name = path.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise InternalError(f"episode function {path!r} is not a callable")
    return fn  # type: ignore[no-any-return]
