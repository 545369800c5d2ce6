"""The engine runs programs in every world kind: the A1 floor and the mobile manipulator."""

from __future__ import annotations

import pytest

from policywright.config import EngineConfig
from policywright.engine import Engine, make_world
from policywright.errors import UnknownNameError, UserError

from .conftest import ScriptedPlanner, prog

pytestmark = pytest.mark.sim


def test_floor_world_walks_and_verifies(shared_sandbox, tmp_path):
    world = make_world("floor", "walk", seed=0)
    program = prog(
        "start = get_robot_pose()\nstatus = walk(0.75)\nsay(status)\nprint(turn(30))\n",
        "pose = get_robot_pose()\n"
        "verdict(abs(pose[0] - 0.75) < 0.05 and abs(pose[2] - 30) < 5, str(pose))\n",
    )
    with (
        world,
        Engine(
            world,
            EngineConfig(state_dir=tmp_path),
            planner=ScriptedPlanner([program]),
            sandbox=shared_sandbox,
        ) as eng,
    ):
        assert "walk" in eng.registry and "pick" not in eng.registry  # per-world primitives
        result = eng.run("walk forward 75 cm and turn left 30 degrees")
    assert result.status == "succeeded", result.reason
    names = [c["name"] for c in result.attempts[-1]["execution"]["calls"]]
    assert names[:3] == ["get_robot_pose", "walk", "say"]


def test_floor_world_failure_runs_its_safe_stop(shared_sandbox, tmp_path):
    world = make_world("floor", "x", seed=1)
    with (
        world,
        Engine(
            world,
            EngineConfig(state_dir=tmp_path, max_attempts=1),
            planner=ScriptedPlanner([prog("walk(0.2)\nx = 1 / 0\n")]),
            sandbox=shared_sandbox,
        ) as eng,
    ):
        result = eng.run("walk a bit then fail")
    assert result.status == "failed"
    assert result.attempts[0]["outcome"] == "error"


@pytest.mark.slow
def test_mobile_world_fetches_through_the_engine(shared_sandbox, tmp_path):
    world = make_world("mobile", "x", seed=0)
    program = prog(
        'print(drive_to_place("table"))\npick_up("red block")\n'
        'print(drive_to_place("user"))\nput_down_on("user")\n',
        'verdict(is_object_on("red block", "user"), "red block at the user")\n',
    )
    with (
        world,
        Engine(
            world,
            EngineConfig(state_dir=tmp_path),
            planner=ScriptedPlanner([program]),
            sandbox=shared_sandbox,
        ) as eng,
    ):
        result = eng.run("go to the table and bring me the red block")
    assert result.status == "succeeded", result.reason
    final = result.objects_final["red block"].position
    assert final[0] < 0  # behind the start: on the user's table


def test_unknown_world_and_tabletop_only_options():
    with pytest.raises(UnknownNameError, match="did you mean 'floor'"):
        make_world("flor", "x")
    with pytest.raises(UserError, match="tabletop"):
        make_world("floor", "x", objects=["red block"])
