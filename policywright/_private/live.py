"""A live session: one engine driven by a worker thread, shared by the chat and web front ends.

Text from a person goes through :meth:`LiveSession.submit`: while a task runs it is a
correction (posted to the engine's thread-safe channel); when the task waits on a question it
is the answer, unless it reads as a new command (then the question is put aside and the
command starts: a command never becomes an answer); otherwise a correction to the last task,
or a new command. :meth:`LiveSession.new_task` and "stop" while waiting put the question aside
(the thread stays resumable). Every progress event fans out to subscribers through their own
bounded queues, so a slow or vanished subscriber never blocks the robot (the task's record
lives in the checkpoint, not in a queue).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from policywright.agent.corrections import CorrectionParseError, parse_correction
from policywright.engine import Engine, TaskResult
from policywright.errors import PolicywrightError

__all__ = ["LiveSession", "Subscriber"]

logger = logging.getLogger(__name__)

#: Events a subscriber may fall behind by before the oldest are dropped for it (only for it).
QUEUE_SIZE = 512

#: First words of a task given as a command (never of an answer: "the red one", "continue",
#: "give up", or a hint about the last try such as "put it closer to the bowl").
_TASK_VERBS = frozenset(
    {
        *("put", "place", "stack", "move", "pick", "push", "sort", "arrange", "gather", "line"),
        *("bring", "take", "set", "drop", "swap", "spread", "build", "make", "walk", "go"),
        *("drive", "fetch", "lift", "hand", "separate", "group"),
    }
)
_PLURALS = frozenset({"all", "every", "each", "blocks", "bowls", "everything"})


def reads_as_command(text: str, names: list[str] | tuple[str, ...] = ()) -> bool:
    """Does ``text`` read as a new task rather than as the answer to a waiting question?

    A task verb first, and an object named (one of ``names``, or "<colour> block|bowl"), or
    all of a kind ("all the blocks"). Hints and answers refer to what was said ("put it a bit
    closer", "the red one", "continue"), so they do not name a fresh target this way.
    """
    from policywright.engine import mentioned_objects

    words = text.lower().replace(",", " ").split()
    if len(words) < 3 or words[0] not in _TASK_VERBS:
        return False
    low = " ".join(words)
    if mentioned_objects(low) or any(w in _PLURALS for w in words):
        return True
    return any(n and f" {n.lower()}" in f" {low}" for n in names)


class Subscriber:
    """One front end's view of the event stream."""

    def __init__(self, *, frames: bool = True) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE_SIZE)
        self.dropped = 0
        #: Wants camera frames (the web UI); the chat does not, so none are rendered for it.
        self.frames = frames

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


#: How a high-level correction of the last task starts ("no, the green bowl", "the other
#: bowl", "instead put it ..."); any other text that is not a fine-grained correction (a nudge,
#: "slower", "undo") is a new command. docs/corrections.md documents the rule.
_CORRECTION_OPENERS = ("no ", "no,", "not ", "nope", "instead", "the other", "actually", "wrong")


def _reads_as_high_level_correction(text: str) -> bool:
    """Whether text after a finished task corrects it rather than starting a new task."""
    from policywright.agent.language import normalise_text

    return normalise_text(text).startswith(_CORRECTION_OPENERS)


def _is_stop(text: str) -> bool:
    try:
        return bool(parse_correction(text).kind == "stop")
    except CorrectionParseError:
        return False


