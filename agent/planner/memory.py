"""ProgramMemory: command templates and their programs in SQLite, searched by text similarity."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field

from policywright.agent.language import normalise_text
from policywright.agent.planner._text import (
    DERIVED_SLOT_NAMES,
    SimilarityIndex,
    abstract_command,
    placeholders_of,
    slot_names_of,
    template_tokens,
)
from policywright.agent.planner.base import Program
from policywright.errors import ConfigError, InternalError, UnknownNameError

__all__ = [
    "MemoryEntry",
    "PlanRecord",
    "ProgramMemory",
    "load_seed_examples",
    "load_seed_helpers",
    "normalise_command",
    "read_floor_seed_text",
    "scene_signature",
]

logger = logging.getLogger(__name__)

#: Schema version stored in SQLite's ``user_version`` pragma.
SCHEMA_VERSION = 3
_SEED_RESOURCE = "examples.yaml"
#: Seed examples for the floor world (A1 quadruped and landmark posts).
_FLOOR_SEED_RESOURCE = "examples_floor.yaml"


class MemoryEntry(BaseModel):
    """One stored command template with its program and check templates.

    Attributes:
        id: Row id (stable across re-opens and re-seeding).
        command_template: e.g. "put the {block1} in the {bowl1}".
        code_template: Program with "{slot}" placeholders (filled with string literals).
        check_template: Check program with placeholders; ends with one ``verdict(...)``.
        family: Task family, e.g. "stack_all".
        source: "seed" (shipped examples) or "learned" (added at run time).
        successes: Verified successful runs.
        failures: Failed runs.
        scene_signature: Optional description of the scene it was learned in.
        created_at: ISO 8601 UTC time of insertion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    command_template: str
    code_template: str
    check_template: str
    family: str
    source: Literal["seed", "learned"]
    successes: int = Field(ge=0)
    failures: int = Field(ge=0)
    scene_signature: str | None = None
    created_at: str


class PlanRecord(BaseModel):
    """A verified successful LLM plan, reused for the same command in an equivalent scene.

    Attributes:
        id: Row id.
        command: The normalised command (see :func:`normalise_command`).
        scene_signature: The scene's objects (see :func:`scene_signature`).
        context_key: "" for a command planned with no session history, else a digest of the
            previous turn (a follow-up such as "undo that" means something else after
            another turn).
        code: The policy program.
        check_code: The check program.
        model_id: The model that wrote it.
        hits: How often it was reused.
        created_at: ISO 8601 UTC time of insertion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    command: str
    scene_signature: str
    context_key: str
    code: str
    check_code: str
    model_id: str
    hits: int = Field(ge=0)
    created_at: str


class Lesson(BaseModel):
    """What a person's corrections taught for one command.

    Attributes:
        id: Row id.
        command: The normalised command as first given.
        objects: The object names the scene held (the lesson applies where they all are).
        scene_signature: The scene's names and kinds.
        corrections: What the person said, in order.
        code: The program that finally succeeded (nudges kept as ``shift_target``).
        check_code: Its check program.
        family: The task family, when known.
        slots: The slot values of the final program.
        uses: How often it was reused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    command: str
    objects: list[str]
    scene_signature: str
    corrections: list[str]
    code: str
    check_code: str
    family: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    uses: int = 0


def normalise_command(command: str) -> str:
    """The plan-cache form of a command: normalised text, no trailing punctuation."""
    return normalise_text(command).rstrip(".!?;, ")


class _Named(Protocol):
    name: str
    kind: str


def scene_signature(objects: Iterable[_Named]) -> str:
    """A canonical description of a scene: its objects' names and kinds, sorted.

    Positions are left out on purpose: the same objects elsewhere on the table are an
    equivalent scene for a program that locates them by perception.

    Args:
        objects: Anything with ``name`` and ``kind`` (SceneObject, DetectedObject).

    Returns:
        e.g. '[["blue bowl","bowl"],["red block","block"]]'.
    """
    pairs = sorted((o.name, o.kind) for o in objects)
    return json.dumps(pairs, separators=(",", ":"), ensure_ascii=True)


class _SeedExample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command_template: str
    code_template: str
    check_template: str
    family: str


