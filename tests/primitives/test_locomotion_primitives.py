from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from policywright.agent.host import RegistryHost
from policywright.agent.sandbox import Sandbox, SandboxLimits
from policywright.primitives import PrimitiveContext, Registry
from policywright.primitives.locomotion import LOCOMOTION_PRIMITIVES
from policywright.sim import TabletopWorld, sample_scene
from policywright.sim._floor import FloorSpec, FloorWorld, LandmarkSpec, sample_floor
from policywright.skills._locomotion import LEARNED_ID, SCRIPTED_ID

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(SandboxLimits(wall_seconds=10.0, cpu_seconds=20)) as sandbox:
        yield sandbox


def _host(world: object, skill: str = SCRIPTED_ID) -> RegistryHost:
    ctx = PrimitiveContext(world=world, skills={"locomotion": skill})  # type: ignore[arg-type]
    return RegistryHost(Registry(LOCOMOTION_PRIMITIVES), ctx)


def test_registry_listing_and_worlds() -> None:
    reg = Registry(LOCOMOTION_PRIMITIVES)
    assert len(reg.for_world("floor")) == len(LOCOMOTION_PRIMITIVES)
    assert len(reg.for_world("tabletop")) == 0
    listing = reg.listing()
    for text in ("walk(forward_m: float, left_m: float = 0.0) -> str", "blocked: <what>", "A fall"):
        assert text in listing
    assert set(reg.names(read_only=True)) == {
        "get_landmark_names",
        "get_landmark_pos",
        "get_robot_pose",
    }


@pytest.mark.parametrize("skill", [SCRIPTED_ID, LEARNED_ID])
def test_program_walk_turn_go_to(sb: Sandbox, skill: str) -> None:
    spec = FloorSpec(
        landmarks=[
            LandmarkSpec(name="red landmark", color="red", position=(2.0, 1.2)),
            LandmarkSpec(name="blue landmark", color="blue", position=(-1.5, -1.0)),
        ]
    )
    code = (
        "print(walk(0.75))\n"
        "print(turn(30))\n"
        "p = get_robot_pose()\n"
        "print('pose', round(p[0], 2), round(p[1], 2), round(p[2]))\n"
        "print(sorted(get_landmark_names()))\n"
        'print(go_to("red landmark"))\n'
        'd = get_landmark_pos("the red landmark") - get_robot_pose()[:2]\n'
        "print('dist', round(float(np.hypot(d[0], d[1])), 2))\n"
    )
    with FloorWorld(spec) as world:
        report = sb.run(code, _host(world, skill))
        assert report.status == "ok", report
        lines = report.output.splitlines()
        assert lines[0] == "ok" and lines[1] == "ok"
        _, x, y, yaw = lines[2].split()
        assert float(x) == pytest.approx(0.76, abs=0.03) and abs(float(y)) <= 0.03
        assert float(yaw) == pytest.approx(30, abs=4)
        assert lines[3] == "['blue landmark', 'red landmark']"
        assert lines[4] == "ok"
        assert float(lines[5].split()[1]) == pytest.approx(0.45, abs=0.03)
        # Ground truth agrees: the robot stands 45 cm from the landmark, facing it.
        rx, ry, ryaw = world.robot_pose()
        assert math.hypot(2.0 - rx, 1.2 - ry) == pytest.approx(0.45, abs=0.03)
        assert abs(math.atan2(1.2 - ry, 2.0 - rx) - ryaw) < math.radians(5)
        assert not world.fallen


def test_blocked_walk_is_reported_and_program_can_react(sb: Sandbox) -> None:
    spec = FloorSpec(
        landmarks=[
            LandmarkSpec(
                name="brown box",
                kind="box",
                color="brown",
                position=(0.8, 0.0),
                size=(0.2, 0.6, 0.2),
            )
        ]
    )
    code = (
        "r = walk(2.0)\n"
        "print(r)\n"
        "if r.startswith('blocked'):\n"
        "    print(walk(-0.2))\n"
        "    print(turn(90))\n"
    )
    with FloorWorld(spec) as world:
        report = sb.run(code, _host(world))
        assert report.status == "ok", report
        first, second, third = report.output.splitlines()
        assert first.startswith("blocked:") and "brown box" in first
        assert second == "ok" and third == "ok"
        assert not world.fallen and not world.robot.walking


def test_bad_arguments_are_clear_errors(sb: Sandbox) -> None:
    with FloorWorld(sample_floor(1)) as world:
        host = _host(world)
        for code, needle in (
            ("walk(6.0)", "at most 5"),
            ("turn(720)", "at most 360"),
            ("go_to('red landmark', stop_distance_m=0.1)", "out of range"),
            ("go_to('golden landmark')", "unknown object"),
            ("walk('far')", "invalid argument"),
        ):
            report = sb.run(code, host)
            assert report.status == "error", (code, report)
            assert needle in report.message, (code, report.message)
        report = sb.run("walk(float('nan'))", host)
        assert report.status == "refused" and report.rule == "safety:non-finite"
        assert world.sim_time < 1.0  # nothing moved
        assert sb.run("print(stop())", host).output == "ok\n"


def test_fall_raises_and_stop_recovers(sb: Sandbox) -> None:
    with FloorWorld(FloorSpec()) as world:
        c = world.client
        c.resetBasePositionAndOrientation(
            world.robot.body, [0.0, 0.0, 0.2], c.getQuaternionFromEuler([math.pi, 0.0, 0.0])
        )
        world.step(120)
        host = _host(world)
        report = sb.run("walk(0.5)", host)
        assert report.status == "error" and "fell over" in report.message
        report = sb.run("print(stop())\nprint(walk(0.3))", host)
        assert report.status == "ok", report
        first, second = report.output.splitlines()
        assert first.startswith("the robot had fallen; it was set upright at") and second == "ok"


def test_needs_the_floor_world(sb: Sandbox) -> None:
    with TabletopWorld(sample_scene(0)) as world:
        report = sb.run("walk(0.5)", _host(world))
        assert report.status == "error" and "needs the floor world" in report.message


def test_consecutive_go_to_steps_away_before_turning(sb: Sandbox) -> None:
    # Seed 1: from 0.45 m in front of the pink landmark, turning towards the yellow one in
    # place would sweep the body into the pink one; go_to steps away first.
    with FloorWorld(sample_floor(1)) as world:
        code = "print(go_to('pink landmark'))\nprint(go_to('yellow landmark'))\n"
        report = sb.run(code, _host(world))
        assert report.status == "ok", report
        assert report.output.splitlines() == ["ok", "ok"]
        truth = world.true_poses()["yellow landmark"].position
        x, y, _ = world.robot_pose()
        assert math.hypot(truth[0] - x, truth[1] - y) == pytest.approx(0.45, abs=0.03)
