from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from policywright.sim import (
    HOME_XYZ,
    TABLE_Z,
    ObjectSpec,
    SceneSpec,
    TabletopWorld,
    sample_scene,
    save_gif,
)

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def world() -> Iterator[TabletopWorld]:
    with TabletopWorld(sample_scene(0)) as w:
        yield w


def test_build_and_home(world: TabletopWorld) -> None:
    world.reset(sample_scene(0))
    assert np.linalg.norm(world.arm.ee_pos() - np.array(HOME_XYZ)) < 0.01
    world.safety.check_pose(world.arm.ee_pos())
    assert world.arm.held_object() is None
    assert world.arm.gripper_width() == pytest.approx(0.08, abs=0.005)
    assert world.sim_time == 0.0
    world.step(24)
    assert world.sim_time == pytest.approx(0.1)
    assert set(world.object_names) == set(world.spec.names)


def test_objects_rest_where_specified(world: TabletopWorld) -> None:
    world.reset(sample_scene(0))
    truth = world.true_poses()
    for obj in world.spec.objects:
        assert obj.position is not None
        pos = truth[obj.name].position
        assert math.hypot(pos[0] - obj.position[0], pos[1] - obj.position[1]) < 0.002
        if obj.kind == "block":
            assert pos[2] == pytest.approx(TABLE_Z + 0.02, abs=0.002)


def test_render_shapes(world: TabletopWorld) -> None:
    for cam in ("top", "front"):
        img = world.render(cam, 320, 240)
        assert img.shape == (240, 320, 3) and img.dtype == np.uint8
        assert img.std() > 5  # not blank
    assert world.render("top", 64, 48).shape == (48, 64, 3)
    with pytest.raises(ValueError, match="unknown camera"):
        world.render("side")  # type: ignore[arg-type]


def test_pixel_world_round_trip(world: TabletopWorld) -> None:
    for xyz in [(0.5, 0.1, TABLE_Z), (0.65, -0.2, TABLE_Z + 0.05), (0.4, 0.25, TABLE_Z + 0.1)]:
        for cam in ("top", "front"):
            u, v = world.world_to_pixel(xyz, cam)
            back = world.pixel_to_world(u, v, cam, z=xyz[2])
            assert np.allclose(back, xyz, atol=1e-6)
    # top camera: robot at the bottom, robot's left (+y) on the image's left
    _, v_far = world.world_to_pixel((0.7, 0.0, TABLE_Z))
    _, v_near = world.world_to_pixel((0.35, 0.0, TABLE_Z))
    assert v_far < v_near
    u_left, _ = world.world_to_pixel((0.5, 0.2, TABLE_Z))
    u_right, _ = world.world_to_pixel((0.5, -0.2, TABLE_Z))
    assert u_left < u_right
    # depth-based cast lands on the table where nothing is
    world.reset(sample_scene(0))
    u, v = world.world_to_pixel((0.36, -0.27, TABLE_Z))
    hit = world.pixel_to_world(u, v, "top")
    assert abs(hit[2] - TABLE_Z) < 0.005


@pytest.mark.parametrize("seed", range(5))
def test_perception_accuracy(world: TabletopWorld, seed: int) -> None:
    world.reset(sample_scene(seed, n_blocks=4, n_bowls=3))
    det = world.detect()
    truth = world.true_poses()
    assert set(det) == set(truth)
    errors = []
    for name, d in det.items():
        obj = world.spec.get(name)
        assert d.kind == obj.kind and not d.stale
        assert d.color == obj.color, f"{name} perceived as {d.color}"
        t = truth[name].position
        errors.append(math.hypot(d.position[0] - t[0], d.position[1] - t[1]))
        x0, y0, _, x1, y1, z1 = d.bbox
        assert x0 <= d.position[0] <= x1 and y0 <= d.position[1] <= y1
        if obj.kind == "block":
            assert d.position[2] == pytest.approx(t[2], abs=0.004)
            assert z1 == pytest.approx(TABLE_Z + 0.04, abs=0.004)
        assert d.pixels_top > 50
    assert float(np.median(errors)) < 0.005
    assert max(errors) < 0.01


