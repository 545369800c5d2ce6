"""Session turns: what earlier commands of a session asked, what ran, and how it ended.

A follow-up command ("undo that", "now the other blocks") is planned with these turns in view.
One SQLite file under the state folder; each task still has its own checkpoint thread.

A turn is written when its task *starts* (outcome "running") and updated whenever the task
stops, waits, is answered, resumed or corrected: the next task's thread id comes from the turn
count, so a turn recorded only at the end left a stopped, answered or crashed task's id to be
handed out again ("thread 'chat-1' already exists").
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["SessionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    session TEXT NOT NULL,
    idx INTEGER NOT NULL,
    thread_id TEXT NOT NULL,
    command TEXT NOT NULL,
    program TEXT NOT NULL,
    outcome TEXT NOT NULL,
    scene TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (session, idx)
)
"""


class SessionStore:
    """Turns of every session, oldest first."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the store at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(_SCHEMA)
        self._conn.commit()

    def turns(self, session: str, last: int = 8) -> list[dict[str, Any]]:
        """The newest ``last`` turns of ``session``, oldest first."""
        rows = self._conn.execute(
            "SELECT idx, thread_id, command, program, outcome, scene FROM turns "
            "WHERE session = ? ORDER BY idx DESC LIMIT ?",
            (session, last),
        ).fetchall()
        return [
            {
                "index": idx,
                "thread_id": thread,
                "command": command,
                "program": program,
                "outcome": outcome,
                "scene_before": json.loads(scene),
            }
            for idx, thread, command, program, outcome, scene in reversed(rows)
        ]

    def next_index(self, session: str) -> int:
        """The index the next turn of ``session`` gets (1 for a new session)."""
        row = self._conn.execute(
            "SELECT COALESCE(MAX(idx), 0) FROM turns WHERE session = ?", (session,)
        ).fetchone()
        return int(row[0]) + 1

    def append(
        self,
        session: str,
        *,
        thread_id: str,
        command: str,
        program: str,
        outcome: str,
        scene_before: list[dict[str, Any]],
    ) -> int:
        """Record a finished turn; returns its index."""
        with self._conn:
            idx = self.next_index(session)
            self._conn.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session,
                    idx,
                    thread_id,
                    command,
                    program,
                    outcome,
                    json.dumps(scene_before),
                    time.time(),
                ),
            )
        return idx

    def update(
        self,
        session: str,
        thread_id: str,
        *,
        program: str,
        outcome: str,
        scene_before: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Set the program, outcome (and scene) of the turn that ran on ``thread_id``.

        Returns:
            False when ``session`` has no turn for that thread (nothing changed).
        """
        with self._conn:
            cur = self._conn.execute(
                "UPDATE turns SET program = ?, outcome = ?, scene = COALESCE(?, scene) "
                "WHERE session = ? AND thread_id = ?",
                (
                    program,
                    outcome,
                    None if scene_before is None else json.dumps(scene_before),
                    session,
                    thread_id,
                ),
            )
        return cur.rowcount > 0

    def close(self) -> None:
        """Close the database."""
        self._conn.close()
