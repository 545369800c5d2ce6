"""A live session: one engine driven by a worker thread, shared by the chat and web front ends.

Text from a person goes through :meth:`LiveSession.submit`: while a task runs it is a
correction (posted to the engine's thread-safe channel); when the task waits on a question it
is the answer; otherwise a correction to the last task, or a new command. Every progress event
fans out to subscribers through their own bounded queues, so a slow or vanished subscriber
never blocks the robot (the task's record lives in the checkpoint, not in a queue).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from policywright.agent._images import png_b64
from policywright.agent.corrections import CorrectionParseError, parse_correction
from policywright.engine import Engine, TaskResult
from policywright.errors import PolicywrightError

__all__ = ["LiveSession", "Subscriber"]

logger = logging.getLogger(__name__)

#: Events a subscriber may fall behind by before the oldest are dropped for it (only for it).
QUEUE_SIZE = 512


class Subscriber:
    """One front end's view of the event stream."""

    def __init__(self) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE_SIZE)
        self.dropped = 0

    def put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            try:  # drop the oldest frame or event for this slow subscriber only
                self.queue.get_nowait()
                self.dropped += 1
                self.queue.put_nowait(event)
            except (queue.Empty, queue.Full):
                pass

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


class LiveSession:
    """An engine, a worker thread and the people watching it."""

    def __init__(self, engine: Engine, *, session: str | None = None, frame_hz: float = 4.0):
        self.engine = engine
        self.session = session
        self._subs: list[Subscriber] = []
        self._subs_lock = threading.Lock()
        self._jobs: queue.Queue[Callable[[], TaskResult | None] | None] = queue.Queue()
        self._frame_period = 1.0 / frame_hz if frame_hz > 0 else 0.0
        self._last_frame = 0.0
        self.last_thread: str | None = None
        self.waiting: TaskResult | None = None
        self.state = "idle"
        self._outstanding = 0
        self._worker = threading.Thread(target=self._loop, name="policywright-engine", daemon=True)
        self._worker.start()

    # -- subscribers -----------------------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        with self._subs_lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, event: dict[str, Any]) -> None:
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            sub.put(event)

    # -- input -----------------------------------------------------------------------------------
    def submit(self, text: str) -> dict[str, Any]:
        """Route a person's text; returns an acknowledgement event (also published)."""
        text = " ".join(str(text).split())
        if not text:
            ack = {"event": "ack", "accepted": False, "message": "empty input: type a command"}
        elif self.engine.busy:
            res = self.engine.post_correction(text)
            ack = {"event": "ack", **res.model_dump(), "as": "correction"}
        elif self.waiting is not None:
            thread = self.waiting.thread_id
            self.waiting = None
            self._put(lambda: self.engine.resume(thread, text, on_event=self._on_event))
            ack = {
                "event": "ack",
                "accepted": True,
                "as": "answer",
                "message": f"answering {thread}",
            }
        else:
            correction = None
            try:
                correction = parse_correction(text)
            except CorrectionParseError:
                correction = None
            fine = correction is not None and correction.fine
            if fine and self.last_thread is not None:
                thread = self.last_thread
                self._put(lambda: self.engine.correct(thread, text, on_event=self._on_event))
                ack = {
                    "event": "ack",
                    "accepted": True,
                    "as": "correction",
                    "message": f"correcting {thread}",
                }
            elif fine:
                ack = {
                    "event": "ack",
                    "accepted": False,
                    "message": "no task to correct yet: give a command",
                }
            else:
                self._jobs.put(
                    lambda: self.engine.run(text, session=self.session, on_event=self._on_event)
                )
                ack = {"event": "ack", "accepted": True, "as": "command", "message": "starting"}
        ack["text"] = text
        self.publish(ack)
        return ack

    def stop(self) -> dict[str, Any]:
        """The stop button: halts motion within one control step."""
        return self.submit("stop")

    def resume(self, thread_id: str) -> dict[str, Any]:
        """Resume a thread from the session list (one that waits or was interrupted)."""
        if self.engine.busy:
            ack = {"event": "ack", "accepted": False, "message": "a task is running"}
        else:
            self._put(lambda: self.engine.resume(thread_id, on_event=self._on_event))
            ack = {
                "event": "ack",
                "accepted": True,
                "as": "resume",
                "message": f"resuming {thread_id}",
            }
        self.publish(ack)
        return ack

    @property
    def idle(self) -> bool:
        """Nothing runs and nothing is queued."""
        return self._outstanding == 0 and not self.engine.busy

    def threads(self) -> list[dict[str, Any]]:
        return [t.model_dump() for t in self.engine.threads()]

    # -- the worker ------------------------------------------------------------------------------
    def _put(self, job: Callable[[], TaskResult | None]) -> None:
        with self._subs_lock:
            self._outstanding += 1
        self._jobs.put(job)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if job == self._idle_frame:
                    job()  # a camera refresh, not a task: no state or result events
                else:
                    self._run(job)
            finally:
                with self._subs_lock:
                    self._outstanding -= 1

    def _run(self, job: Callable[[], TaskResult | None]) -> None:
        self.state = "running"
        self.publish({"event": "state", "state": "running"})
        try:
            result = job()
        except PolicywrightError as exc:
            self.publish({"event": "error", "message": str(exc), "actor": exc.actor})
        except Exception as exc:  # a bug: say so, keep serving
            logger.exception("the engine failed")
            self.publish({"event": "error", "message": f"internal error: {exc}", "actor": "us"})
        else:
            if result is not None:
                self.last_thread = result.thread_id
                self.waiting = result if result.status == "waiting" else None
                self.publish({"event": "result", **result.model_dump(mode="json")})
                self._frame(force=True)
        self.state = "waiting" if self.waiting else "idle"
        self.publish({"event": "state", "state": self.state})
        self.publish({"event": "threads", "threads": self.threads()})

    def _on_event(self, event: dict[str, Any]) -> None:
        # Runs in the engine thread: the only place the world may be rendered during a task.
        self.publish(event)
        if event.get("event") in ("call_start", "call", "scene", "executed", "verdict"):
            self._frame()

    def _frame(self, force: bool = False) -> None:
        with self._subs_lock:
            if not self._subs:
                return
        now = time.monotonic()
        if not force and now - self._last_frame < self._frame_period:
            return
        self._last_frame = now
        world = self.engine.world
        frames = {}
        for cam in list(world.cameras)[:2]:
            try:
                frames[cam] = png_b64(world.render(cam, 320, 240))
            except Exception:  # rendering is best effort; never stop the task for a frame
                logger.exception("could not render %s", cam)
        self.publish({"event": "frames", "frames": frames, "sim_time": world.sim_time})

    def frame_now(self) -> None:
        """Render the cameras when idle (the worker thread is the only other world user)."""
        if self.engine.busy:
            return
        self._put(self._idle_frame)

    def _idle_frame(self) -> None:
        self._frame(force=True)

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(timeout=5)
