"""Session turns: what earlier commands of a session asked, what ran, and how it ended.

A follow-up command ("undo that", "now the other blocks") is planned with these turns in view.
One SQLite file under the state folder; each task still has its own checkpoint thread.

A turn is written when its task *starts* (outcome "running") and updated whenever the task
stops, waits, is answered, resumed or corrected: the next task's thread id comes from the turn
count, so a turn recorded only at the end left a stopped, answered or crashed task's id to be
handed out again ("thread 'chat-1' already exists").

A session also owns its world (docs/sessions.md): each turn records the world snapshot it
started from (``world_before``) and the one it left (``world_after``), and the ``worlds`` table
names the snapshot the session's next task continues from, the one its last finished task left.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policywright.agent.planner import SceneObject
    from policywright.config import EngineConfig

__all__ = ["SessionStore", "moved", "not_back", "planner_turn", "session_turns", "unfinished_turn"]

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

#: Columns added after the first release of the table (a state folder may predate them).
_TURN_COLUMNS = {
    "world_before": "TEXT NOT NULL DEFAULT ''",
    "world_after": "TEXT NOT NULL DEFAULT ''",
    # JSON: the program's check, family and slots, the verdict, what moved, follow-up marks.
    "details": "TEXT NOT NULL DEFAULT '{}'",
}

_WORLDS = """
CREATE TABLE IF NOT EXISTS worlds (
    session TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    updated REAL NOT NULL
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
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(turns)")}
        for column, decl in _TURN_COLUMNS.items():
            if column not in have:
                self._conn.execute(f"ALTER TABLE turns ADD COLUMN {column} {decl}")
        self._conn.execute(_WORLDS)
        self._conn.commit()

    def turns(self, session: str, last: int = 8) -> list[dict[str, Any]]:
        """The newest ``last`` turns of ``session``, oldest first.

        Each turn has ``index``, ``thread_id``, ``command``, ``program``, ``outcome``,
        ``scene_before``, ``world_before``, ``world_after`` (snapshot paths, "" when not
        recorded) and ``details`` (a dict).
        """
        rows = self._conn.execute(
            "SELECT idx, thread_id, command, program, outcome, scene, world_before, world_after, "
            "details FROM turns WHERE session = ? ORDER BY idx DESC LIMIT ?",
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
                "world_before": before,
                "world_after": after,
                "details": json.loads(details or "{}"),
            }
            for idx, thread, command, program, outcome, scene, before, after, details in reversed(
                rows
            )
        ]

    def world(self, session: str) -> tuple[str, str] | None:
        """``(thread_id, snapshot)`` of the world the session's next task continues from.

        None for a session no task of which has ended yet.
        """
        row = self._conn.execute(
            "SELECT thread_id, snapshot FROM worlds WHERE session = ?", (session,)
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def set_world(self, session: str, thread_id: str, snapshot: str) -> None:
        """Record that the session's world is now the one ``thread_id`` left at ``snapshot``."""
        with self._conn:
            self._conn.execute(
                "INSERT INTO worlds VALUES (?, ?, ?, ?) ON CONFLICT(session) DO UPDATE SET "
                "thread_id = excluded.thread_id, snapshot = excluded.snapshot, "
                "updated = excluded.updated",
                (session, thread_id, snapshot, time.time()),
            )

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
        world_before: str = "",
        details: dict[str, Any] | None = None,
    ) -> int:
        """Record a turn (when its task starts); returns its index."""
        with self._conn:
            idx = self.next_index(session)
            self._conn.execute(
                "INSERT INTO turns (session, idx, thread_id, command, program, outcome, scene, "
                "created, world_before, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session,
                    idx,
                    thread_id,
                    command,
                    program,
                    outcome,
                    json.dumps(scene_before),
                    time.time(),
                    world_before,
                    json.dumps(details or {}),
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
        world_after: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> bool:
        """Set the program, outcome (and scene, end snapshot) of the turn on ``thread_id``.

        ``details`` are merged into the turn's details (keys given replace earlier values).

        Returns:
            False when ``session`` has no turn for that thread (nothing changed).
        """
        with self._conn:
            row = self._conn.execute(
                "SELECT details FROM turns WHERE session = ? AND thread_id = ?",
                (session, thread_id),
            ).fetchone()
            merged = {**json.loads(row[0] or "{}"), **(details or {})} if row else {}
            cur = self._conn.execute(
                "UPDATE turns SET program = ?, outcome = ?, scene = COALESCE(?, scene), "
                "world_after = COALESCE(?, world_after), details = ? "
                "WHERE session = ? AND thread_id = ?",
                (
                    program,
                    outcome,
                    None if scene_before is None else json.dumps(scene_before),
                    world_after,
                    json.dumps(merged),
                    session,
                    thread_id,
                ),
            )
        return cur.rowcount > 0

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    """The Euclidean distance of two points (metres)."""
    return float(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b, strict=False)) ** 0.5)


def moved(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Objects the cameras saw move more than 1 cm between two scenes (in ``after``'s order)."""
    then = {o["name"]: o["position"] for o in before}
    return [
        o["name"]
        for o in after
        if o["name"] in then and distance(o["position"], then[o["name"]]) > 0.01
    ]


def not_back(before: Sequence[SceneObject], now: list[dict[str, Any]], label: str) -> str:
    """Why the world is not back as the cameras saw it before ``label`` ("" when it is)."""
    seen = {o["name"]: o["position"] for o in now}
    off = [
        f"the {o.name} is {distance(seen[o.name], o.position) * 100:.1f} cm away"
        for o in before
        if o.name in seen and distance(seen[o.name], o.position) > 0.01
    ]
    if not off:
        return ""
    return f"cannot undo {label}: after restoring, {'; '.join(off)}; the world is as it was"


def planner_turn(turn: dict[str, Any]) -> dict[str, Any]:
    """A stored session turn as the planner is told about it (:class:`SessionTurn` fields)."""
    details = turn.get("details", {})
    return {
        "index": turn["index"],
        "thread_id": turn["thread_id"],
        "command": turn["command"],
        "program": turn["program"],
        "outcome": turn["outcome"],
        "scene_before": turn["scene_before"],
        "check_program": str(details.get("check_program") or ""),
        "family": details.get("family"),
        "slots": dict(details.get("slots") or {}),
        "moved": list(details.get("moved") or []),
        "followup": str(details.get("followup") or ""),
        "provenance": str(details.get("provenance") or ""),
    }


def unfinished_turn(config: EngineConfig, session: str, thread_id: str) -> str:
    """Why a session cannot go on while its last task is unfinished, and what to do."""
    from policywright.config import default_state_dir

    folder = config.state_dir
    flag = "" if folder == default_state_dir() else f" --state-dir {folder}"
    return (
        f"the last task of session {session!r} ({thread_id}) did not finish: the process ended "
        f"while it ran, or it still runs elsewhere. Resume it first (policywright resume "
        f"{thread_id}{flag}), or start the session over (new_world=True, --new-world)"
    )


def session_turns(config: EngineConfig, session: str) -> list[dict[str, Any]]:
    """Every turn of ``session`` in order, read from the state folder (no world is built).

    Raises:
        UnknownThreadError: the folder has no session of that name.
    """
    from policywright.errors import UnknownThreadError

    path = config.state_dir / "sessions.sqlite"
    if not path.exists():
        raise UnknownThreadError(f"no session {session!r} in {str(config.state_dir)!r}")
    store = SessionStore(path)
    try:
        turns = store.turns(session, last=1_000_000)
    finally:
        store.close()
    if not turns:
        raise UnknownThreadError(f"no session {session!r} in {str(config.state_dir)!r}")
    return turns
