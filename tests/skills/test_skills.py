from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from policywright.errors import SafetyViolation, UnknownNameError
from policywright.sim import HOME_XYZ, TABLE_Z, ObjectSpec, SceneSpec, TabletopWorld
from policywright.skills import (
    SKILLS,
    ArmAction,
    ArmObservation,
    MoveGoal,
    MoveSkill,
    PickGoal,
    PickSkill,
    Skill,
    SkillResult,
    follow_path,
    get_skill,
    go_home,
    move_ee,
    pick,
    place,
    run_skill,
)


def _spec() -> SceneSpec:
    return SceneSpec(
        objects=[
            ObjectSpec(name="red block", kind="block", color="red", position=(0.45, 0.12)),
            ObjectSpec(name="blue block", kind="block", color="blue", position=(0.62, -0.05)),
            ObjectSpec(name="green bowl", kind="bowl", color="green", position=(0.45, -0.15)),
        ]
    )


@pytest.fixture(scope="module")
def world() -> Iterator[TabletopWorld]:
    with TabletopWorld(_spec()) as w:
        yield w


def _xy_dist(world: TabletopWorld, a: str, b: str) -> float:
    t = world.true_poses()
    pa, pb = t[a].position, t[b].position
    return math.hypot(pa[0] - pb[0], pa[1] - pb[1])


def test_registry() -> None:
    ids = {"grasp/scripted-v1", "place/scripted-v1", "path/scripted-v1", "move/scripted-v1"}
    assert ids <= set(SKILLS)
    skill = get_skill("grasp/scripted-v1")
    assert isinstance(skill, PickSkill) and isinstance(skill, Skill)
    assert get_skill("grasp/scripted-v1") is not skill  # fresh instance each time
    with pytest.raises(UnknownNameError) as info:
        get_skill("grasp/scripted-v2")
    assert "did you mean 'grasp/scripted-v1'" in str(info.value)


@pytest.mark.sim
def test_pick_place_into_bowl(world: TabletopWorld) -> None:
    world.reset()
    det = world.detect()
    res = pick(world, det["red block"].position)
    assert res.ok, res.message
    assert res.info["held_object"] == "red block" and world.arm.held_object() == "red block"
    assert 0.5 < res.sim_time < 6.0
    res = place(world, det["green bowl"].position[:2])
    assert res.ok, res.message
    assert world.arm.held_object() is None
    assert _xy_dist(world, "red block", "green bowl") < 0.02
    assert world.true_poses()["red block"].position[2] < TABLE_Z + 0.035
    # place goes home so the next detect() is not occluded
    assert np.linalg.norm(world.arm.ee_pos() - np.array(HOME_XYZ)) < 0.02


@pytest.mark.sim
def test_pick_place_block_on_block(world: TabletopWorld) -> None:
    world.reset()
    det = world.detect()
    assert pick(world, det["red block"].position).ok
    assert place(world, det["blue block"].position[:2]).ok
    assert _xy_dist(world, "red block", "blue block") < 0.015
    t = world.true_poses()
    assert t["red block"].position[2] - t["blue block"].position[2] == pytest.approx(
        0.04, abs=0.004
    )


@pytest.mark.sim
def test_pick_nothing_fails_clearly(world: TabletopWorld) -> None:
    world.reset()
    res = pick(world, (0.6, 0.2, TABLE_Z + 0.02))
    assert res.status == "failed" and "nothing is held" in res.message
    res = place(world, (0.5, 0.0))
    assert res.status == "failed" and "nothing is held" in res.message


@pytest.mark.sim
def test_unsafe_target_refused_before_moving(world: TabletopWorld) -> None:
    world.reset()
    before = world.arm.ee_pos().copy()
    t0 = world.sim_time
    with pytest.raises(SafetyViolation) as info:
        pick(world, (1.2, 0.0, TABLE_Z + 0.02))
    assert info.value.rule == "workspace"
    with pytest.raises(SafetyViolation) as info:
        move_ee(world, (0.5, 0.0, math.nan))
    assert info.value.rule == "non-finite"
    with pytest.raises(SafetyViolation) as info:
        move_ee(world, (0.17, 0.0, TABLE_Z + 0.1))
    assert info.value.rule == "keep-out"
    with pytest.raises(SafetyViolation) as info:
        move_ee(world, (0.5, 0.0, TABLE_Z + 0.3), speed=5.0)
    assert info.value.rule == "speed"
    with pytest.raises(SafetyViolation) as info:
        follow_path(world, [[0.4, -0.3, 0.75], [0.4, 0.3, 0.75]] * 6)
    assert info.value.rule == "path-length"
    assert world.sim_time == t0
    assert np.allclose(world.arm.ee_pos(), before)