class LiveSession:
    """An engine, a worker thread and the people watching it."""

    def __init__(
        self,
        engine: Engine,
        *,
        session: str | None = None,
        frame_hz: float = 4.0,
        speed: float | None = None,
    ):
        """Start the worker thread.

        Args:
            engine: The engine (its world is paced from here on).
            session: The session name for the tasks' turns.
            frame_hz: Camera frames per wall second while the world steps (0: on every event).
            speed: The world's pace, times real time (the CLI's default is 1.0); None runs
                as fast as possible (the tests).
        """
        self.engine = engine
        self.session = session
        self._subs: list[Subscriber] = []
        self._subs_lock = threading.Lock()
        self._jobs: queue.Queue[Callable[[], TaskResult | None] | None] = queue.Queue()
        self._frame_period = 1.0 / frame_hz if frame_hz > 0 else 0.0
        self._last_frame = 0.0
        #: Rendered frames waiting for the encoder (one: a stale frame is not worth sending).
        self._encode: queue.Queue[tuple[dict[str, Any], float] | None] = queue.Queue(1)
        self.frames_dropped = 0
        threading.Thread(target=self._encoder, name="policywright-frames", daemon=True).start()
        #: The world's pace; "slower"/"faster" change it at once while it is set.
        self.pacer = engine.set_pace(speed)
        if self._frame_period > 0:
            # Frames while a primitive moves (no event comes for seconds), from the stepping
            # thread: the only one that may render while the robot moves.
            self.pacer.every(self._frame_period, self._frame)
        self.last_thread: str | None = None
        self.waiting: TaskResult | None = None
        #: Questions put aside by "new task", "stop" or a new command, by thread id.
        self._aside: dict[str, TaskResult] = {}
        self.state = "idle"
        self._outstanding = 0
        self._worker = threading.Thread(target=self._loop, name="policywright-engine", daemon=True)
        self._worker.start()

    # -- subscribers -----------------------------------------------------------------------------
    def subscribe(self, *, frames: bool = True) -> Subscriber:
        sub = Subscriber(frames=frames)
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
    def submit(self, text: str, *, as_command: bool = False) -> dict[str, Any]:
        """Route a person's text; returns an acknowledgement event (also published).

        Args:
            text: What the person typed.
            as_command: Start it as a new task when nothing runs (``/new COMMAND``), even if
                it would read as a correction or an answer.
        """
        text = " ".join(str(text).split())
        waiting = self.waiting
        command = as_command
        aside: str | None = None
        if text and not self.engine.busy and waiting is not None:
            if _is_stop(text) and not command:
                return self._put_aside(text, "stop")
            if command or reads_as_command(text, tuple(waiting.objects_final)):
                aside = self._put_aside(text, "command")["thread_id"]
                waiting, command = None, True
        if not text:
            ack = {"event": "ack", "accepted": False, "message": "empty input: type a command"}
        elif waiting is None and not command and self.idle and _is_stop(text):
            # "stop" a moment after the task ended used to turn the finished task into a
            # waiting one ("continue" then said it had finished): nothing moves, so say so.
            ack = {
                "event": "ack",
                "accepted": False,
                "as": "stop",
                "message": "nothing is moving: the robot is already still"
                + (f" ({self.last_thread} has ended)" if self.last_thread else ""),
            }
        elif (paced := self._pace_change(text)) is not None:
            ack = paced
        elif self.engine.busy:
            res = self.engine.post_correction(text)
            ack = {"event": "ack", **res.model_dump(), "as": "correction"}
        elif waiting is not None:
            thread = waiting.thread_id
            self.waiting = None
            self._put(lambda: self.engine.resume(thread, text, on_event=self._on_event))
            ack = {
                "event": "ack",
                "accepted": True,
                "as": "answer",
                "message": f"answering {thread}",
                "thread_id": thread,
            }
        else:
            correction = None
            try:
                correction = parse_correction(text)
            except CorrectionParseError:
                correction = None
            fine = (
                correction is not None
                and (correction.fine or _reads_as_high_level_correction(text))
                and not command
            )
            if fine and self.last_thread in self._aside:
                # Correcting a waiting thread answers it: only /resume may do that.
                ack = {
                    "event": "ack",
                    "accepted": False,
                    "message": f"{self.last_thread} waits on a question you put aside: "
                    f"/resume {self.last_thread} to answer it, or give a command",
                }
            elif fine and self.last_thread is not None:
                thread = self.last_thread
                self._put(lambda: self.engine.correct(thread, text, on_event=self._on_event))
                ack = {
                    "event": "ack",
                    "accepted": True,
                    "as": "correction",
                    "message": f"correcting {thread}",
                    "thread_id": thread,
                }
            elif fine:
                ack = {
                    "event": "ack",
                    "accepted": False,
                    "message": "no task to correct yet: give a command",
                }
            else:
                self._put(
                    lambda: self.engine.run(text, session=self.session, on_event=self._on_event)
                )
                ack = {"event": "ack", "accepted": True, "as": "command", "message": "new task"}
        ack["text"] = text
        if aside is not None:
            ack["put_aside"] = aside
        self.publish(ack)
        return ack

    def _pace_change(self, text: str) -> dict[str, Any] | None:
        """ "slower" / "faster" while the world is paced: change the pace now, mid-motion.

        Returns None when the text is not a speed correction, or the world runs unpaced (then
        the engine scales the skills' motion instead, at the next primitive boundary).
        """
        speed = self.pacer.speed
        if speed is None:
            return None
        try:
            correction = parse_correction(text)
        except CorrectionParseError:
            return None
        if correction.kind != "speed":
            return None
        self.pacer.speed = speed * correction.speed_scale
        now = self.pacer.speed
        assert now is not None
        limit = ""
        if (
            now in (self.pacer.MIN_SPEED, self.pacer.MAX_SPEED)
            and now != speed * correction.speed_scale
        ):
            limit = " (the limit)"
        return {
            "event": "ack",
            "accepted": True,
            "as": "pace",
            "kind": "speed",
            "speed": now,
            "message": f"the world now runs at {now:.2g}x real time{limit}, from this moment",
        }

    def stop(self) -> dict[str, Any]:
        """The stop button: halts motion within one control step.

        While a task waits on a question nothing moves: the question is put aside instead (the
        thread stays resumable), never answered with "stop".
        """
        return self.submit("stop")

    def new_task(self) -> dict[str, Any]:
        """The "new task" action: put a waiting question aside; the next text is a command."""
        if self.waiting is None:
            ack = {
                "event": "ack",
                "accepted": True,
                "as": "new",
                "message": "no question waits: type a command",
                "text": "",
            }
            self.publish(ack)
            return ack
        return self._put_aside("", "new")

    def _put_aside(self, text: str, why: str) -> dict[str, Any]:
        """Leave the waiting thread as it is (resumable) and take the next text as a command."""
        waiting = self.waiting
        self.waiting = None
        thread = waiting.thread_id if waiting is not None else "?"
        if waiting is not None:
            self._aside[thread] = waiting
        how = f"resume it later with /resume {thread} or from the thread list"
        message = {
            "stop": f"nothing is moving; the question of {thread} is put aside ({how}). "
            "Type a new command",
            "command": f"that reads as a new command: the question of {thread} is put aside "
            f"({how})",
            "new": f"the question of {thread} is put aside ({how}). Type a new command",
        }[why]
        self.state = "idle"
        ack = {"event": "ack", "accepted": True, "as": "put-aside", "message": message}
        ack["text"], ack["thread_id"] = text, thread
        self.publish(ack)
        self.publish({"event": "state", "state": "idle"})
        return ack

    def resume(self, thread_id: str) -> dict[str, Any]:
        """Resume a thread from the session list (one that waits or was interrupted)."""
        if self.engine.busy:
            ack = {"event": "ack", "accepted": False, "message": "a task is running"}
        elif thread_id in self._aside or (
            self.waiting is not None and self.waiting.thread_id == thread_id
        ):
            # A question put aside: ask it again; the next text is its answer.
            waiting = self._aside.pop(thread_id, None) or self.waiting
            assert waiting is not None  # the condition above: put aside, or the one waiting
            self.waiting = waiting
            self.state = "waiting"
            ack = {
                "event": "ack",
                "accepted": True,
                "as": "resume",
                "message": f"{thread_id} waits for your answer",
                "thread_id": thread_id,
            }
            self.publish(ack)
            self.publish({"event": "result", **waiting.model_dump(mode="json")})
            self.publish({"event": "state", "state": "waiting"})
            return ack
        else:
            self._put(lambda: self.engine.resume(thread_id, on_event=self._on_event))
            ack = {
                "event": "ack",
                "accepted": True,
                "as": "resume",
                "message": f"resuming {thread_id}",
                "thread_id": thread_id,
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
            task = job != self._idle_frame
            try:
                if task:
                    self._run(job)
                else:
                    job()  # a camera refresh, not a task: no state or result events
            finally:
                with self._subs_lock:
                    self._outstanding -= 1
            if task:
                # After the count: whoever sees "idle" finds the session idle.
                self.state = "waiting" if self.waiting else "idle"
                self.publish({"event": "state", "state": self.state})
                self.publish({"event": "threads", "threads": self.threads()})

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

    def _on_event(self, event: dict[str, Any]) -> None:
        # Runs in the engine thread: the only place the world may be rendered during a task.
        self.publish(event)
        if event.get("event") in ("call_start", "call", "scene", "executed", "verdict"):
            self._frame()

    def _frame(self, force: bool = False) -> None:
        with self._subs_lock:
            if not any(sub.frames for sub in self._subs):
                return
        now = time.monotonic()
        if not force and now - self._last_frame < self._frame_period:
            return
        self._last_frame = now
        world = self.engine.world
        images = {}
        for cam in list(world.cameras)[:2]:
            try:
                images[cam] = world.render(cam, 320, 240)
            except Exception:  # rendering is best effort; never stop the task for a frame
                logger.exception("could not render %s", cam)
        # Encoding is left to another thread: a PNG of each camera took as long as rendering
        # it, in the stepping thread, and slowed the motion the frames show.
        try:
            self._encode.put_nowait((images, world.sim_time))
        except queue.Full:
            self.frames_dropped += 1  # the encoder is behind: this frame is skipped

    def _encoder(self) -> None:
        from io import BytesIO

        from PIL import Image

        while (item := self._encode.get()) is not None:
            images, sim_time = item
            frames = {}
            for cam, rgb in images.items():
                buf = BytesIO()
                Image.fromarray(rgb).save(buf, format="JPEG", quality=80)
                frames[cam] = base64.b64encode(buf.getvalue()).decode("ascii")
            self.publish(
                {"event": "frames", "frames": frames, "format": "jpeg", "sim_time": sim_time}
            )

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
        with contextlib.suppress(queue.Full):  # a daemon thread: it ends with the process
            self._encode.put(None, timeout=1)