class _FamilySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: str
    commands: list[str] = Field(min_length=1)
    code: str
    check: str


class _ExamplesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    #: The world kind the examples are written for ("tabletop" or "floor").
    world: str = "tabletop"
    helpers: dict[str, str] = Field(default_factory=dict)
    families: list[_FamilySpec]


def _with_helpers(template: str, helpers: dict[str, str]) -> str:
    """Prepend the helper definitions the template calls (helpers call no other helper)."""
    used = [h for name, h in helpers.items() if re.search(rf"\b{re.escape(name)}\(", template)]
    return "\n".join([*(h.rstrip() + "\n" for h in used), template.rstrip() + "\n"])


def _read_seed_text(resource: str = _SEED_RESOURCE) -> str:
    return resources.files("policywright.agent.planner").joinpath(resource).read_text("utf-8")


def read_floor_seed_text() -> str:
    """The shipped floor-world examples (YAML text in the examples.yaml format)."""
    return _read_seed_text(_FLOOR_SEED_RESOURCE)


def load_seed_examples(text: str | None = None) -> list[_SeedExample]:
    """Parse the shipped examples (or ``text``) into one entry per command phrasing.

    Args:
        text: YAML text in the examples.yaml format; the packaged file when None.

    Returns:
        The seed entries, helpers already prepended to code and check templates.
    """
    raw = yaml.safe_load(_read_seed_text() if text is None else text)
    spec = _ExamplesFile.model_validate(raw)
    out: list[_SeedExample] = []
    for fam in spec.families:
        code = _with_helpers(fam.code, spec.helpers)
        check = _with_helpers(fam.check, spec.helpers)
        for cmd in fam.commands:
            out.append(
                _SeedExample(
                    command_template=cmd.strip(),
                    code_template=code,
                    check_template=check,
                    family=fam.family,
                )
            )
    return out


