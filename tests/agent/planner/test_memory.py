"""ProgramMemory: seeding, persistence, outcomes, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from policywright.agent.planner import ProgramMemory
from policywright.agent.planner.memory import SCHEMA_VERSION, load_seed_examples
from policywright.errors import ConfigError, InternalError, UnknownNameError

TINY_SEED = """
version: 1
families:
  - family: stack_all
    commands: [stack all the blocks, stack the blocks]
    code: |
      say('stack')
    check: |
      verdict(True, 'ok')
"""


def test_seeded_on_first_open() -> None:
    with ProgramMemory() as memory:
        entries = memory.all()
    assert len(entries) == len(load_seed_examples())
    assert all(e.source == "seed" and e.successes == 0 and e.failures == 0 for e in entries)
    families = {e.family for e in entries}
    assert len(families) == 17
    assert len({e.command_template for e in entries}) == len(entries)


def test_seeding_idempotent_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    with ProgramMemory(path) as memory:
        first = memory.all()
        learned = memory.add(
            "wiggle the {block1}", "say({block1})\n", "verdict(True, 'x')\n", "wiggle"
        )
        memory.record_outcome(first[0].id, success=True)
    with ProgramMemory(path) as memory:
        again = memory.all()
        assert len(again) == len(first) + 1
        assert memory.get(learned.id) == learned
        assert memory.get(first[0].id).successes == 1
        assert memory.search("wiggle the red block", k=1)[0][0].id == learned.id
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_reseed_when_examples_change_keeps_ids_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    with ProgramMemory(path, seed_text=TINY_SEED) as memory:
        kept = next(e for e in memory.all() if e.command_template == "stack all the blocks")
        memory.record_outcome(kept.id, success=False)
        memory.add("learned {block1}", "say({block1})\n", "verdict(True, 'x')\n", "x")
    changed = TINY_SEED.replace("stack the blocks", "make a tower").replace(
        "say('stack')", "say('v2')"
    )
    with ProgramMemory(path, seed_text=changed) as memory:
        entries = {e.command_template: e for e in memory.all()}
    assert set(entries) == {"stack all the blocks", "make a tower", "learned {block1}"}
    assert entries["stack all the blocks"].id == kept.id
    assert entries["stack all the blocks"].failures == 1
    assert "v2" in entries["stack all the blocks"].code_template
    assert entries["learned {block1}"].source == "learned"


def test_record_outcome_counts() -> None:
    memory = ProgramMemory()
    entry = memory.all()[0]
    for ok in (True, True, False):
        memory.record_outcome(entry.id, ok)
    updated = memory.get(entry.id)
    assert (updated.successes, updated.failures) == (2, 1)
    with pytest.raises(UnknownNameError):
        memory.record_outcome(999_999, True)
    with pytest.raises(UnknownNameError):
        memory.get(999_999)


def test_track_record_breaks_ties() -> None:
    memory = ProgramMemory(seed_text=TINY_SEED)
    a = memory.add("wiggle it", "say('a')\n", "verdict(True, 'a')\n", "w")
    b = memory.add("wiggle it", "say('b')\n", "verdict(True, 'b')\n", "w")
    assert memory.search("wiggle it", k=1)[0][0].id == a.id
    memory.record_outcome(b.id, True)
    assert memory.search("wiggle it", k=1)[0][0].id == b.id


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError, match="newer"):
        ProgramMemory(path)


def test_examples_are_packaged() -> None:
    from importlib import resources

    assert resources.files("policywright.agent.planner").joinpath("examples.yaml").is_file()


def test_add_refuses_slots_the_command_lacks() -> None:
    memory = ProgramMemory(seed_text=TINY_SEED)
    with pytest.raises(InternalError, match="bowl1"):
        memory.add("wiggle the {block1}", "put_first_on_second({block1}, {bowl1})\n", "", "w")