@pytest.mark.sim
def test_arm_command_checks_safety(world: TabletopWorld) -> None:
    world.reset()
    target = world.arm.target_xyz
    with pytest.raises(SafetyViolation):
        world.arm.command((0.5, 0.0, TABLE_Z - 0.05), 0.0, 0.08)
    assert world.arm.target_xyz == target


@pytest.mark.sim
def test_move_and_go_home(world: TabletopWorld) -> None:
    world.reset()
    goal = (0.5, 0.1, TABLE_Z + 0.2)
    res = move_ee(world, goal, speed=0.4)
    assert res.ok and np.linalg.norm(world.arm.ee_pos() - np.array(goal)) < 0.006
    assert go_home(world).ok
    assert np.linalg.norm(world.arm.ee_pos() - np.array(HOME_XYZ)) < 0.01


@pytest.mark.sim
def test_follow_path_tracks(world: TabletopWorld) -> None:
    world.reset()
    s = np.linspace(0, 1, 40)
    pts = np.stack(
        [0.4 + 0.25 * s, 0.15 * np.sin(2 * math.pi * s), np.full_like(s, TABLE_Z + 0.1)], axis=1
    )
    res = follow_path(world, pts, speed=0.2)
    assert res.ok, res.message
    assert res.info["mean_error_m"] < 0.005 and res.info["max_error_m"] < 0.02
    assert res.info["path_length_m"] == pytest.approx(
        float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
    )


@pytest.mark.sim
def test_timeout_and_stop_use_sim_time(world: TabletopWorld) -> None:
    world.reset()
    res = run_skill(MoveSkill(), world, MoveGoal((0.6, 0.0, TABLE_Z + 0.1), 0.2), max_sim_s=0.5)
    assert res.status == "timeout" and res.sim_time == pytest.approx(0.5, abs=0.02)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 10

    res = run_skill(PickSkill(), world, PickGoal((0.45, 0.12, TABLE_Z + 0.02)), should_stop=stop)
    assert res.status == "stopped" and res.sim_time == pytest.approx(10 / 60, abs=1e-6)


class _JumpyPolicy:
    """A 'learned' numpy policy that outputs a far-away target at once."""

    id = "jumpy/test-v0"

    def __init__(self) -> None:
        self._n = 0

    def reset(self, world: TabletopWorld, goal: np.ndarray) -> None:
        self._goal = goal

    def act(self, obs: ArmObservation) -> ArmAction:
        self._n += 1
        return ArmAction.from_array(np.concatenate([self._goal, [0.0, 0.08]]))

    @property
    def done(self) -> bool:
        return self._n >= 5

    def result(self) -> SkillResult:
        return SkillResult(status="ok")


class _GentlePolicy(_JumpyPolicy):
    """Proportional controller: a learned policy would sit behind the same interface."""

    id = "gentle/test-v0"

    def act(self, obs: ArmObservation) -> ArmAction:
        self._n += 1
        x = obs.as_array()
        step = np.clip(self._goal - x[:3], -0.005, 0.005)
        return ArmAction.from_array(np.concatenate([x[:3] + step, [0.0, 0.08]]))

    @property
    def done(self) -> bool:
        return self._n >= 60


@pytest.mark.sim
def test_protocol_policies(world: TabletopWorld) -> None:
    world.reset()
    assert isinstance(_GentlePolicy(), Skill)
    goal = np.array([0.4, 0.0, TABLE_Z + 0.3])
    start = world.arm.ee_pos().copy()
    res = run_skill(_GentlePolicy(), world, goal)
    assert res.ok and res.sim_time == pytest.approx(1.0)
    assert np.linalg.norm(world.arm.ee_pos() - goal) < np.linalg.norm(start - goal)
    with pytest.raises(SafetyViolation) as info:
        run_skill(_JumpyPolicy(), world, np.array([0.7, 0.2, TABLE_Z + 0.05]))
    assert info.value.rule == "speed"


@pytest.mark.sim
def test_pick_while_holding(world: TabletopWorld) -> None:
    world.reset()
    det = world.detect()
    assert pick(world, det["red block"].position).ok
    held_pos = world.detect()["red block"].position
    t0 = world.sim_time
    res = pick(world, held_pos)
    assert res.ok and res.message == "already holding red block"
    res = pick(world, det["blue block"].position)
    assert res.status == "failed" and "already holds red block" in res.message
    assert world.sim_time == t0 and world.arm.held_object() == "red block"