def load_seed_helpers(text: str | None = None) -> dict[str, str]:
    """The helper functions of the shipped examples (name -> ``def`` source).

    Args:
        text: YAML text in the examples.yaml format; the packaged file when None.
    """
    raw = yaml.safe_load(_read_seed_text() if text is None else text)
    spec = _ExamplesFile.model_validate(raw)
    return {name: src.rstrip() + "\n" for name, src in spec.helpers.items()}


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            command_template TEXT NOT NULL,
            code_template TEXT NOT NULL,
            check_template TEXT NOT NULL,
            family TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('seed', 'learned')),
            successes INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            scene_signature TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    # The LLM planner's plan cache and function library.
    conn.execute(
        """CREATE TABLE plans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            command TEXT NOT NULL,
            scene_signature TEXT NOT NULL,
            context_key TEXT NOT NULL DEFAULT '',
            code TEXT NOT NULL,
            check_code TEXT NOT NULL,
            model_id TEXT NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX plans_key ON plans (command, scene_signature, context_key)")
    conn.execute(
        """CREATE TABLE functions (
            name TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            model_id TEXT NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    # Lessons: what a person's corrections taught (command -> the program that finally worked).
    conn.execute(
        """CREATE TABLE lessons (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            command TEXT NOT NULL,
            objects TEXT NOT NULL,
            scene_signature TEXT NOT NULL,
            corrections TEXT NOT NULL,
            code TEXT NOT NULL,
            check_code TEXT NOT NULL,
            family TEXT,
            slots TEXT NOT NULL DEFAULT '{}',
            uses INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX lessons_command ON lessons (command)")


# Migration i+1 upgrades a database from user_version i; append, never edit, when the schema grows.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migrate_to_1,
    _migrate_to_2,
    _migrate_to_3,
]

_PLAN_COLUMNS = (
    "id, command, scene_signature, context_key, code, check_code, model_id, hits, created_at"
)

_COLUMNS = (
    "id, command_template, code_template, check_template, family, source, "
    "successes, failures, scene_signature, created_at"
)


def _row_to_entry(row: tuple[Any, ...]) -> MemoryEntry:
    keys = [c.strip() for c in _COLUMNS.split(",")]
    return MemoryEntry.model_validate(dict(zip(keys, row, strict=True)))


def _check_slots(command_template: str, code_template: str, check_template: str) -> None:
    have = slot_names_of(template_tokens(command_template)) | DERIVED_SLOT_NAMES
    used = placeholders_of(code_template) | placeholders_of(check_template)
    if not used <= have:
        raise InternalError(
            f"template uses slots {sorted(used - have)} that {command_template!r} does not have"
        )


class ProgramMemory:
    """Command templates with their program and check templates, in SQLite.

    On first open the shipped examples are inserted; when the shipped examples change (their hash
    differs from the stored one) the seed rows are synchronised by command template, keeping the
    ids and outcome counts of unchanged templates. Learned rows are never touched by seeding.

    Args:
        path: SQLite file path, or ":memory:" for a throw-away memory.
        seed_text: Override the shipped examples (YAML text), mainly for tests.
    """

    def __init__(self, path: str | Path = ":memory:", *, seed_text: str | None = None) -> None:
        self.path = str(path)
        # The graph may call the planner from a worker thread: one connection guarded by a lock.
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.RLock()
        self._index: SimilarityIndex | None = None
        self._entries: list[MemoryEntry] = []
        self._seed_text = seed_text
        self._helpers: dict[str, str] | None = None
        self._migrate()
        self._seed(seed_text)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ProgramMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def _migrate(self) -> None:
        with self._tx() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"program memory {self.path!r} has schema version {version}, newer than this "
                    f"policywright understands ({SCHEMA_VERSION}); upgrade policywright"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                logger.info("migrating program memory %s to schema %d", self.path, target)
                _MIGRATIONS[target - 1](conn)
                # PRAGMA does not accept parameters; target is an int from our own range.
                conn.execute(f"PRAGMA user_version = {int(target)}")

    def _seed(self, seed_text: str | None) -> None:
        text = _read_seed_text() if seed_text is None else seed_text
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'seed_hash'").fetchone()
            if row is not None and row[0] == digest:
                return
            examples = load_seed_examples(text)
            existing = {
                r[1]: r[0]
                for r in conn.execute(
                    "SELECT id, command_template FROM entries WHERE source = 'seed'"
                )
            }
            now = datetime.now(UTC).isoformat()
            wanted = set()
            for ex in examples:
                _check_slots(ex.command_template, ex.code_template, ex.check_template)
                wanted.add(ex.command_template)
                if ex.command_template in existing:
                    conn.execute(
                        "UPDATE entries SET code_template = ?, check_template = ?, family = ? "
                        "WHERE id = ?",
                        (
                            ex.code_template,
                            ex.check_template,
                            ex.family,
                            existing[ex.command_template],
                        ),
                    )
                else:
                    conn.execute(
                        "INSERT INTO entries (command_template, code_template, check_template, "
                        "family, source, created_at) VALUES (?, ?, ?, ?, 'seed', ?)",
                        (ex.command_template, ex.code_template, ex.check_template, ex.family, now),
                    )
            stale = [i for cmd, i in existing.items() if cmd not in wanted]
            conn.executemany("DELETE FROM entries WHERE id = ?", [(i,) for i in stale])
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('seed_hash', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (digest,),
            )
            logger.info(
                "seeded program memory %s: %d examples, %d removed",
                self.path,
                len(examples),
                len(stale),
            )
        self._index = None

    # -- queries ---------------------------------------------------------------------------
    def all(self) -> list[MemoryEntry]:
        """Every entry, ordered by id."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY id").fetchall()
        return [_row_to_entry(r) for r in rows]

    def get(self, entry_id: int) -> MemoryEntry:
        """The entry with this id.

        Raises:
            UnknownNameError: No such entry.
        """
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE id = ?", (entry_id,)
            ).fetchone()
        if row is None:
            raise UnknownNameError("memory entry", str(entry_id), [])
        return _row_to_entry(row)

    def _ensure_index(self) -> tuple[list[MemoryEntry], SimilarityIndex]:
        with self._lock:
            if self._index is None:
                self._entries = self.all()
                docs = [template_tokens(e.command_template) for e in self._entries]
                self._index = SimilarityIndex(docs)
            return self._entries, self._index

    def rank(self, tokens: tuple[str, ...]) -> list[tuple[MemoryEntry, float]]:
        """Every entry with its similarity to already-abstracted tokens, best first.

        Ties are broken by the entry's track record (successes minus failures), then by id.
        """
        entries, index = self._ensure_index()
        scored = list(zip(entries, index.scores(tokens), strict=True))
        scored.sort(key=lambda es: (-es[1], -(es[0].successes - es[0].failures), es[0].id))
        return scored

    def search(self, text: str, k: int = 5) -> list[tuple[MemoryEntry, float]]:
        """The ``k`` entries whose command templates are most similar to ``text``.

        Args:
            text: A command ("put the red block in the blue bowl") or a template.
            k: How many results to return.

        Returns:
            (entry, score) pairs, best first; scores are in [0, 1].
        """
        return self.rank(abstract_command(text).tokens)[: max(k, 0)]

    # -- updates ---------------------------------------------------------------------------
    def add(
        self,
        command_template: str,
        code_template: str,
        check_template: str,
        family: str,
        *,
        source: Literal["seed", "learned"] = "learned",
        scene_signature: str | None = None,
    ) -> MemoryEntry:
        """Store a new entry and return it.

        Args:
            command_template: The command with slots, e.g. "put the {block1} in the {bowl1}".
            code_template: The program, with the same slots as placeholders.
            check_template: The check program, ending with one ``verdict(...)``.
            family: The task family.
            source: "learned" for entries added at run time.
            scene_signature: Optional description of the scene it worked in.

        Returns:
            The stored entry (with its id).

        Raises:
            InternalError: The code or check template uses a slot the command template lacks.
        """
        _check_slots(command_template, code_template, check_template)
        now = datetime.now(UTC).isoformat()
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO entries (command_template, code_template, check_template, family, "
                "source, scene_signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    command_template,
                    code_template,
                    check_template,
                    family,
                    source,
                    scene_signature,
                    now,
                ),
            )
            new_id = cur.lastrowid
        self._index = None
        if new_id is None:
            raise InternalError("sqlite returned no row id for an insert")
        return self.get(new_id)

    def record_outcome(self, entry_id: int, success: bool) -> None:
        """Count one verified success or failure of an entry's program.

        Raises:
            UnknownNameError: No such entry.
        """
        column = "successes" if success else "failures"
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE entries SET {column} = {column} + 1 WHERE id = ?", (entry_id,)
            )
            if cur.rowcount == 0:
                raise UnknownNameError("memory entry", str(entry_id), [])
        self._index = None

    # -- plan cache (LLM planner) ----------------------------------------------------------
    def find_plan(self, command: str, signature: str, context_key: str = "") -> PlanRecord | None:
        """The newest stored success for this command in an equivalent scene, if any.

        Args:
            command: The command (normalised here).
            signature: The scene's :func:`scene_signature`.
            context_key: "" without session history, else the digest of the previous turn.
        """
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_PLAN_COLUMNS} FROM plans WHERE command = ? AND scene_signature = ? "
                "AND context_key = ? ORDER BY id DESC LIMIT 1",
                (normalise_command(command), signature, context_key),
            ).fetchone()
        if row is None:
            return None
        keys = [c.strip() for c in _PLAN_COLUMNS.split(",")]
        return PlanRecord.model_validate(dict(zip(keys, row, strict=True)))

    def store_plan(
        self,
        command: str,
        signature: str,
        code: str,
        check_code: str,
        model_id: str,
        *,
        context_key: str = "",
    ) -> int:
        """Store a verified successful plan; returns its id (an identical one is not duplicated)."""
        key = (normalise_command(command), signature, context_key)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM plans WHERE command = ? AND scene_signature = ? AND "
                "context_key = ? AND code = ? AND check_code = ?",
                (*key, code, check_code),
            ).fetchone()
            if row is not None:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO plans (command, scene_signature, context_key, code, check_code, "
                "model_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, code, check_code, model_id, datetime.now(UTC).isoformat()),
            )
            new_id = cur.lastrowid
        if new_id is None:
            raise InternalError("sqlite returned no row id for an insert")
        return int(new_id)

    def record_plan_hit(self, plan_id: int) -> None:
        """Count one reuse of a stored plan."""
        with self._tx() as conn:
            conn.execute("UPDATE plans SET hits = hits + 1 WHERE id = ?", (plan_id,))

    def forget_plan(self, plan_id: int) -> None:
        """Remove a stored plan (it failed when reused)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM plans WHERE id = ?", (plan_id,))

    def plans(self) -> list[PlanRecord]:
        """Every stored plan, oldest first."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_PLAN_COLUMNS} FROM plans ORDER BY id").fetchall()
        keys = [c.strip() for c in _PLAN_COLUMNS.split(",")]
        return [PlanRecord.model_validate(dict(zip(keys, r, strict=True))) for r in rows]

    # -- function library (LLM planner) ----------------------------------------------------
    def function(self, name: str) -> str | None:
        """The stored definition of ``name``: learned functions first, then the seed helpers.

        Returns:
            The ``def`` source, or None when the library has no such function.
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT code FROM functions WHERE name = ?", (name,)
            ).fetchone()
        if row is not None:
            return str(row[0])
        return self.seed_helpers().get(name)

    def seed_helpers(self) -> dict[str, str]:
        """The shipped examples' helper functions (name -> source)."""
        if self._helpers is None:
            self._helpers = load_seed_helpers(self._seed_text)
        return dict(self._helpers)

    def store_function(self, name: str, code: str, model_id: str) -> None:
        """Store (or replace) a function that was part of a verified successful program."""
        now = datetime.now(UTC).isoformat()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO functions (name, code, model_id, uses, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "uses = uses + 1, updated_at = excluded.updated_at, "
                "code = excluded.code, model_id = excluded.model_id",
                (name, code, model_id, now, now),
            )

    def store_lesson(
        self,
        command: str,
        objects: Iterable[_Named],
        corrections: list[str],
        program: Program,
    ) -> int:
        """Keep what corrections taught; a newer lesson for the same command and scene wins.

        Args:
            command: The command as the person gave it.
            objects: The scene it was given in.
            corrections: What the person said, oldest first.
            program: The program the corrections led to (its code, check, family and slots).
        """
        objs = list(objects)
        names = sorted(o.name for o in objs)
        sig = scene_signature(objs)
        key = normalise_command(command)
        now = datetime.now(UTC).isoformat()
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM lessons WHERE command = ? AND scene_signature = ?", (key, sig)
            )
            cur = conn.execute(
                "INSERT INTO lessons (command, objects, scene_signature, corrections, code, "
                "check_code, family, slots, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    json.dumps(names),
                    sig,
                    json.dumps(corrections),
                    program.code,
                    program.check_code,
                    program.family,
                    json.dumps(program.slots or {}),
                    now,
                ),
            )
            return int(cur.lastrowid or 0)

    def lessons(self) -> list[Lesson]:
        """Every lesson, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, command, objects, scene_signature, corrections, code, check_code, "
                "family, slots, uses FROM lessons ORDER BY id DESC"
            ).fetchall()
        return [
            Lesson(
                id=r[0],
                command=r[1],
                objects=json.loads(r[2]),
                scene_signature=r[3],
                corrections=json.loads(r[4]),
                code=r[5],
                check_code=r[6],
                family=r[7],
                slots=json.loads(r[8]),
                uses=r[9],
            )
            for r in rows
        ]

    def find_lesson(self, command: str, present: Iterable[str]) -> Lesson | None:
        """The newest lesson for this command whose objects are all in the scene."""
        key = normalise_command(command)
        names = set(present)
        for lesson in self.lessons():
            if lesson.command == key and set(lesson.objects) <= names:
                with self._tx() as conn:
                    conn.execute("UPDATE lessons SET uses = uses + 1 WHERE id = ?", (lesson.id,))
                return lesson
        return None

    def functions(self) -> dict[str, str]:
        """Every learned function (name -> source), by name."""
        with self._lock:
            rows = self._conn.execute("SELECT name, code FROM functions ORDER BY name").fetchall()
        return {str(n): str(c) for n, c in rows}