def test_all_colors_perceived(world: TabletopWorld) -> None:
    from policywright.sim import COLORS

    names = list(COLORS)
    positions = [(0.38 + 0.1 * (i % 4), -0.24 + 0.16 * (i // 4)) for i in range(10)]
    objs = [
        ObjectSpec(name=f"{c} block", kind="block", color=c, position=pos)
        for c, pos in zip(names, positions, strict=True)
    ]
    world.reset(SceneSpec(objects=objs))
    det = world.detect()
    assert {n: d.color for n, d in det.items()} == {f"{c} block": c for c in names}


def test_stacked_block_seen_by_front_camera(world: TabletopWorld) -> None:
    from policywright.skills import pick, place

    spec = SceneSpec(
        objects=[
            ObjectSpec(name="red block", kind="block", color="red", position=(0.45, 0.1)),
            ObjectSpec(name="blue block", kind="block", color="blue", position=(0.55, -0.1)),
        ]
    )
    world.reset(spec)
    det = world.detect()
    assert pick(world, det["red block"].position).ok
    assert place(world, det["blue block"].position[:2]).ok
    det = world.detect()
    truth = world.true_poses()
    lower = det["blue block"]
    assert not lower.stale and lower.pixels_front > 0
    t = truth["blue block"].position
    assert math.hypot(lower.position[0] - t[0], lower.position[1] - t[1]) < 0.012
    assert lower.position[2] == pytest.approx(t[2], abs=0.006)
    upper = det["red block"]
    assert upper.position[2] == pytest.approx(TABLE_Z + 0.06, abs=0.005)


def test_stale_when_hidden(world: TabletopWorld) -> None:
    spec = SceneSpec(
        objects=[ObjectSpec(name="red block", kind="block", color="red", position=(0.5, 0.0))]
    )
    world.reset(spec)
    first = world.detect()["red block"]
    # Bury the block under the table: neither camera can see it any more.
    world.client.resetBasePositionAndOrientation(
        world.body_id("red block"), [0.5, 0.0, TABLE_Z - 0.2], [0, 0, 0, 1]
    )
    again = world.detect()["red block"]
    assert again.stale and again.position == first.position


def test_save_restore_round_trip(world: TabletopWorld, tmp_path: Path) -> None:
    from policywright.skills import pick

    world.reset(sample_scene(2))
    world.step(10)
    path = tmp_path / "state" / "snap.bullet"
    world.save_state(path)
    before = world.true_poses()
    t0 = world.sim_time
    block = next(o.name for o in world.spec.objects if o.kind == "block")
    assert pick(world, world.detect()[block].position).ok
    assert world.true_poses()[block] != before[block]
    world.restore_state(path)
    assert world.sim_time == t0
    after = world.true_poses()
    for name, pose in before.items():
        assert np.allclose(pose.position, after[name].position, atol=1e-9)
    assert world.arm.held_object() is None
    # a fresh world built from the same spec accepts the state too
    with TabletopWorld(world.spec) as other:
        other.restore_state(path)
        for name, pose in before.items():
            assert np.allclose(pose.position, other.true_poses()[name].position, atol=1e-9)
    # ... but not one built from another scene
    with TabletopWorld(sample_scene(9)) as other, pytest.raises(ValueError, match="different"):
        other.restore_state(path)


def test_determinism_two_worlds() -> None:
    from policywright.skills import pick, place

    spec = sample_scene(11)
    block = next(o.name for o in spec.objects if o.kind == "block")
    bowl = next(o.name for o in spec.objects if o.kind == "bowl")
    finals = []
    for _ in range(2):
        with TabletopWorld(spec) as w:
            det = w.detect()
            assert pick(w, det[block].position).ok
            assert place(w, det[bowl].position[:2]).ok
            finals.append((w.true_poses(), w.sim_time, tuple(w.arm.ee_pos())))
    assert finals[0] == finals[1]


def test_two_worlds_coexist() -> None:
    with TabletopWorld(sample_scene(1)) as a, TabletopWorld(sample_scene(2)) as b:
        assert set(a.detect()) == set(a.spec.names)
        assert set(b.detect()) == set(b.spec.names)


def test_recording_and_gif(world: TabletopWorld, tmp_path: Path) -> None:
    world.reset(sample_scene(0))
    world.start_recording(every_s=0.05, width=80, height=60)
    world.step(48)
    frames = world.stop_recording()
    assert len(frames) == 5 and frames[0].shape == (60, 80, 3)
    out = save_gif(frames, tmp_path / "clip.gif")
    assert out.stat().st_size > 0
    assert world.stop_recording() == []


def test_world_requires_positions() -> None:
    spec = SceneSpec(objects=[ObjectSpec(name="red block", kind="block", color="red")])
    with pytest.raises(ValueError, match="needs a position"):
        TabletopWorld(spec)


def test_full_panda_renders() -> None:
    spec = sample_scene(0).model_copy(update={"panda_lite": False})
    with TabletopWorld(spec) as w:
        assert w.render("front", 80, 60).shape == (60, 80, 3)


def test_loading_keeps_stdout_clean(capfd: pytest.CaptureFixture[str]) -> None:
    with TabletopWorld(sample_scene(3)) as w:
        w.reset(sample_scene(4))
    out, _ = capfd.readouterr()
    assert out == ""


def test_gui_without_display_is_a_clear_error(monkeypatch) -> None:
    from policywright.errors import ConfigError
    from policywright.sim import TabletopWorld, sample_scene

    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="DISPLAY"):
        TabletopWorld(sample_scene(0), gui=True)
