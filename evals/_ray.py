"""The Ray backend: episodes on the actors of a Ray cluster (extra ``[ray]``).

``--ray auto`` joins the cluster Ray finds (``$RAY_ADDRESS``, or the one ``ray start`` recorded
on this machine); when there is none it starts a local single-machine cluster for the run
(``ray.init(address=None)``), and says which it did. ``--ray HOST:PORT`` (or ``ray://...``)
joins that cluster; the address is first probed with a plain TCP connection so that one that
does not answer is a clear error within seconds (Ray's own client retries for minutes).

Each actor is one worker: it starts one sandbox and reuses it across episodes, takes a JSON
request and returns a JSON reply (nothing is pickled but these strings). An actor on the
driver's node writes the episode's artifacts straight into the run folder; one on another node
writes them to a local temporary folder and returns them in its reply (base64), so a cluster
needs no shared file system. Crashes and hangs are handled as in the local pool: the try is an
infrastructure error, the actor is replaced, and the episode is retried once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from policywright.errors import InternalError, MissingExtraError, UserError
from policywright.evals._jobs import (
    DEFAULT_EPISODE_FN,
    MAX_START_FAILURES,
    WORKER_START_TIMEOUT_S,
    Job,
    Tracker,
    load_episode_fn,
)

__all__ = ["EpisodeActor", "RayPool", "parse_address", "probe_address"]

logger = logging.getLogger(__name__)

#: Seconds a Ray address gets to accept a TCP connection.
PROBE_TIMEOUT_S = 5.0


def _ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "ray":
            raise MissingExtraError("ray", "ray") from exc
        raise
    return ray


def parse_address(address: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``ray://host:port`` -> (host, port).

    Raises:
        UserError: not of that form.
    """
    rest = address.removeprefix("ray://").strip()
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(
            f"--ray {address!r}: give 'auto' or the head node's address as HOST:PORT "
            "(e.g. 10.0.0.5:6379, or ray://10.0.0.5:10001 for Ray Client)"
        )
    return host, int(port)


