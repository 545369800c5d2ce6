"""A session owns its world: each task continues where the last one left it (issue 16, item 1).

Through ``policywright run --session`` (a new process per turn, one state folder) and the Engine
API; every assertion is on the simulator's true poses, never on the engine's own verdicts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policywright.config import EngineConfig
from policywright.engine import Engine, session_world
from policywright.errors import UnknownThreadError, UserError
from policywright.sim import SceneSpec, TabletopWorld

pytestmark = pytest.mark.sim

OBJECTS = "red block, green block, yellow block, blue bowl"
SCENE = {
    "objects": [
        {"name": "red block", "color": "red", "kind": "block", "position": [0.45, 0.12]},
        {"name": "green block", "color": "green", "kind": "block", "position": [0.40, -0.02]},
        {"name": "yellow block", "color": "yellow", "kind": "block", "position": [0.42, -0.18]},
        {"name": "blue bowl", "color": "blue", "kind": "bowl", "position": [0.60, 0.10]},
    ]
}
CRASH_SCRIPT = Path(__file__).with_name("_session_crash_script.py")


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``policywright ARGS --state-dir STATE`` in a new process (never from the repo root)."""
    return subprocess.run(
        [sys.executable, "-m", "policywright", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=state.parent,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"},
    )


def run_json(state: Path, *args: str) -> dict[str, Any]:
    proc = cli(state, "run", *args, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def positions(poses: dict[str, Any]) -> dict[str, tuple[float, ...]]:
    """name -> position, from a TaskResult's JSON poses or ``world.true_poses()``."""
    out = {}
    for name, pose in poses.items():
        pos = pose["position"] if isinstance(pose, dict) else pose.position
        out[name] = tuple(float(v) for v in pos)
    return out


def dist(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def assert_same_poses(a: dict[str, Any], b: dict[str, Any], tol: float = 0.001) -> None:
    pa, pb = positions(a), positions(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        assert dist(pa[name], pb[name]) < tol, (name, pa[name], pb[name])


def test_run_session_continues_the_world_across_processes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_json(
        state, "put the red block in the blue bowl", "--objects", OBJECTS, "--session", "s"
    )
    assert first["thread_id"] == "s-1" and first["status"] == "succeeded"
    second = run_json(state, "put the green block on the yellow block", "--session", "s")
    assert second["thread_id"] == "s-2" and second["status"] == "succeeded", second["reason"]
    # Turn 2 began where turn 1 ended: the red block is still in the bowl.
    assert_same_poses(second["objects_initial"], first["objects_final"])
    bowl = positions(second["objects_final"])["blue bowl"]
    assert dist(positions(second["objects_final"])["red block"][:2], bowl[:2]) < 0.06

    # Scene options for a session that has its world are refused; nothing runs.
    for flags in (["--seed", "0"], ["--objects", "red block, blue bowl"], ["--world", "floor"]):
        refused = cli(state, "run", "stack all the blocks", "--session", "s", *flags)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "already has its world" in refused.stderr and "--new-world" in refused.stderr
    third = run_json(state, "put the green block in the blue bowl", "--session", "s")
    assert_same_poses(third["objects_initial"], second["objects_final"])

    # --new-world starts the session over in a fresh scene; the turn count goes on.
    fresh = run_json(
        state, "put the red block in the blue bowl", "--objects", OBJECTS, "--session", "s",
        "--new-world",
    )  # fmt: skip
    assert fresh["thread_id"] == "s-4"
    assert_same_poses(fresh["objects_initial"], first["objects_initial"])

    # threads --session and history SESSION list the session's tasks in order.
    listed = cli(state, "threads", "--session", "s", "--json")
    assert listed.returncode == 0, listed.stderr
    turns = json.loads(listed.stdout)["turns"]
    assert [t["thread_id"] for t in turns] == ["s-1", "s-2", "s-3", "s-4"]
    assert turns[1]["command"] == "put the green block on the yellow block"
    assert "put_first_on_second('green block', 'yellow block')" in turns[1]["program"]
    assert turns[1]["details"]["verdict"]["success"] is True
    assert all(Path(t["world_before"]).exists() for t in turns)
    assert turns[3]["details"]["new_world"] is True
    shown = cli(state, "history", "s")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.index("s-1") < shown.stdout.index("s-2") < shown.stdout.index("s-4")


def test_engine_run_session_in_a_new_engine_continues_the_world(tmp_path: Path) -> None:
    config = EngineConfig(state_dir=tmp_path / "state")
    with TabletopWorld(SceneSpec.model_validate(SCENE)) as world, Engine(world, config) as eng:
        first = eng.run("put the red block in the blue bowl", session="s")
        assert first.status == "succeeded", first.reason
        after_first = world.true_poses()
        with pytest.raises(UnknownThreadError, match="no world yet"):
            session_world(config, "other")

    # A new engine (as in a new process) on a fresh copy of the scene: restored first.
    with TabletopWorld(SceneSpec.model_validate(SCENE)) as world, Engine(world, config) as eng:
        second = eng.run("put the green block on the yellow block", session="s")
        assert second.thread_id == "s-2" and second.status == "succeeded", second.reason
        assert_same_poses(second.objects_initial, after_first)
        after_second = world.true_poses()

    # Or the session's own world, rebuilt from its last snapshot.
    with session_world(config, "s") as world:
        assert_same_poses(world.true_poses(), after_second)
        with Engine(world, config) as eng:
            third = eng.run("put the green block in the blue bowl", session="s")
            assert_same_poses(third.objects_initial, after_second)

    # Another scene is not the session's world: refused before anything moves.
    other = {"objects": SCENE["objects"][:2] + SCENE["objects"][3:]}
    with TabletopWorld(SceneSpec.model_validate(other)) as world, Engine(world, config) as eng:
        before = world.true_poses()
        with pytest.raises(UserError, match="has its own world"):
            eng.run("put the red block in the blue bowl", session="s")
        assert_same_poses(world.true_poses(), before)
        restarted = eng.run("put the red block in the blue bowl", session="s", new_world=True)
        assert restarted.status == "succeeded" and restarted.thread_id == "s-4"
        assert_same_poses(restarted.objects_initial, before)
    with TabletopWorld(SceneSpec.model_validate(other)) as world, Engine(world, config) as eng:
        record = eng.sessions.turns("s")
        assert [t["details"].get("new_world", False) for t in record] == [False] * 3 + [True]
        # Follow-ups after a restart see only the new world's turns.
        assert [t["thread_id"] for t in eng._session_history("s", new_world=False)] == ["s-4"]


def test_kill9_mid_turn_then_resume_then_the_next_turn(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_json(
        state, "put the red block in the blue bowl", "--objects", OBJECTS, "--session", "s"
    )
    assert first["status"] == "succeeded"
    crash = subprocess.run(
        [
            sys.executable,
            str(CRASH_SCRIPT),
            str(state),
            "s",
            "put the green block on the yellow block",
            "call",
            "put_first_on_second",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert crash.returncode == -9, crash.stdout + crash.stderr
    # The session waits for its interrupted task: the next command says to resume it.
    blocked = cli(state, "run", "put the green block in the blue bowl", "--session", "s")
    assert blocked.returncode == 2, blocked.stdout + blocked.stderr
    assert "resume s-2" in " ".join(blocked.stderr.split())
    resumed = cli(state, "resume", "s-2", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = json.loads(resumed.stdout)
    assert done["status"] == "succeeded", done["reason"]
    third = run_json(state, "put the green block in the blue bowl", "--session", "s")
    assert third["thread_id"] == "s-3"
    assert_same_poses(third["objects_initial"], done["objects_final"])
    p = positions(third["objects_initial"])
    assert dist(p["green block"][:2], positions(first["objects_final"])["yellow block"][:2]) < 0.04
