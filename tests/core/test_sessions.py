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


# -- follow-ups (issue 16, items 2 and 5) ---------------------------------------------------------


def moved_names(before: dict[str, Any], after: dict[str, Any], tol: float = 0.01) -> set[str]:
    pa, pb = positions(before), positions(after)
    return {n for n in pa if dist(pa[n], pb[n]) > tol}


def test_followups_offline_through_run_session(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_json(
        state, "put the red block in the blue bowl", "--objects", OBJECTS, "--session", "s"
    )
    assert first["status"] == "succeeded"
    same = run_json(state, "now do the same with the other blocks", "--session", "s")
    assert same["status"] == "succeeded", same["reason"]
    assert_same_poses(same["objects_initial"], first["objects_final"])
    # Exactly the blocks turn 1 did not touch moved, into the bowl.
    assert moved_names(same["objects_initial"], same["objects_final"]) == {
        "green block",
        "yellow block",
    }
    bowl = positions(same["objects_final"])["blue bowl"]
    for block in ("green block", "yellow block"):
        assert dist(positions(same["objects_final"])[block][:2], bowl[:2]) < 0.06

    undo = run_json(state, "undo that", "--session", "s")
    assert undo["status"] == "succeeded", undo["reason"]
    back = positions(undo["objects_final"])
    for name, where in positions(same["objects_initial"]).items():
        assert dist(back[name], where) < 0.01, name  # the whole of turn 2 is undone

    # Words that point back at a turn but are not known offline: exit 2, the world unchanged.
    refused = cli(state, "run", "make the line longer", "--session", "s", "--json")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    result = json.loads(refused.stdout)
    assert "--llm" in result["reason"] and "turn 2 (s-2" in result["reason"]
    assert "can't plan" not in result["reason"]
    assert_same_poses(result["objects_final"], undo["objects_final"])
    assert_same_poses(result["objects_initial"], undo["objects_final"])

    # "put it back" skips the refused turn (it moved nothing) and undoes the undo.
    redo = run_json(state, "put it back", "--session", "s")
    assert_same_poses(redo["objects_final"], same["objects_final"], tol=0.01)

    turns = json.loads(cli(state, "threads", "--session", "s", "--json").stdout)["turns"]
    assert [t["command"] for t in turns] == [
        "put the red block in the blue bowl",
        "now do the same with the other blocks",
        "undo that",
        "make the line longer",
        "put it back",
    ]
    assert [(t["details"].get("verdict") or {}).get("success") for t in turns] == [
        True,
        True,
        True,
        None,
        True,
    ]
    assert turns[3]["outcome"].startswith("failed:") and turns[3]["program"] == ""
    assert turns[2]["program"].startswith("# undo:")
    assert all(Path(t["world_before"]).exists() for t in turns)


def test_followups_through_the_engine_api(tmp_path: Path) -> None:
    config = EngineConfig(state_dir=tmp_path / "state")
    with TabletopWorld(SceneSpec.model_validate(SCENE)) as world, Engine(world, config) as eng:
        start = world.true_poses()
        first = eng.run("put the red block in the blue bowl", session="s")
        assert first.status == "succeeded"
        assert moved_names(start, world.true_poses()) == {"red block"}

        undo = eng.run("undo that", session="s")
        assert undo.status == "succeeded" and undo.exit_code == 0, undo.reason
        red = world.true_poses()["red block"].position
        assert dist(tuple(red), tuple(start["red block"].position)) < 0.01

        again = eng.run("again", session="s")
        assert again.status == "succeeded", again.reason
        assert moved_names(start, world.true_poses()) == {"red block"}
        after_again = world.true_poses()

        # Follow-ups that cannot be done leave the world as it was and say why.
        for text, why in (
            ("do the same with the other bowls", "no other bowls"),
            ("put the other one on top of it instead", "--llm"),
        ):
            refused = eng.run(text, session="s")
            assert refused.status == "failed" and refused.exit_code == 2, refused.reason
            assert why in refused.reason
            assert_same_poses(world.true_poses(), after_again)
        record = eng.sessions.turns("s")
        assert [t["thread_id"] for t in record] == ["s-1", "s-2", "s-3", "s-4", "s-5"]
        assert record[3]["world_before"] and record[3]["details"]["moved"] == []


def test_an_llm_sees_the_session_turns_and_the_current_scene(tmp_path: Path) -> None:
    from policywright.agent.llm import ScriptedChatModel
    from policywright.agent.planner import LLMPlanner, ProgramMemory
    from policywright.primitives import default_registry

    check = "verdict(is_on('red block', 'blue bowl'), 'where the red block is')\n"
    reply = (
        "```python\nput_first_on_second('red block', 'blue bowl')\n```\n"
        f"```python check\n{check}```\n"
    )
    model = ScriptedChatModel.of(reply, reply)
    planner = LLMPlanner(
        model,
        ProgramMemory(tmp_path / "memory.sqlite"),
        registry=default_registry().for_world("tabletop"),
        plan_cache=False,
    )
    config = EngineConfig(state_dir=tmp_path / "state")
    with (
        TabletopWorld(SceneSpec.model_validate(SCENE)) as world,
        Engine(world, config, planner=planner) as eng,
    ):
        assert eng.run("put the red block in the blue bowl", session="s").status == "succeeded"
        red_now = world.detect()["red block"].position
        eng.run("make it sit deeper in the bowl", session="s")
    text = model.requests[-1].messages[-1].plain_text()
    assert '"put the red block in the blue bowl"' in text
    assert "put_first_on_second('red block', 'blue bowl')" in text
    # The scene is the current one (the red block in the bowl), not the one turn 1 began in.
    scene_line = next(
        line for line in text.splitlines() if '"red block"' in line and "position" in line
    )
    shown = json.loads(scene_line)["position"]
    assert dist(tuple(shown[:2]), (float(red_now[0]), float(red_now[1]))) < 0.005
    assert dist(tuple(shown[:2]), (0.45, 0.12)) > 0.05
