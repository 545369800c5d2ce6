"""Convenience wrappers used by the primitives layer: one call, one SkillResult."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np

from policywright.errors import SafetyViolation
from policywright.sim import BLOCK_SIZE, BOWL_RADIUS, HOME_XYZ, TABLE_Z, TabletopWorld
from policywright.skills._base import SkillResult, run_skill
from policywright.skills._scripted import (
    GRASP_DEPTH,
    TRANSIT_SPEED,
    MoveGoal,
    MoveSkill,
    PathGoal,
    PathSkill,
    PickGoal,
    PickSkill,
    PlaceGoal,
    PlaceSkill,
)

__all__ = ["follow_path", "go_home", "move_ee", "pick", "place", "release_height"]

logger = logging.getLogger(__name__)

# Gap between the held block's bottom and the surface it is released onto.
_CLEARANCE_ON_BLOCK: Final[float] = 0.01
_CLEARANCE_IN_BOWL: Final[float] = 0.02
_CLEARANCE_TABLE: Final[float] = 0.015
# How far from a block's detected footprint a target still counts as "on" it.
_FOOTPRINT_MARGIN: Final[float] = 0.01
# Rise to this height before heading home, so a held object never sweeps across the table.
_HOME_VIA_HEIGHT: Final[float] = TABLE_Z + 0.2


def _xyz(values: Sequence[float] | np.ndarray, n: int, what: str) -> tuple[float, ...]:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{what} must have {n} numbers, got {arr.shape[0]}")
    return tuple(float(v) for v in arr)


def release_height(world: TabletopWorld, xy: Sequence[float] | np.ndarray) -> float:
    """End-effector height at which a held block is released over ``xy``.

    Uses perception (the detected bboxes), not poses: a block target releases just above its
    top (so stacks work), a bowl a few cm above its floor, anything else the table.

    Args:
        world: The world.
        xy: Target world xy.

    Returns:
        The end-effector z for the release.
    """
    x, y = _xyz(xy, 2, "xy")
    held = world.arm.held_object()
    support = TABLE_Z
    clearance = _CLEARANCE_TABLE
    for name, det in world.detect().items():
        if name == held:
            continue
        x0, y0, z0, x1, y1, z1 = det.bbox
        if det.kind in ("block", "shape"):
            inside = (
                x0 - _FOOTPRINT_MARGIN <= x <= x1 + _FOOTPRINT_MARGIN
                and y0 - _FOOTPRINT_MARGIN <= y <= y1 + _FOOTPRINT_MARGIN
            )
            if inside and z1 > support:
                support, clearance = z1, _CLEARANCE_ON_BLOCK
        else:
            cx, cy = det.position[0], det.position[1]
            if math.hypot(x - cx, y - cy) < BOWL_RADIUS and z0 > support:
                support, clearance = z0, _CLEARANCE_IN_BOWL
    # The grasp holds the block GRASP_DEPTH below its centre.
    return float(support + BLOCK_SIZE / 2 + clearance - GRASP_DEPTH)


def pick(
    world: TabletopWorld,
    xyz: Sequence[float] | np.ndarray,
    yaw: float = 0.0,
    skill_id: str = PickSkill.id,
) -> SkillResult:
    """Grasp the object centred at ``xyz`` and lift it.

    Args:
        world: The world.
        xyz: Detected centre of the object.
        yaw: Gripper yaw (the scripted grasp uses it; a learned grasp chooses its own).
        skill_id: The grasp variant, ``"grasp/scripted-v1"`` (default) or any registered
            grasp skill taking a ``PickGoal`` (e.g. ``"grasp/learned-v1"``).

    Raises:
        SafetyViolation: a waypoint of the grasp is unsafe (nothing moved).
        UnknownNameError: ``skill_id`` is not registered.
        SkillLoadError: the skill's weights are missing or corrupt.
    """
    x, y, z = _xyz(xyz, 3, "xyz")
    skill: Any
    if skill_id == PickSkill.id:
        skill = PickSkill()
    elif skill_id == "grasp/learned-v1":
        # Imported here: it loads weights and imports this module's siblings.
        from policywright.skills._grasp_learned import LearnedGraspSkill

        skill = LearnedGraspSkill()
    else:
        from policywright.skills._registry import get_skill  # the registry imports this module

        skill = get_skill(skill_id)
    return run_skill(skill, world, PickGoal((x, y, z), float(yaw)))


def place(
    world: TabletopWorld, xy: Sequence[float] | np.ndarray, release_z: float | None = None
) -> SkillResult:
    """Release the held object over ``xy``, retreat and go home (``place/scripted-v1``).

    Args:
        world: The world.
        xy: Target world xy.
        release_z: End-effector release height; None computes it from perception
            (see :func:`release_height`).

    Raises:
        SafetyViolation: a waypoint is unsafe (nothing moved).
    """
    x, y = _xyz(xy, 2, "xy")
    z = release_height(world, (x, y)) if release_z is None else float(release_z)
    result = run_skill(PlaceSkill(), world, PlaceGoal((x, y, z)))
    if result.status != "ok":
        return result
    home = go_home(world)
    if home.status != "ok":
        return home
    return result.model_copy(update={"sim_time": result.sim_time + home.sim_time})


def move_ee(
    world: TabletopWorld, xyz: Sequence[float] | np.ndarray, speed: float = 0.3
) -> SkillResult:
    """Move the end effector in a straight line to ``xyz`` (``move/scripted-v1``).

    Raises:
        SafetyViolation: the target or speed is unsafe (nothing moved).
    """
    x, y, z = _xyz(xyz, 3, "xyz")
    return run_skill(MoveSkill(), world, MoveGoal((x, y, z), float(speed)))


def follow_path(
    world: TabletopWorld,
    points_xyz: Sequence[Sequence[float]] | np.ndarray,
    speed: float = 0.2,
    *,
    frame: Literal["table", "image"] = "table",
    skill_id: str = "path/scripted-v1",
) -> SkillResult:
    """Track a polyline at ``speed`` with a path skill (``path/scripted-v1`` by default).

    The result's info holds ``mean_error_m``, ``max_error_m`` (cross-track) and ``path_length_m``.

    Args:
        world: The world.
        points_xyz: With ``frame="table"``, (N, 3) world points, tracked as given. With
            ``frame="image"``, (N, 3) rows ``(u, v, z)``: pixels of the 320x240 top camera image
            (u to the right, v down) and the world height ``z`` of the plane each pixel's ray
            is intersected with; the mapped path is Chaikin-smoothed and resampled at 5 mm.
        speed: Speed along the path (m/s).
        frame: "table" or "image".
        skill_id: "path/scripted-v1" (reference controller), "path/learned-v1" or another
            installed path variant; its goal is a :class:`PathGoal`.

    Raises:
        SafetyViolation: a point (or a NaN/inf), the speed or the length is unsafe (nothing
            moved).
        ValueError: malformed points, or (image frame) a pixel outside the image or off the
            table.
        SkillLoadError: the learned skill's weights are missing or corrupt.
        UnknownNameError: no such path skill is installed.
    """
    pts = np.asarray(points_xyz, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3 or pts.shape[0] < 1:
        raise ValueError(f"points must be an (N, 3) array, got shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise SafetyViolation("non-finite", "path points must be finite numbers (got NaN or inf)")
    if frame == "image":
        from policywright.skills._path import chaikin, image_to_table, resample

        # Each pixel's ray meets the plane at its own height; then round the corners and
        # resample, so a coarse drawn stroke is tracked smoothly.
        xy = image_to_table(world, pts[:, :2], pts[:, 2])
        pts = resample(chaikin(np.column_stack([xy, pts[:, 2]]), 3), 0.005)
    elif frame != "table":
        raise ValueError(f'frame must be "table" or "image", not {frame!r}')
    if skill_id == "path/scripted-v1":
        skill: Any = PathSkill()
    elif skill_id == "path/learned-v1":
        from policywright.skills._path_learned import LearnedPathSkill

        skill = LearnedPathSkill()
    elif skill_id.startswith("path/"):
        # Another installed path variant (entry point group policywright.skills).
        from policywright.skills._registry import get_skill

        skill = get_skill(skill_id)
    else:
        raise ValueError(f"skill_id must name a path skill (path/...), not {skill_id!r}")
    goal = PathGoal(tuple((float(p[0]), float(p[1]), float(p[2])) for p in pts), float(speed))
    length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
    budget = 10.0 + 2.0 * length / max(float(speed), 1e-3)
    return run_skill(skill, world, goal, max_sim_s=budget)


def go_home(world: TabletopWorld) -> SkillResult:
    """Retract the end effector out of the cameras' view of the workspace."""
    goal = MoveGoal(HOME_XYZ, TRANSIT_SPEED, yaw=0.0, via_height=_HOME_VIA_HEIGHT)
    return run_skill(MoveSkill(), world, goal)
