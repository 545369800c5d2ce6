"""The correction channel: any front end writes to it, the running task reads from it."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from policywright.agent.corrections._parse import Correction, parse_correction
from policywright.errors import UserError

if TYPE_CHECKING:
    from policywright.agent._journal import Journal

__all__ = ["CorrectionAck", "CorrectionChannel", "PendingCorrection"]

logger = logging.getLogger(__name__)

#: More corrections than this waiting at once is a stuck key or a script gone wrong; the rest
#: are refused (with a message), never silently dropped.
MAX_PENDING = 32


class CorrectionAck(BaseModel):
    """The answer to a posted correction.

    Attributes:
        accepted: Queued for the running task.
        kind: The parsed kind ("stop", "nudge", "replan", ...), when it parsed.
        message: What will happen, or why it was not accepted.
    """

    model_config = ConfigDict(extra="forbid")

    accepted: bool
    kind: str | None = None
    message: str


class PendingCorrection(BaseModel):
    """A parsed correction with its journal sequence number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    correction: Correction


class CorrectionChannel:
    """A thread-safe queue of corrections for the task that is running.

    ``post`` may be called from any thread. "stop" also raises a flag that the skills poll at
    every control step; everything else waits for the next primitive boundary. Each accepted
    correction is written to the journal before ``post`` returns, so a crash cannot lose it.
    """

    def __init__(self, journal: Journal | None = None) -> None:
        """Create a channel (``journal`` persists accepted corrections)."""
        self._journal = journal
        self._lock = threading.Lock()
        self._queue: deque[PendingCorrection] = deque()
        self._stop = threading.Event()
        self._thread_id: str | None = None

    def open(self, thread_id: str, pending: list[PendingCorrection] | None = None) -> None:
        """A task starts on ``thread_id`` (``pending``: corrections recovered after a crash)."""
        with self._lock:
            self._thread_id = thread_id
            self._queue = deque(pending or [])
            self._stop.clear()
            if any(p.correction.kind == "stop" for p in self._queue):
                self._stop.set()

    def close(self) -> list[PendingCorrection]:
        """The task ended: returns what was never taken (it stays in the journal)."""
        with self._lock:
            left = list(self._queue)
            self._queue.clear()
            self._thread_id = None
            self._stop.clear()
            return left

    @property
    def thread_id(self) -> str | None:
        """The thread of the running task, if any."""
        return self._thread_id

    def post(self, text: str) -> CorrectionAck:
        """Queue a correction for the running task.

        Returns:
            The acknowledgement: not accepted when no task runs, when the text does not parse
            or when too many corrections are already waiting (the message says which).
        """
        try:
            correction = parse_correction(text)
        except UserError as exc:
            return CorrectionAck(accepted=False, message=str(exc))
        with self._lock:
            thread_id = self._thread_id
            if thread_id is None:
                return CorrectionAck(
                    accepted=False,
                    kind=correction.kind,
                    message="no task is running: give a command, or correct a finished task",
                )
            if len(self._queue) >= MAX_PENDING:
                return CorrectionAck(
                    accepted=False,
                    kind=correction.kind,
                    message=f"{MAX_PENDING} corrections are already waiting; wait for the robot",
                )
            if correction.kind == "stop":
                # Before the journal write: the skills poll this flag every control step, and a
                # SQLite commit on a loaded machine takes several of them.
                self._stop.set()
            seq = self._journal.add_correction(thread_id, correction.text) if self._journal else 0
            self._queue.append(PendingCorrection(seq=seq, correction=correction))
        if correction.kind == "stop":
            message = "stopping now"
        elif correction.fine:
            message = f"{correction.kind}: applied at the next primitive boundary"
        else:
            message = "re-planning with the correction at the next primitive boundary"
        return CorrectionAck(accepted=True, kind=correction.kind, message=message)

    def stop_requested(self) -> bool:
        """Has "stop" been posted and not yet handled (polled every control step)."""
        return self._stop.is_set()

    def pending(self) -> bool:
        """Is a correction waiting."""
        with self._lock:
            return bool(self._queue)

    def take(self) -> list[PendingCorrection]:
        """Every waiting correction, oldest first (clears the stop flag)."""
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
            self._stop.clear()
            return out
