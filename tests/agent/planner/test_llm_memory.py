"""ProgramMemory's plan cache and function library (schema 2) and the migration from schema 1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from policywright.agent.planner import (
    ProgramMemory,
    SceneObject,
    normalise_command,
    scene_signature,
)
from policywright.agent.planner.memory import SCHEMA_VERSION, load_seed_helpers


def obj(name: str, x: float) -> SceneObject:
    colour, kind = name.split(" ")
    return SceneObject(name=name, kind=kind, color=colour, position=(x, 0.0, 0.645))


def test_scene_signature_ignores_positions_and_order() -> None:
    a = [obj("red block", 0.4), obj("blue bowl", 0.6)]
    b = [obj("blue bowl", 0.5), obj("red block", 0.45)]
    assert scene_signature(a) == scene_signature(b)
    assert scene_signature(a) != scene_signature([*a, obj("green block", 0.5)])
    assert scene_signature(a) == '[["blue bowl","bowl"],["red block","block"]]'


def test_normalise_command() -> None:
    assert normalise_command("  Stack   ALL the blocks!! ") == "stack all the blocks"


def test_plans_are_stored_once_and_found_by_key() -> None:
    memory = ProgramMemory()
    sig = scene_signature([obj("red block", 0.4)])
    first = memory.store_plan("Stack the blocks.", sig, "a()\n", "verdict(True, 'x')\n", "m")
    assert memory.store_plan("stack the blocks", sig, "a()\n", "verdict(True, 'x')\n", "m") == first
    newer = memory.store_plan("stack the blocks", sig, "b()\n", "verdict(True, 'x')\n", "m")
    found = memory.find_plan("STACK the blocks", sig)
    assert found is not None and found.id == newer and found.code == "b()\n"
    assert memory.find_plan("stack the blocks", sig, context_key="abc") is None
    assert memory.find_plan("stack the blocks", "[]") is None
    memory.record_plan_hit(newer)
    memory.forget_plan(first)
    assert [(p.id, p.hits) for p in memory.plans()] == [(newer, 1)]


def test_function_library_learned_first_then_seed_helpers() -> None:
    memory = ProgramMemory()
    helpers = load_seed_helpers()
    assert "block_names" in helpers and memory.function("block_names") == helpers["block_names"]
    assert memory.function("no_such_function") is None
    memory.store_function("block_names", "def block_names():\n    return []\n", "m")
    memory.store_function("block_names", "def block_names():\n    return ['x']\n", "m2")
    assert memory.function("block_names") == "def block_names():\n    return ['x']\n"
    assert memory.functions() == {"block_names": "def block_names():\n    return ['x']\n"}


def test_schema_1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with ProgramMemory(path) as memory:
        n_entries = len(memory.all())
    # Make it look like a database written before the plan cache existed.
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE plans")
    conn.execute("DROP TABLE functions")
    conn.execute("DROP TABLE lessons")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with ProgramMemory(path) as memory:
        assert len(memory.all()) == n_entries
        memory.store_function("f", "def f():\n    return 1\n", "m")
        assert memory.plans() == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()