def probe_address(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Check that something accepts TCP connections at a Ray address.

    Raises:
        UserError: nothing answers within the timeout.
    """
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise UserError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}; waited at most "
            f"{timeout_s:.0f} s): check the address (the head node's HOST:PORT, port 6379 by "
            "default), start a cluster there with `ray start --head`, or use --ray auto"
        ) from exc


class EpisodeActor:
    """A Ray actor that runs episodes, one at a time, with one sandbox for its life.

    Args:
        fn_path: The episode function, ``module:function``.
        driver_node: The driver's Ray node id: an actor on that node writes artifacts into the
            run folder directly, any other one ships them back in its reply.
    """

    def __init__(self, fn_path: str, driver_node: str) -> None:
        import ray

        from policywright.agent.sandbox import Sandbox

        self.fn = load_episode_fn(fn_path)
        self.local = ray.get_runtime_context().get_node_id() == driver_node
        self.sandbox = Sandbox()
        self.sandbox.start()

    def ready(self) -> str:
        """JSON: this actor's pid and whether it shares the driver's file system."""
        return json.dumps({"pid": os.getpid(), "local": self.local})

    def run(self, message: str) -> str:
        """Run one episode request (``Job.message()``); reply as JSON."""
        request = json.loads(message)
        self.sandbox.start()  # restarts the zygote if it died
        if self.local:
            result = self.fn(request["spec"], request["out_dir"], sandbox=self.sandbox)
            return json.dumps({"result": result, "files": {}})
        tmp = tempfile.mkdtemp(prefix="policywright-eval-")
        try:
            result = self.fn(request["spec"], tmp, sandbox=self.sandbox)
            files = {
                str(p.relative_to(tmp)): base64.b64encode(p.read_bytes()).decode("ascii")
                for p in sorted(Path(tmp).rglob("*"))
                if p.is_file()
            }
            return json.dumps({"result": result, "files": files})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _write_files(out_dir: str, files: dict[str, str]) -> None:
    root = Path(out_dir).resolve()
    for rel, data in files.items():
        path = (root / rel).resolve()
        if not path.is_relative_to(root):  # a reply names only files under the episode folder
            raise InternalError(f"an actor returned a file outside the run folder: {rel!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


class _Slot:
    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.ready_ref: Any = actor.ready.remote()
        self.ready = False
        self.started = time.monotonic()
        self.job: tuple[Job, int] | None = None
        self.ref: Any = None
        self.submitted = 0.0

    def waiting_on(self) -> Any:
        return self.ref if self.job is not None else (None if self.ready else self.ready_ref)

    def deadline(self) -> float:
        if self.job is not None:
            return self.submitted + self.job[0].timeout_s
        return float("inf") if self.ready else self.started + WORKER_START_TIMEOUT_S


class RayPool:
    """Runs episodes on Ray actors.

    Args:
        address: "auto" or the head node's ``HOST:PORT`` (``ray://`` for Ray Client).
        workers: Actors (default: every CPU of the cluster).
        episode_fn: The episode function, ``module:function`` (tests inject fakes).
        ship_artifacts: Ship artifacts back in the reply even from the driver's node (tests).
    """

    def __init__(
        self,
        address: str,
        workers: int | None = None,
        *,
        episode_fn: str = DEFAULT_EPISODE_FN,
        ship_artifacts: bool = False,
    ) -> None:
        if workers is not None and workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        if address != "auto":
            parse_address(address)
        self.address = address
        self.workers = workers
        self.episode_fn = episode_fn
        self.ship_artifacts = ship_artifacts
        self.how = "not connected"
        self._owns_connection = False

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> str:
        """Join (or start) the cluster; returns what was done, for the user.

        Raises:
            MissingExtraError: ray is not installed.
            UserError: the address does not answer.
        """
        ray = _ray()
        if ray.is_initialized():
            self.how = "the Ray cluster this process had already joined"
            return self.how
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if self.address == "auto":
            try:
                self._init(ray, "auto", common)
                self.how = f"joined the running Ray cluster at {self._gcs_address()}"
            except UserError as exc:
                if "Could not find any running Ray instance" not in str(exc):
                    raise
                # Nothing is running: a local cluster for this run (it stops with the run).
                ray.init(address=None, include_dashboard=False, **common)
                self.how = (
                    "no running Ray cluster found: started a local one "
                    f"({self._cpus()} CPUs) for this run"
                )
        else:
            probe_address(self.address)
            self._init(ray, self.address, common)
            self.how = f"joined the Ray cluster at {self.address}"
        self._owns_connection = True
        return self.how

    def _actors(self) -> int:
        """Actors to start: --workers, at most the cluster's CPUs (each actor takes one)."""
        cpus = self._cpus()
        if self.workers is not None and self.workers > cpus:
            logger.warning(
                "--workers %d > the cluster's %d CPUs: using %d", self.workers, cpus, cpus
            )
        return min(self.workers or cpus, cpus)

    def _init(self, ray: Any, address: str, common: dict[str, Any]) -> None:
        try:
            ray.init(address=address, **common)
        except ConnectionError as exc:
            raise UserError(
                f"cannot join the Ray cluster at {address}: {exc}. If it answers but refuses "
                "the connection, it may require token authentication: set RAY_AUTH_MODE=token "
                "and give this machine the cluster's token (~/.ray/auth_token), or start the "
                "cluster with RAY_AUTH_MODE=disabled"
            ) from exc

    def _gcs_address(self) -> str:
        ray = _ray()
        with contextlib.suppress(Exception):
            return str(ray.get_runtime_context().gcs_address)
        return "?"

    def _cpus(self) -> int:
        return max(1, int(_ray().cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Leave the cluster if :meth:`connect` joined it (a local cluster then stops)."""
        if self._owns_connection:
            _ray().shutdown()
            self._owns_connection = False

    def describe(self) -> str:
        """What runs the episodes."""
        if not _ray().is_initialized():
            return f"Ray at {self.address} (not connected yet)"
        return f"Ray, {self._actors()} actor(s)"

    # -- execution ----------------------------------------------------------------------------

    def run(self, tracker: Tracker) -> None:
        """Execute every job of the tracker on actors."""
        if tracker.done():
            return
        ray = _ray()
        if not ray.is_initialized():
            self.connect()
        from ray.exceptions import GetTimeoutError, RayActorError, RayError

        actor_cls = ray.remote(num_cpus=1, max_restarts=0)(EpisodeActor)
        driver_node = "" if self.ship_artifacts else ray.get_runtime_context().get_node_id()
        n = min(self._actors(), len(tracker.jobs))

        def spawn() -> _Slot:
            return _Slot(actor_cls.remote(self.episode_fn, driver_node))

        slots = [spawn() for _ in range(n)]
        start_failures = 0
        try:
            while not tracker.done():
                for s in slots:
                    if s.ready and s.job is None:
                        item = tracker.take()
                        if item is not None:
                            s.job, s.submitted = item, time.monotonic()
                            s.ref = s.actor.run.remote(item[0].message())
                refs = [r for r in (s.waiting_on() for s in slots) if r is not None]
                nearest = min(s.deadline() for s in slots)
                timeout = max(0.0, nearest - time.monotonic()) if nearest != float("inf") else 5.0
                done, _ = ray.wait(refs, num_returns=1, timeout=timeout) if refs else ([], [])
                done_set = set(done)
                for i, s in enumerate(slots):
                    why = self._service(s, done_set, tracker, ray, (RayActorError, RayError))
                    if why is None:
                        continue
                    if why == "start_failed":
                        start_failures += 1
                        if start_failures >= MAX_START_FAILURES:
                            raise InternalError(
                                f"{start_failures} Ray actors in a row failed to start; see the "
                                "Ray logs (session_latest/logs under the Ray temp folder)"
                            )
                    else:
                        start_failures = 0
                    tracker.log(f"Ray actor replaced ({why})")
                    with contextlib.suppress(RayError, GetTimeoutError):
                        ray.kill(s.actor, no_restart=True)
                    slots[i] = spawn()
        finally:
            for s in slots:
                with contextlib.suppress(Exception):
                    ray.kill(s.actor, no_restart=True)

    def _service(
        self,
        s: _Slot,
        done: set[Any],
        tracker: Tracker,
        ray: Any,
        errors: tuple[type[BaseException], ...],
    ) -> str | None:
        """Handle a slot's finished call or overdue deadline; returns why to replace it."""
        if not s.ready and s.ready_ref in done:
            try:
                info = json.loads(ray.get(s.ready_ref))
            except errors as exc:
                logger.warning("a Ray actor failed to start: %s", exc)
                return "start_failed"
            s.ready = True
            tracker.worker_ready(int(info.get("pid", 0)))
            return None
        if s.job is not None and s.ref in done:
            job, try_no = s.job
            s.job, wall = None, time.monotonic() - s.submitted
            try:
                reply = json.loads(ray.get(s.ref))
            except errors as exc:
                tracker.infra(job, try_no, f"the Ray actor failed during the episode: {exc}", wall)
                return "died"
            try:
                _write_files(job.out_dir, reply.get("files", {}))
            except (OSError, ValueError) as exc:
                tracker.infra(job, try_no, f"cannot store the episode's artifacts: {exc}", wall)
                return None
            return (
                "infrastructure error"
                if tracker.complete(job, try_no, reply["result"], wall)
                else None
            )
        if time.monotonic() > s.deadline():
            if s.job is None:
                return "start_failed"
            job, try_no = s.job
            s.job = None
            tracker.infra(
                job,
                try_no,
                f"no result within the episode's wall-clock limit of {job.timeout_s:.0f} s;"
                " the Ray actor was killed",
                time.monotonic() - s.submitted,
            )
            return "hung"
        return None
