"""The task journal: what happened between checkpoints, one SQLite row at a time.

The graph checkpoints once per node, but a program's primitive calls and a person's corrections
happen inside a node. Each is written here the moment it happens (WAL, one commit per row), so
that a process killed mid-execute neither redoes a finished primitive call nor loses a
correction. The journal also remembers which threads exist, for ``policywright history``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["CallRow", "CorrectionRow", "Journal", "ThreadRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    thread_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    line INTEGER,
    mutating INTEGER NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    before_snap TEXT,
    after_snap TEXT,
    PRIMARY KEY (thread_id, attempt, idx)
);
CREATE TABLE IF NOT EXISTS corrections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    session TEXT,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
"""


class CallRow(BaseModel):
    """One primitive call of a program run (``status`` "started" until it returns)."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    attempt: int
    idx: int
    name: str
    args: str
    line: int | None
    mutating: bool
    status: str
    result: str | None = None
    before_snap: str | None = None
    after_snap: str | None = None

    def result_value(self) -> Any:
        """The recorded JSON result."""
        return None if self.result is None else json.loads(self.result)


class CorrectionRow(BaseModel):
    """A correction as the person sent it (``seq`` orders them across the whole journal)."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    thread_id: str
    text: str
    created: float


class ThreadRow(BaseModel):
    """A task thread: its command, session and last known status."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    command: str
    session: str | None
    status: str
    created: float
    updated: float


def call_key(name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The canonical JSON of a call's arguments (replay matches on it)."""
    return json.dumps({"name": name, "args": args, "kwargs": kwargs}, sort_keys=True)


class Journal:
    """The SQLite journal of calls, corrections and threads (thread-safe)."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the journal at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # As for checkpoints: a committed row survives a killed process.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            from policywright.errors import ConfigError

            raise ConfigError(
                f"the task journal {str(path)!r} is corrupt ({exc}); move it away to start afresh"
            ) from exc

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- calls -----------------------------------------------------------------------------------

    def call_started(self, row: CallRow) -> None:
        """Record a call row (replaces an earlier row of the same index, e.g. unfinished)."""
        self._exec(
            "INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.thread_id,
                row.attempt,
                row.idx,
                row.name,
                row.args,
                row.line,
                int(row.mutating),
                row.status,
                row.result,
                row.before_snap,
                row.after_snap,
            ),
        )

    def call_done(
        self, thread_id: str, attempt: int, idx: int, result: Any, after_snap: str | None
    ) -> None:
        """Record that a call returned ``result``."""
        self._exec(
            "UPDATE calls SET status='done', result=?, after_snap=? "
            "WHERE thread_id=? AND attempt=? AND idx=?",
            (json.dumps(result), after_snap, thread_id, attempt, idx),
        )

    def calls(self, thread_id: str, attempt: int | None = None) -> list[CallRow]:
        """The calls of a thread (of one attempt), in order."""
        cols = "thread_id,attempt,idx,name,args,line,mutating,status,result,before_snap,after_snap"
        if attempt is None:
            rows = self._exec(
                f"SELECT {cols} FROM calls WHERE thread_id=? ORDER BY attempt, idx", (thread_id,)
            )
        else:
            rows = self._exec(
                f"SELECT {cols} FROM calls WHERE thread_id=? AND attempt=? ORDER BY idx",
                (thread_id, attempt),
            )
        names = cols.split(",")
        out = []
        for r in rows:
            d = dict(zip(names, r, strict=True))
            d["mutating"] = bool(d["mutating"])
            out.append(CallRow.model_validate(d))
        return out

    def drop_calls_from(self, thread_id: str, attempt: int, idx: int) -> None:
        """Forget the calls of an attempt from ``idx`` on (they will run again, live)."""
        self._exec(
            "DELETE FROM calls WHERE thread_id=? AND attempt=? AND idx>=?",
            (thread_id, attempt, idx),
        )

    # -- corrections -----------------------------------------------------------------------------

    def add_correction(self, thread_id: str, text: str) -> int:
        """Persist a correction the moment it arrives; returns its sequence number."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO corrections (thread_id, text, created) VALUES (?,?,?)",
                (thread_id, text, time.time()),
            )
            return int(cur.lastrowid or 0)

    def corrections(self, thread_id: str) -> list[CorrectionRow]:
        """Every correction sent to a thread, oldest first."""
        rows = self._exec(
            "SELECT seq, thread_id, text, created FROM corrections WHERE thread_id=? ORDER BY seq",
            (thread_id,),
        )
        return [CorrectionRow(seq=r[0], thread_id=r[1], text=r[2], created=r[3]) for r in rows]

    # -- threads ---------------------------------------------------------------------------------

    def thread_started(self, thread_id: str, command: str, session: str | None) -> None:
        """Register a thread (or mark an existing one running again)."""
        now = time.time()
        with self._lock:
            self._conn.execute(
                "INSERT INTO threads VALUES (?,?,?,?,?,?) ON CONFLICT(thread_id) DO UPDATE "
                "SET status='running', updated=excluded.updated",
                (thread_id, command, session, "running", now, now),
            )

    def thread_status(self, thread_id: str, status: str) -> None:
        """Record a thread's latest status."""
        self._exec(
            "UPDATE threads SET status=?, updated=? WHERE thread_id=?",
            (status, time.time(), thread_id),
        )

    def thread(self, thread_id: str) -> ThreadRow | None:
        """A thread's row, if it exists."""
        rows = self._exec(
            "SELECT thread_id, command, session, status, created, updated FROM threads "
            "WHERE thread_id=?",
            (thread_id,),
        )
        return _thread_row(rows[0]) if rows else None

    def threads(self, limit: int = 50) -> list[ThreadRow]:
        """The most recently updated threads first."""
        rows = self._exec(
            "SELECT thread_id, command, session, status, created, updated FROM threads "
            "ORDER BY updated DESC LIMIT ?",
            (int(limit),),
        )
        return [_thread_row(r) for r in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()


def _thread_row(r: tuple[Any, ...]) -> ThreadRow:
    return ThreadRow(
        thread_id=r[0], command=r[1], session=r[2], status=r[3], created=r[4], updated=r[5]
    )
