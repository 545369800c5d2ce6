from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from policywright.errors import SafetyViolation
from policywright.sim._mobile import TABLE_TOP_Z, MobileWorld, sample_mobile
from policywright.skills._mobile import (
    SKILL_INFOS,
    DriveGoal,
    DriveSkill,
    FetchSkill,
    drive_to,
    go_to_table,
    mobile_pick,
    run_drive,
)

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def world() -> Iterator[MobileWorld]:
    with MobileWorld(sample_mobile(0)) as w:
        yield w


def test_skill_infos() -> None:
    ids = {info.id: info for info in SKILL_INFOS}
    assert set(ids) == {"drive/scripted-v1", "fetch/scripted-v1"}
    for info in SKILL_INFOS:
        assert info.world == "mobile" and not info.learned
        assert info.evaluate is not None and info.smoke is not None
    assert isinstance(ids["drive/scripted-v1"].factory(), DriveSkill)
    assert isinstance(ids["fetch/scripted-v1"].factory(), FetchSkill)


def test_forward_and_turn_accuracy(world: MobileWorld) -> None:
    world.reset()
    res = run_drive(DriveSkill(), world, DriveGoal(0.75, 0.0, 0.0))
    assert res.status == "ok", res.message
    assert res.info["position_error_m"] < 0.01
    assert abs(res.info["yaw_error_deg"]) < 1.5
    assert res.sim_time < 5.0
    # Turn 30 degrees in place: the loop closes on the measured yaw and holds the position.
    res = run_drive(DriveSkill(), world, DriveGoal(0.75, 0.0, math.radians(30)))
    assert res.status == "ok", res.message
    assert abs(res.info["yaw_error_deg"]) < 1.5
    assert res.info["position_error_m"] < 0.04
    # The arm kept its pose on the moving base, and its Cartesian target followed.
    assert np.linalg.norm(world.arm.ee_pos() - np.asarray(world.arm.home_xyz())) < 0.02
    assert np.linalg.norm(world.arm.ee_pos() - np.asarray(world.arm.target_xyz)) < 1e-6


def test_drive_into_the_table_is_blocked(world: MobileWorld) -> None:
    world.reset()
    cx, cy = world.spec.table.center
    res = drive_to(world, cx, cy, undock=False)
    assert res.status == "blocked", res.message
    assert "table" in res.info["contacts"]
    # It stopped where it touched: the bumper at the table's near edge.
    x, _, _ = world.base_pose()
    assert x < world.table_rect("table")[0] - 0.4
    v, w = world.base_velocity()
    assert abs(v) < 0.05 and abs(w) < 0.05


def test_refusals_and_timeout(world: MobileWorld) -> None:
    world.reset()
    before = world.base_pose()
    for goal, rule in (
        (DriveGoal(5.0, 0.0), "arena"),
        (DriveGoal(0.0, -2.2), "arena"),
        (DriveGoal(float("nan"), 0.0), "non-finite"),
        (DriveGoal(0.5, 0.0, float("inf")), "non-finite"),
    ):
        with pytest.raises(SafetyViolation) as exc:
            run_drive(DriveSkill(), world, goal)
        assert exc.value.rule == rule
    assert world.base_pose() == pytest.approx(before, abs=1e-9)
    res = run_drive(DriveSkill(), world, DriveGoal(1.0, 0.0), max_sim_s=0.5)
    assert res.status == "timeout" and "did not arrive" in res.message
    assert res.sim_time < 1.2


def test_pick_at_the_table_then_safe_stop(world: MobileWorld, tmp_path: Path) -> None:
    world.reset(sample_mobile(1))
    # Out of reach from the start: refused before anything moves.
    with pytest.raises(SafetyViolation) as exc:
        mobile_pick(world, world.detect()["red block"].position)
    assert exc.value.rule == "workspace"
    res = go_to_table(world, "table")
    assert res.status == "ok", res.message
    x, _, yaw = world.base_pose()
    assert x == pytest.approx(world.table_rect("table")[0] - 0.585, abs=0.04)
    assert abs(yaw) < math.radians(2)
    pick = mobile_pick(world, world.detect()["red block"].position)
    assert pick.status == "ok", pick.message
    assert world.arm.held_object() == "red block"
    holding = world.save_state(tmp_path / "holding.bullet")
    # Docked at the table: safe_stop puts the block back on it and rests the arm.
    text = world.safe_stop()
    assert "put the red block down on the table" in text and "rest" in text
    assert world.arm.held_object() is None
    bx, by, bz = world.true_poses()["red block"].position
    x0, y0, x1, y1 = world.table_rect("table")
    assert x0 < bx < x1 and y0 < by < y1 and bz == pytest.approx(TABLE_TOP_Z + 0.02, abs=0.005)
    assert np.linalg.norm(world.arm.ee_pos() - np.asarray(world.arm.home_xyz())) < 0.03
    # Away from any table: it keeps the block rather than drop it on the floor.
    world.restore_state(holding)
    assert world.arm.held_object() == "red block"
    assert drive_to(world, 0.3, 0.0).ok
    text = world.safe_stop()
    assert "kept holding the red block" in text
    assert world.arm.held_object() == "red block"


@pytest.mark.slow
def test_evaluate_and_smoke() -> None:
    infos = {info.id: info for info in SKILL_INFOS}
    drive = infos["drive/scripted-v1"]
    assert drive.smoke is not None and drive.evaluate is not None
    drive.smoke()
    report = drive.evaluate(2, 0)
    assert report.trials == 2 and report.successes == 2
    assert report.precision is not None and report.precision < 40.0
    assert report.details["max_yaw_error_deg"] < 3.0
    fetch = infos["fetch/scripted-v1"]
    assert fetch.evaluate is not None
    report = fetch.evaluate(1, 1)  # seed 0 runs end to end in the primitives tests
    assert report.successes == 1, report.details
    assert 25.0 < report.sim_time_s < 45.0
