from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from policywright.errors import SkillLoadError, UnknownNameError
from policywright.sim._a1 import A1
from policywright.sim._floor import FloorSpec, FloorWorld, LandmarkSpec
from policywright.skills._locomotion import (
    LEARNED_ID,
    SCRIPTED_ID,
    SKILL_INFOS,
    WEIGHTS_PATH,
    LocoGoal,
    LocomotionSkill,
    _obstacle_spec,
    evaluate_locomotion,
    run_locomotion,
)
from policywright.skills._mlp import save_mlp

pytestmark = pytest.mark.sim


def _world(yaw_deg: float = 37.0) -> FloorWorld:
    return FloorWorld(FloorSpec(robot_xy=(0.2, -0.1), robot_yaw_deg=yaw_deg))


@pytest.mark.parametrize("skill_id", [SCRIPTED_ID, LEARNED_ID])
def test_forward_and_turn_accuracy(skill_id: str) -> None:
    skill = LocomotionSkill(skill_id)
    with _world() as w:
        x0, y0, yaw0 = w.robot_pose()
        res = skill.run(w, LocoGoal(forward_m=0.75))
        assert res.status == "ok", res.message
        assert abs(res.info["forward_error_m"]) < 0.03
        assert abs(res.info["lateral_error_m"]) < 0.03
        x1, y1, _ = w.robot_pose()
        assert math.hypot(x1 - x0, y1 - y0) == pytest.approx(0.75, abs=0.03)
        assert 1.5 < res.sim_time < 6.0
        res = skill.run(w, LocoGoal(turn_deg=30.0))
        assert res.status == "ok", res.message
        assert abs(res.info["turn_error_deg"]) < 4.0
        assert math.degrees(w.robot_pose()[2] - yaw0) == pytest.approx(30.0, abs=4.0)
        assert not w.fallen and not w.robot.walking


def test_sideways_and_backwards() -> None:
    with _world(-120.0) as w:
        res = run_locomotion(w, LocoGoal(forward_m=-0.3, left_m=0.3))
        assert res.status == "ok", res.message
        assert abs(res.info["forward_error_m"]) < 0.03
        assert abs(res.info["lateral_error_m"]) < 0.03


@pytest.mark.parametrize(
    "spec",
    [
        _obstacle_spec(0.8),
        FloorSpec(landmarks=[LandmarkSpec(name="red landmark", color="red", position=(0.8, 0.0))]),
    ],
    ids=["box", "landmark"],
)
def test_walking_into_an_obstacle_is_blocked_and_upright(spec: FloorSpec) -> None:
    with FloorWorld(spec) as w:
        res = run_locomotion(w, LocoGoal(forward_m=2.0))
        assert res.status == "blocked", res.message
        assert res.info["blocked_by"] == [spec.landmarks[0].name]
        assert not w.fallen and not w.robot.walking
        roll, pitch = w.robot.roll_pitch()
        assert max(abs(roll), abs(pitch)) < 0.2
        assert w.robot_pose()[0] < spec.landmarks[0].position[0]
        # The world stays usable: back off and turn.
        assert run_locomotion(w, LocoGoal(forward_m=-0.2)).status == "ok"
        assert run_locomotion(w, LocoGoal(turn_deg=90)).status == "ok"


def test_nan_goal_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        LocoGoal(forward_m=float("nan"))
    with pytest.raises(ValueError, match="finite"):
        LocoGoal(turn_deg=float("inf"))


def test_nan_policy_output_stops_the_robot() -> None:
    class Broken(LocomotionSkill):
        def driver(self, robot: A1) -> np.ndarray:
            return np.full(12, np.nan)

    with _world() as w:
        res = Broken().run(w, LocoGoal(forward_m=0.5))
        assert res.status == "failed" and "invalid joint targets" in res.message
        assert not w.robot.walking and w.robot.driver is None and not w.fallen


def test_time_budget_ends_as_timeout() -> None:
    with _world() as w:
        t0 = w.sim_time
        res = run_locomotion(w, LocoGoal(forward_m=3.0), max_sim_s=0.5)
        assert res.status == "timeout" and "0.5 s" in res.message
        assert 0.5 <= w.sim_time - t0 <= 0.5 + 0.3
        assert not w.robot.walking and not w.fallen


def test_weights_missing_corrupt_or_misshapen(tmp_path: Path) -> None:
    assert WEIGHTS_PATH.is_file() and WEIGHTS_PATH.stat().st_size < 5_000_000
    with pytest.raises(SkillLoadError, match="missing"):
        LocomotionSkill(LEARNED_ID, weights=tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SkillLoadError, match="corrupt"):
        LocomotionSkill(LEARNED_ID, weights=bad)
    small = save_mlp(tmp_path / "small.npz", [np.zeros((3, 12))], [np.zeros(12)])
    with pytest.raises(SkillLoadError, match="need 35 -> 12"):
        LocomotionSkill(LEARNED_ID, weights=small)
    with pytest.raises(UnknownNameError):
        LocomotionSkill("locomotion/magic-v9")


def test_skill_infos() -> None:
    ids = {info.id: info for info in SKILL_INFOS}
    assert set(ids) == {SCRIPTED_ID, LEARNED_ID}
    assert all(i.family == "locomotion" and i.world == "floor" for i in SKILL_INFOS)
    assert ids[LEARNED_ID].learned and ids[LEARNED_ID].train is not None
    assert isinstance(ids[LEARNED_ID].factory(), LocomotionSkill)
    smoke = ids[SCRIPTED_ID].smoke
    assert smoke is not None
    smoke()


@pytest.mark.slow
@pytest.mark.parametrize("skill_id", [SCRIPTED_ID, LEARNED_ID])
def test_evaluate_locomotion(skill_id: str) -> None:
    rep = evaluate_locomotion(skill_id, trials=10, seed=0)
    assert rep.details["fall_rate"] == 0.0
    assert rep.details["forward_error_cm_max"] < 3.0
    assert rep.details["turn_error_deg_max"] < 4.0
    assert rep.successes == 10
