from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydantic
import pytest

from policywright.errors import SafetyViolation
from policywright.sim import World
from policywright.sim._mobile import (
    TABLE_TOP_Z,
    MobileBlockSpec,
    MobileSafety,
    MobileSpec,
    MobileWorld,
    TableSpec,
    dock_pose,
    sample_mobile,
)


def test_sample_is_seeded_and_valid() -> None:
    a, b = sample_mobile(3), sample_mobile(3)
    assert a == b and a != sample_mobile(4)
    assert "red block" in a.names and {"table", "user table"} <= set(a.names)
    assert len(sample_mobile(5, n_blocks=5).blocks) == 5
    assert MobileSpec.model_validate(a.model_dump(mode="json")) == a


def test_spec_is_strict() -> None:
    spec = sample_mobile(0)
    data = spec.model_dump(mode="json")
    with pytest.raises(pydantic.ValidationError):
        MobileSpec.model_validate({**data, "colour": "red"})
    with pytest.raises(pydantic.ValidationError, match="not on the table"):
        MobileSpec(
            table=spec.table,
            user_table=spec.user_table,
            blocks=[MobileBlockSpec(color="red", position=(0.0, 0.0))],
        )
    with pytest.raises(pydantic.ValidationError, match="unique"):
        MobileSpec(
            table=spec.table,
            user_table=spec.user_table,
            blocks=[spec.blocks[0], spec.blocks[0]],
        )
    with pytest.raises(pydantic.ValidationError):
        TableSpec(center=(float("nan"), 0.0))


def test_dock_pose_faces_the_near_side() -> None:
    rect = (1.6, -0.45, 2.2, 0.45)
    x, y, yaw = dock_pose(rect, (0.0, 0.0))
    assert (x, y, yaw) == pytest.approx((1.6 - 0.585, 0.0, 0.0))
    x, y, yaw = dock_pose(rect, (3.0, 0.1))
    assert (x, y, yaw) == pytest.approx((2.2 + 0.585, 0.0, math.pi))
    _, y, yaw = dock_pose(rect, (1.9, 2.0))
    assert y == pytest.approx(0.45 + 0.585) and yaw == pytest.approx(-math.pi / 2)


def test_safety_model_without_a_world() -> None:
    s = MobileSafety()
    s.check_base_target(1.0, -1.0)
    with pytest.raises(SafetyViolation) as exc:
        s.check_base_target(2.9, 0.0)  # inside the arena, but the footprint is not
    assert exc.value.rule == "arena"
    with pytest.raises(SafetyViolation) as exc:
        s.check_base_target(float("nan"), 0.0)
    assert exc.value.rule == "non-finite"
    with pytest.raises(SafetyViolation) as exc:
        s.check_base_command(0.5, float("inf"))
    assert exc.value.rule == "non-finite"
    with pytest.raises(SafetyViolation) as exc:
        s.check_base_command(2.0, 0.0)
    assert exc.value.rule == "speed"


@pytest.fixture(scope="module")
def world() -> Iterator[MobileWorld]:
    with MobileWorld(sample_mobile(0)) as w:
        yield w


@pytest.mark.sim
def test_build_fits_the_protocol(world: MobileWorld) -> None:
    world.reset()
    assert isinstance(world, World)
    assert world.kind == "mobile" and world.cameras[0] == "overhead"
    assert world.sim_time == 0.0
    x, y, yaw = world.base_pose()
    assert abs(x) < 0.02 and abs(y) < 0.01 and abs(yaw) < 0.01
    assert np.linalg.norm(world.arm.ee_pos() - np.asarray(world.arm.home_xyz())) < 0.01
    assert world.robot_contacts() == []
    world.step(24)
    assert world.sim_time == pytest.approx(0.1)
    for cam in world.cameras:
        img = world.render(cam, 160, 120)
        assert img.shape == (120, 160, 3) and img.std() > 5
    with pytest.raises(ValueError, match="unknown camera"):
        world.render("side")


@pytest.mark.sim
def test_detect_is_perception(world: MobileWorld) -> None:
    world.reset()
    found = world.detect()
    truth = world.true_poses()
    assert set(found) == set(world.spec.names)
    assert found["table"].kind == "table" and found["red block"].kind == "block"
    assert found["red block"].color == "red"
    for name, det in found.items():
        err = math.dist(det.position[:2], truth[name].position[:2])
        # From the start only the overhead camera sees the blocks (about 1.8 cm per pixel).
        assert err < 0.03, (name, err)
    assert found["user table"].position[2] == pytest.approx(TABLE_TOP_Z, abs=0.005)


@pytest.mark.sim
def test_arm_reach_is_relative_to_the_base(world: MobileWorld) -> None:
    world.reset()
    ahead = world.arm.from_arm_frame((0.5, 0.0, 0.1))
    world.safety.check_pose(ahead)
    with pytest.raises(SafetyViolation) as exc:
        world.arm.command(world.arm.from_arm_frame((1.2, 0.0, 0.1)))
    assert exc.value.rule == "workspace"
    with pytest.raises(SafetyViolation) as exc:
        world.arm.command(world.arm.from_arm_frame((0.17, 0.0, 0.1)))
    assert exc.value.rule == "keep-out"
    with pytest.raises(SafetyViolation) as exc:
        world.arm.command([float("nan"), 0.0, 0.5])
    assert exc.value.rule == "non-finite"
    with pytest.raises(SafetyViolation) as exc:
        world.set_base_command(float("nan"), 0.0)
    assert exc.value.rule == "non-finite"


@pytest.mark.sim
def test_save_restore_round_trip(world: MobileWorld, tmp_path: Path) -> None:
    world.reset()
    world.set_base_command(0.3, 0.0)
    world.step(120)
    path = world.save_state(tmp_path / "s.bullet")
    pose, t = world.base_pose(), world.sim_time
    targets = world.arm.controller_state()
    world.step(240)
    after = world.base_pose()
    world.stop_base()
    world.step(60)
    world.restore_state(path)
    assert world.base_pose() == pytest.approx(pose, abs=1e-9)
    assert world.sim_time == t and world.arm.controller_state() == targets
    # The base command was restored too: the base drives on as before.
    world.step(240)
    assert world.base_pose() == pytest.approx(after, abs=1e-3)
    other = MobileWorld(sample_mobile(1))
    try:
        with pytest.raises(ValueError, match="different scene"):
            other.restore_state(path)
    finally:
        other.close()


@pytest.mark.sim
def test_safe_stop_stops_the_base(world: MobileWorld) -> None:
    world.reset()
    assert world.safe_stop() == ""
    world.set_base_command(0.4, 0.0)
    world.step(60)
    text = world.safe_stop()
    assert "stopped the base" in text
    v, w = world.base_velocity()
    assert abs(v) < 0.02 and abs(w) < 0.02
