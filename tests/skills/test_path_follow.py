from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from policywright.errors import PrimitiveError, SafetyViolation, SkillLoadError
from policywright.primitives._context import PrimitiveContext
from policywright.primitives.builtin import TABLETOP_PRIMITIVES
from policywright.sim import TABLE_Z, SceneSpec, TabletopWorld
from policywright.skills import PathGoal, follow_path, run_skill
from policywright.skills._mlp import MLP, load_npz, save_mlp
from policywright.skills._path import (
    PathTracker,
    build_path_3d,
    chaikin,
    image_to_table,
    path_length,
    resample,
    tangent_yaw,
)
from policywright.skills._path_learned import (
    SKILL_INFOS,
    WEIGHTS_PATH,
    LearnedPathSkill,
    evaluate_path,
    image_path,
)

VARIANTS = ("path/scripted-v1", "path/learned-v1")


@pytest.fixture(scope="module")
def world() -> Iterator[TabletopWorld]:
    with TabletopWorld(SceneSpec()) as w:
        yield w


# --------------------------------------------------------------------------- pure geometry


def test_resample_even_spacing_keeps_endpoints() -> None:
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [0.1, 0.13]])
    out = resample(pts, 0.01)
    seg = np.linalg.norm(np.diff(out, axis=0), axis=1)
    assert np.allclose(out[0], pts[0]) and np.allclose(out[-1], pts[-1])
    assert seg.max() <= 0.01 + 1e-12 and seg.min() > 0.0095
    assert path_length(out) == pytest.approx(0.23, abs=1e-3)  # the corner is cut by < 1 mm


def test_chaikin_rounds_corners_and_keeps_endpoints() -> None:
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [0.1, 0.1]])
    out = chaikin(pts, 3)
    assert np.allclose(out[0], pts[0]) and np.allclose(out[-1], pts[-1])
    # The corner point itself is gone: the path passes inside it.
    assert np.min(np.linalg.norm(out - pts[1], axis=1)) > 0.005
    assert chaikin(pts[:2], 3).shape == (2, 2)


def test_height_profile_ramps_and_travel() -> None:
    xy = np.column_stack([np.linspace(0.4, 0.6, 5), np.zeros(5)])
    z = TABLE_Z + 0.1
    path = build_path_3d(xy, z, ramp_height=0.05, ramp_length=0.05, spacing=0.005)
    assert path[0, 2] == pytest.approx(z + 0.05) and path[-1, 2] == pytest.approx(z + 0.05)
    mid = np.abs(path[:, 0] - 0.5) < 0.04
    assert np.allclose(path[mid, 2], z)
    # Smoothstep ramps: the slope peaks at 1.5 x ramp_height / ramp_length.
    assert np.max(np.abs(np.diff(path[:, 2]))) <= 1.5 * 0.005 + 1e-9
    flat = build_path_3d(xy, z)
    assert np.allclose(flat[:, 2], z)


def test_nan_points_rejected_by_path_utilities() -> None:
    with pytest.raises(ValueError, match="finite"):
        build_path_3d([[0.4, 0.0], [math.nan, 0.1]], TABLE_Z + 0.1)


def test_tangent_yaw_is_wrapped_for_a_symmetric_gripper() -> None:
    there = np.array([[0.4, 0.0], [0.5, 0.0]])
    back = there[::-1]
    assert np.allclose(tangent_yaw(there), 0.0) and np.allclose(tangent_yaw(back), 0.0)
    assert np.allclose(tangent_yaw(np.array([[0.4, 0.0], [0.4, 0.1]])), -math.pi / 2)


def test_tracker_projection_is_monotone_on_a_self_crossing_path() -> None:
    # A figure of eight: the crossing point must not make progress jump back or forward.
    t = np.linspace(0, 2 * math.pi, 400)
    pts = np.column_stack([0.5 + 0.1 * np.sin(t), 0.1 * np.sin(2 * t), np.full_like(t, 0.7)])
    tr = PathTracker(pts)
    s = 0.0
    for target in np.linspace(0, tr.length, 200):
        s_new = tr.project(tr.at(target), s)
        assert s_new == pytest.approx(target, abs=1e-6)
        s = s_new


