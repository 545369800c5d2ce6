from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from policywright.sim import World
from policywright.sim._a1 import STAND_TARGETS, leg_ik
from policywright.sim._floor import FloorSpec, FloorWorld, LandmarkSpec, sample_floor

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def world() -> Iterator[FloorWorld]:
    with FloorWorld(sample_floor(0)) as w:
        yield w


def test_sample_floor_is_seeded_and_valid() -> None:
    a, b = sample_floor(3), sample_floor(3)
    assert a == b and a != sample_floor(4)
    assert len(a.landmarks) == 4 and len({lm.color for lm in a.landmarks}) == 4
    for i, lm in enumerate(a.landmarks):
        assert 1.0 <= math.hypot(*lm.position) <= 2.6
        for other in a.landmarks[i + 1 :]:
            assert math.dist(lm.position, other.position) >= 0.9
    with pytest.raises(ValueError):
        sample_floor(0, n_landmarks=0)


def test_spec_validation() -> None:
    with pytest.raises(ValidationError, match="must be"):
        LandmarkSpec(name="red post", color="red", position=(1.0, 0.0))
    with pytest.raises(ValidationError, match="unknown colour"):
        LandmarkSpec(name="teal landmark", color="teal", position=(1.0, 0.0))
    with pytest.raises(ValidationError, match="off the floor"):
        LandmarkSpec(name="red landmark", color="red", position=(9.0, 0.0))
    with pytest.raises(ValidationError, match="extra"):
        FloorSpec(landmarks=[], bogus=1)  # type: ignore[call-arg]
    lm = LandmarkSpec(name="red landmark", color="red", position=(0.2, 0.0))
    with pytest.raises(ValidationError, match="too close"):
        FloorSpec(landmarks=[lm])


def test_leg_ik_stand_pose_is_symmetric() -> None:
    hip, thigh, calf = leg_ik(0.0, -0.08505, -0.27, -1.0)
    assert abs(hip) < 1e-6 and thigh > 0 and calf < 0
    # Forward reach moves the thigh forward (smaller angle).
    assert leg_ik(0.05, -0.08505, -0.27, -1.0)[1] < thigh
    assert np.allclose(STAND_TARGETS[0:3], STAND_TARGETS[6:9])


def test_world_protocol_and_standing(world: FloorWorld) -> None:
    assert isinstance(world, World)
    assert world.kind == "floor" and world.cameras == ("overhead", "ego")
    assert world.sim_time == 0.0
    world.step(24)
    assert world.sim_time == pytest.approx(0.1)
    assert not world.fallen
    assert world.robot.base_position()[2] == pytest.approx(0.29, abs=0.02)


def test_detect_from_overhead_camera(world: FloorWorld) -> None:
    found = world.detect()
    truth = world.true_poses()
    assert set(found) == set(world.spec.names)
    for name, det in found.items():
        assert det.kind == "landmark"
        assert det.color == name.split()[0]
        err = math.dist(det.position[:2], truth[name].position[:2])
        assert err < 0.015, (name, err)
        assert det.position[2] == pytest.approx(0.25, abs=0.02)
    assert "robot" in truth


def test_render_cameras(world: FloorWorld) -> None:
    for cam in world.cameras:
        img = world.render(cam, 160, 120)
        assert img.shape == (120, 160, 3) and img.dtype == np.uint8 and img.std() > 5
    with pytest.raises(ValueError, match="unknown camera"):
        world.render("side")


def test_save_restore_round_trip_with_gait_state(world: FloorWorld, tmp_path: Path) -> None:
    world.robot.set_command(0.3, 0.0, 0.2)
    world.step(100)
    path = world.save_state(tmp_path / "s.bullet")
    saved = world.robot.controller_state()
    world.step(120)
    after_a = world.robot.pose()
    world.restore_state(path)
    assert world.robot.controller_state() == saved
    assert world.sim_time == pytest.approx(100 / 240 + 24 / 240)
    world.step(120)
    after_b = world.robot.pose()
    # restoreState is not a perfect rewind (contact warm start is not saved): ~1e-3 tolerance.
    assert np.allclose(after_a, after_b, atol=2e-3)
    other = FloorWorld(sample_floor(1))
    try:
        with pytest.raises(ValueError, match="different scene"):
            other.restore_state(path)
    finally:
        other.close()
    assert world.safe_stop() == "stopped walking and stood still"
    assert world.safe_stop() == ""


def test_nan_command_refused(world: FloorWorld) -> None:
    before = world.robot.controller_state()
    with pytest.raises(ValueError, match="non-finite"):
        world.robot.set_command(float("nan"), 0.0, 0.0)
    assert world.robot.controller_state() == before


def test_safe_stop_rights_a_fallen_robot() -> None:
    with FloorWorld(FloorSpec()) as w:
        c = w.client
        c.resetBasePositionAndOrientation(
            w.robot.body, [0.5, 0.2, 0.2], c.getQuaternionFromEuler([math.pi, 0.0, 0.3])
        )
        w.step(120)
        assert w.fallen
        msg = w.safe_stop()
        assert "fallen" in msg and not w.fallen
        x, y, _ = w.robot_pose()
        assert math.hypot(x - 0.5, y - 0.2) < 0.1