def test_expert_matches_reference_carrot_on_the_path() -> None:
    pts = build_path_3d([[0.4, -0.1], [0.5, 0.1], [0.6, 0.0]], 0.75, smooth=3)
    tr = PathTracker(pts)
    s, c, dt, v = 0.0, tr.at(0.0), 1 / 60, 0.3
    for _ in range(30):
        c = c + tr.expert_step(c, s, v, dt)
        s = tr.project(c, s)
    # 30 steps of the carrot: s = 30 * v * dt, and c stays on the path.
    assert s == pytest.approx(30 * v * dt, abs=1e-6)
    assert np.linalg.norm(c - tr.at(s)) < 1e-9


# --------------------------------------------------------------------------- weights


def test_weights_shipped_small_and_loadable() -> None:
    assert WEIGHTS_PATH.stat().st_size < 5 * 1024 * 1024
    arrays = load_npz(WEIGHTS_PATH)
    assert all(a.dtype == np.float32 for k, a in arrays.items() if k.startswith(("W", "b")))
    LearnedPathSkill()


def test_missing_or_corrupt_weights_raise_skill_load_error(tmp_path: Path) -> None:
    with pytest.raises(SkillLoadError, match="missing"):
        LearnedPathSkill(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(SkillLoadError, match="corrupt"):
        LearnedPathSkill(bad)
    # A valid npz that does not fit the observation is refused too.
    wrong = save_mlp(
        tmp_path / "wrong.npz",
        [np.zeros((4, 3))],
        [np.zeros(3)],
        x_mean=np.zeros(4),
        x_std=np.ones(4),
        y_mean=np.zeros(3),
        y_std=np.ones(3),
    )
    with pytest.raises(SkillLoadError, match="needs"):
        LearnedPathSkill(wrong)
    nan = dict(load_npz(WEIGHTS_PATH))
    nan["W0"] = nan["W0"].copy()
    nan["W0"][0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(SkillLoadError, match="NaN"):
        LearnedPathSkill(tmp_path / "nan.npz")
    assert isinstance(MLP.from_npz(WEIGHTS_PATH), MLP)


def test_skill_info_registered() -> None:
    (info,) = SKILL_INFOS
    assert info.id == "path/learned-v1" and info.family == "path" and info.learned
    assert info.evaluate is not None and info.train is not None and info.smoke is not None
    assert isinstance(info.factory(), LearnedPathSkill)


# --------------------------------------------------------------------------- sim


@pytest.mark.sim
def test_pixel_to_table_round_trips(world: TabletopWorld) -> None:
    rng = np.random.default_rng(0)
    for h in (0.0, 0.05, 0.2):
        z = TABLE_Z + h
        xy = np.column_stack([rng.uniform(0.25, 0.8, 50), rng.uniform(-0.4, 0.4, 50)])
        uv = world.world_to_pixel(np.column_stack([xy, np.full(50, z)]))
        back = image_to_table(world, uv, z)
        assert np.max(np.linalg.norm(back - xy, axis=1)) < 1e-3
    # Orientation: the robot is at the bottom of the image, its left on the image's left.
    (near_left,) = image_to_table(world, [[20.0, 220.0]], TABLE_Z)
    (far_right,) = image_to_table(world, [[300.0, 20.0]], TABLE_Z)
    assert near_left[0] < far_right[0] and near_left[1] > far_right[1]


@pytest.mark.sim
def test_out_of_image_and_off_table_pixels_refused(world: TabletopWorld) -> None:
    with pytest.raises(ValueError, match="outside the 320x240 image"):
        image_to_table(world, [[100.0, 100.0], [320.0, 10.0]], TABLE_Z + 0.1)
    with pytest.raises(ValueError, match="off the table"):
        image_to_table(world, [[0.0, 120.0]], TABLE_Z)  # y = 0.53, past the table's edge


def _stroke(world: TabletopWorld, z: float) -> np.ndarray:
    """A coarse S-shaped stroke in integer pixels (what a VLM would draw)."""
    xy = np.array([[0.42, 0.18], [0.50, 0.10], [0.48, -0.02], [0.58, -0.08], [0.62, -0.18]])
    return np.round(world.world_to_pixel(np.column_stack([xy, np.full(len(xy), z)])))


@pytest.mark.sim
@pytest.mark.parametrize("skill_id", VARIANTS)
def test_image_frame_path_tracked(world: TabletopWorld, skill_id: str) -> None:
    world.reset()
    z = TABLE_Z + 0.1
    uv = _stroke(world, z)
    uvz = np.column_stack([uv, np.full(len(uv), z)])
    res = follow_path(world, uvz, speed=0.2, frame="image", skill_id=skill_id)
    assert res.ok, res.message
    assert res.info["mean_error_m"] < 0.002 and res.info["max_error_m"] < 0.008
    assert res.info["path_length_m"] > 0.3
    end = image_to_table(world, uv[-1:], z)[0]
    assert np.linalg.norm(world.arm.ee_pos() - [end[0], end[1], z]) < 0.005
    # Sim time: approach + length / speed + settling, never wall time.
    assert res.sim_time < 1.0 + res.info["path_length_m"] / 0.2 + 1.5


@pytest.mark.sim
def test_learned_tracks_within_bound_of_reference(world: TabletopWorld) -> None:
    world.reset()
    pts = image_path(world, _stroke(world, TABLE_Z + 0.08), 0.08, ramp_height=0.05)
    errs = {}
    for skill_id in VARIANTS:
        world.reset()
        res = follow_path(world, pts, speed=0.4, skill_id=skill_id)
        assert res.ok, res.message
        errs[skill_id] = (res.info["mean_error_m"], res.info["max_error_m"], res.sim_time)
    (m_ref, x_ref, t_ref), (m_l, x_l, t_l) = errs["path/scripted-v1"], errs["path/learned-v1"]
    assert m_l < m_ref + 0.001 and x_l < x_ref + 0.003
    assert t_l == pytest.approx(t_ref, abs=0.5)  # same speed: the clone neither stalls nor rushes


@pytest.mark.sim
@pytest.mark.parametrize("skill_id", VARIANTS)
def test_path_leaving_workspace_refused_before_motion(world: TabletopWorld, skill_id: str) -> None:
    world.reset()
    before_target, before_t = world.arm.target_xyz, world.sim_time
    before_ee = world.arm.ee_pos()
    pts = [[0.5, 0.0, TABLE_Z + 0.1], [0.6, 0.2, TABLE_Z + 0.1], [0.6, 0.6, TABLE_Z + 0.1]]
    with pytest.raises(SafetyViolation) as info:
        follow_path(world, pts, skill_id=skill_id)
    assert info.value.rule == "workspace"
    assert world.arm.target_xyz == before_target and world.sim_time == before_t
    assert np.allclose(world.arm.ee_pos(), before_ee)
    # Too fast for the safety limit: refused as well.
    with pytest.raises(SafetyViolation) as info:
        follow_path(world, pts[:2], speed=world.safety.max_speed * 2, skill_id=skill_id)
    assert info.value.rule == "speed" and world.sim_time == before_t


@pytest.mark.sim
@pytest.mark.parametrize("frame", ["table", "image"])
def test_nan_points_refused(world: TabletopWorld, frame: str) -> None:
    t0 = world.sim_time
    pts = [[100.0, 100.0, TABLE_Z + 0.1], [math.nan, 110.0, TABLE_Z + 0.1]]
    for skill_id in VARIANTS:
        with pytest.raises(SafetyViolation) as info:
            follow_path(world, pts, frame=frame, skill_id=skill_id)  # type: ignore[arg-type]
        assert info.value.rule == "non-finite"
    with pytest.raises(SafetyViolation):
        run_skill(LearnedPathSkill(), world, PathGoal(((0.5, 0.0, math.nan), (0.5, 0.1, 0.8))))
    assert world.sim_time == t0


def _primitive(name: str):  # type: ignore[no-untyped-def]
    return next(s for s in TABLETOP_PRIMITIVES if s.name == name)


@pytest.mark.sim
def test_primitive_image_frame(world: TabletopWorld) -> None:
    world.reset()
    spec = _primitive("follow_path")
    assert "320x240" in spec.listing() and "frame" in spec.listing()
    for skill_id in VARIANTS:
        ctx = PrimitiveContext(world=world, skills={"path": skill_id})
        uv = [[60.0, 200.0], [160.0, 120.0], [250.0, 150.0]]
        err = spec.func(ctx, **spec.validate([uv], {"frame": "image", "height": 0.08}))
        assert 0.0 <= err < 0.003
    ctx = PrimitiveContext(world=world)
    t0 = world.sim_time
    with pytest.raises(PrimitiveError, match="outside the 320x240 image"):
        spec.func(ctx, **spec.validate([[[10.0, 10.0], [400.0, 10.0]]], {"frame": "image"}))
    with pytest.raises(PrimitiveError, match="off the table"):
        spec.func(
            ctx,
            **spec.validate([[[0.0, 120.0], [100.0, 120.0]]], {"frame": "image", "height": 0.0}),
        )
    with pytest.raises(PrimitiveError, match=r"\[u, v\]"):
        spec.func(ctx, **spec.validate([[[10.0, 10.0, 0.7]]], {"frame": "image"}))
    # A pixel path over the robot's base column is refused by the safety layer before moving.
    with pytest.raises(SafetyViolation):
        spec.func(ctx, **spec.validate([[[160.0, 120.0], [160.0, 239.0]]], {"frame": "image"}))
    assert world.sim_time == t0
    # NaN never reaches the primitive: the registry's validation refuses it.
    with pytest.raises(Exception, match="finite"):
        spec.validate([[[math.nan, 10.0]]], {"frame": "image"})
    # The table frame keeps working as before (and returns a float in metres).
    err = spec.func(ctx, **spec.validate([[[0.45, 0.0], [0.55, 0.05]]], {}))
    assert isinstance(err, float) and err < 0.003


@pytest.mark.sim
def test_evaluate_path_reports_both_variants() -> None:
    reports = [evaluate_path(sid, 2, 7, speed=0.3) for sid in VARIANTS]
    for r in reports:
        assert r.trials == 2 and r.successes == 2 and r.details["completion_rate"] == 1.0
        assert r.precision is not None and r.precision < 2.0
        assert r.details["max_error_mm"] < 10.0 and r.sim_time_s > 1.0
    assert reports[1].precision < reports[0].precision + 1.0  # type: ignore[operator]


def test_skill_info_passes_static_check() -> None:
    from policywright.skills._check import check_skill

    assert check_skill(SKILL_INFOS[0], smoke=False, raise_on_error=False) == []


def test_training_is_seeded_and_writes_loadable_weights(tmp_path: Path) -> None:
    from policywright.skills.train_path import collect, train

    x1, y1 = collect(5, seed=3)
    x2, y2 = collect(5, seed=3)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.shape[1] == 32 and y1.shape[1] == 3
    # On-path samples of the expert move one step along the tangent: label ~ (1, 0, 0).
    assert np.median(y1[:, 0]) == pytest.approx(1.0, abs=0.05)
    out = train(seed=1, n_paths=10, epochs=1, out=tmp_path / "w.npz")
    skill = LearnedPathSkill(out)
    assert skill.id == "path/learned-v1"


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("speed", [0.2, 0.5])
def test_learned_matches_reference_over_seeded_paths(speed: float) -> None:
    ref = evaluate_path("path/scripted-v1", 10, 1000, speed=speed)
    learned = evaluate_path("path/learned-v1", 10, 1000, speed=speed)
    assert learned.successes == ref.successes == 10
    assert learned.details["completion_rate"] == 1.0
    assert learned.precision is not None and ref.precision is not None
    assert abs(learned.precision - ref.precision) < 0.2  # mm
    assert learned.details["max_error_mm"] < ref.details["max_error_mm"] + 1.0
    assert learned.sim_time_s == pytest.approx(ref.sim_time_s, rel=0.05)


@pytest.mark.sim
def test_a_faulty_policy_is_stopped_not_obeyed(world: TabletopWorld, tmp_path: Path) -> None:
    # A "policy" that always steers left at full step: clipped to the speed limit (the run is
    # not refused by run_skill's speed guard) and stopped once it strays 2 cm from the path.
    bad = save_mlp(
        tmp_path / "left.npz",
        [np.zeros((32, 3))],
        [np.array([0.0, 5.0, 0.0])],
        x_mean=np.zeros(32),
        x_std=np.ones(32),
        y_mean=np.zeros(3),
        y_std=np.ones(3),
    )
    world.reset()
    z = TABLE_Z + 0.1
    goal = PathGoal(((0.45, -0.1, z), (0.6, -0.1, z)), 0.2)
    res = run_skill(LearnedPathSkill(bad), world, goal)
    assert res.status == "failed" and "strayed" in res.message
    target = np.asarray(world.arm.target_xyz)
    assert abs(target[1] - (-0.1)) <= 0.0205  # never commanded past the deviation bound
