"""The built-in scripted arm skills as :class:`SkillInfo`, with their seeded evaluations.

:func:`grasp_trials` and :func:`path_trials` are public so that other variants of the same
family (learned ones, plugins) evaluate on exactly the same seeded trials and compare fairly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import numpy as np

from policywright.sim import TABLE_Z, TabletopWorld, sample_scene
from policywright.skills._base import Skill, SkillResult, run_skill
from policywright.skills._helpers import go_home, place, release_height
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._scripted import (
    MoveGoal,
    MoveSkill,
    PathGoal,
    PathSkill,
    PickGoal,
    PickSkill,
    PlaceGoal,
    PlaceSkill,
)

__all__ = ["SKILL_INFOS", "grasp_trials", "path_trials"]

logger = logging.getLogger(__name__)

#: A placed block counts as "in the bowl" within this xy distance of the bowl's centre (the
#: Code-as-Policies threshold for "on a bowl" is 6 cm; we ask for half of it) ...
GRASP_SUCCESS_XY_M: Final[float] = 0.03
#: ... and resting on the bowl's floor, not on its rim.
_IN_BOWL_MAX_Z: Final[float] = TABLE_Z + 0.04
#: A tracked path succeeds when the skill reports ok and its peak cross-track error is below this.
PATH_SUCCESS_MAX_ERROR_M: Final[float] = 0.01
#: Height of the evaluation paths above the table, and their speed.
_PATH_HEIGHT: Final[float] = 0.10
_PATH_SPEED: Final[float] = 0.2
_SEED_STRIDE: Final[int] = 1_000


@contextmanager
def _world(seed: int) -> Iterator[TabletopWorld]:
    with TabletopWorld(sample_scene(seed)) as world:
        yield world


def _grasp_trial(
    world: TabletopWorld, factory: Callable[[], Skill[Any]], seed: int
) -> tuple[bool, float | None, float, str]:
    """Pick a seeded block with the variant under test, place it in a seeded bowl (scripted).

    Returns:
        (success, final block-to-bowl xy error in m or None if never released, sim s, detail).
    """
    spec = sample_scene(seed, n_blocks=3, n_bowls=3)
    world.reset(spec)
    rng = np.random.default_rng(_SEED_STRIDE * 7 + seed)
    blocks = sorted(o.name for o in spec.objects if o.kind == "block")
    bowls = sorted(o.name for o in spec.objects if o.kind == "bowl")
    block = blocks[int(rng.integers(len(blocks)))]
    bowl = bowls[int(rng.integers(len(bowls)))]
    t0 = world.sim_time
    det = world.detect()  # perception, as the primitives see it
    bx, by, bz = (float(v) for v in det[block].position)
    picked = run_skill(factory(), world, PickGoal((bx, by, bz), 0.0))
    if not picked.ok:
        go_home(world)
        return False, None, world.sim_time - t0, f"pick {picked.status}: {picked.message}"
    if world.arm.held_object() != block:
        held = world.arm.held_object()
        place(world, (bx, by))
        return False, None, world.sim_time - t0, f"picked {held!r}, not {block!r}"
    placed = place(world, det[bowl].position[:2])
    if not placed.ok:
        return False, None, world.sim_time - t0, f"place {placed.status}: {placed.message}"
    truth = world.true_poses()
    b = truth[block].position
    t = truth[bowl].position
    dxy = math.hypot(b[0] - t[0], b[1] - t[1])
    ok = dxy < GRASP_SUCCESS_XY_M and b[2] < _IN_BOWL_MAX_Z
    return ok, dxy, world.sim_time - t0, f"{block}->{bowl}: dxy={dxy * 1000:.1f} mm"


def grasp_trials(
    factory: Callable[[], Skill[Any]], skill_id: str, trials: int, seed: int
) -> SkillEvalReport:
    """Seeded pick-and-place trials of a grasp variant: a block into a bowl on sampled scenes.

    Trial ``i`` samples scene ``seed + i`` (3 blocks, 3 bowls) and a block and a bowl from it;
    the variant under test grasps the block at its *detected* position, the scripted place puts
    it in the bowl. Success: the block rests in the bowl within 3 cm of its centre.

    Args:
        factory: Makes a fresh instance of the variant (goal type :class:`PickGoal`).
        skill_id: The id reported.
        trials: Number of trials.
        seed: First scene seed.

    Returns:
        Success count; precision = mean final block-to-bowl xy error (mm) over trials in which the
        block was released in the bowl's vicinity; mean sim seconds per trial.
    """
    errors: list[float] = []
    sim_times: list[float] = []
    failures: list[str] = []
    successes = 0
    with _world(seed) as world:
        for i in range(trials):
            ok, err, sim_s, detail = _grasp_trial(world, factory, seed + i)
            sim_times.append(sim_s)
            successes += ok
            if err is not None:
                errors.append(err)
            if not ok:
                failures.append(f"seed {seed + i}: {detail}")
                logger.info("grasp trial failed: seed %d: %s", seed + i, detail)
    return SkillEvalReport(
        skill_id=skill_id,
        trials=trials,
        successes=successes,
        precision=1000 * float(np.mean(errors)) if errors else None,
        precision_unit="mm mean final block-to-bowl xy error",
        sim_time_s=float(np.mean(sim_times)) if sim_times else 0.0,
        details={
            "max_error_mm": 1000 * float(np.max(errors)) if errors else None,
            "failures": failures,
        },
    )


def _sample_path(rng: np.random.Generator) -> np.ndarray:
    """A 3-6 point polyline in the workspace at the evaluation height (< 1.2 m long)."""
    n = int(rng.integers(3, 7))
    xs = rng.uniform(0.38, 0.67, size=n)
    ys = rng.uniform(-0.25, 0.25, size=n)
    pts = np.column_stack([xs, ys, np.full(n, TABLE_Z + _PATH_HEIGHT)])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    keep = np.concatenate([[0.0], np.cumsum(seg)]) <= 1.2
    return pts[keep]


def path_trials(
    factory: Callable[[], Skill[Any]], skill_id: str, trials: int, seed: int
) -> SkillEvalReport:
    """Seeded path-tracking trials: random polylines 10 cm above the table at 0.2 m/s.

    Args:
        factory: Makes a fresh instance of the variant (goal type :class:`PathGoal`).
        skill_id: The id reported.
        trials: Number of paths.
        seed: Seed of the path generator.

    Returns:
        Success = status ok and peak cross-track error < 1 cm; precision = mean cross-track
        error (mm) over completed paths; mean sim seconds per path.
    """
    rng = np.random.default_rng(seed)
    means: list[float] = []
    peaks: list[float] = []
    sim_times: list[float] = []
    failures: list[str] = []
    successes = 0
    with _world(seed) as world:
        for i in range(trials):
            pts = _sample_path(rng)
            goal = PathGoal(
                tuple((float(p[0]), float(p[1]), float(p[2])) for p in pts), _PATH_SPEED
            )
            length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
            res = run_skill(factory(), world, goal, max_sim_s=10.0 + 2.0 * length / _PATH_SPEED)
            sim_times.append(res.sim_time)
            if res.ok and "mean_error_m" in res.info:
                means.append(float(res.info["mean_error_m"]))
                peaks.append(float(res.info["max_error_m"]))
                if res.info["max_error_m"] < PATH_SUCCESS_MAX_ERROR_M:
                    successes += 1
                    continue
            failures.append(f"path {i}: {res.status}: {res.message}")
    return SkillEvalReport(
        skill_id=skill_id,
        trials=trials,
        successes=successes,
        precision=1000 * float(np.mean(means)) if means else None,
        precision_unit="mm mean cross-track error",
        sim_time_s=float(np.mean(sim_times)) if sim_times else 0.0,
        details={
            "max_error_mm": 1000 * float(np.max(peaks)) if peaks else None,
            "speed_m_s": _PATH_SPEED,
            "failures": failures,
        },
    )


# --------------------------------------------------------------------------- smoke runs
# Each smoke run builds a fresh world, runs the skill once and returns rounded figures, so that
# ``check_skill`` can compare two runs for determinism.


def _summary(result: SkillResult, world: TabletopWorld) -> dict[str, Any]:
    if not result.ok:
        raise RuntimeError(f"smoke run failed: {result.status}: {result.message}")
    ee = world.arm.ee_pos()
    return {
        "status": result.status,
        "sim_time": round(result.sim_time, 6),
        "ee": [round(float(v), 5) for v in ee],
        "held": world.arm.held_object(),
    }


def _smoke_grasp() -> dict[str, Any]:
    with _world(0) as world:
        block = next(n for n, d in world.detect().items() if d.kind == "block")
        xyz = tuple(float(v) for v in world.detect()[block].position)
        res = run_skill(PickSkill(), world, PickGoal((xyz[0], xyz[1], xyz[2])))
        if world.arm.held_object() != block:
            raise RuntimeError(f"smoke grasp did not hold {block!r}")
        return _summary(res, world)


def _smoke_place() -> dict[str, Any]:
    with _world(0) as world:
        det = world.detect()
        block = next(n for n, d in det.items() if d.kind == "block")
        bowl = next(n for n, d in det.items() if d.kind == "bowl")
        x, y, z = (float(v) for v in det[block].position)
        picked = run_skill(PickSkill(), world, PickGoal((x, y, z)))
        if not picked.ok:
            raise RuntimeError(f"smoke place could not pick: {picked.message}")
        bx, by = (float(v) for v in det[bowl].position[:2])
        res = run_skill(PlaceSkill(), world, PlaceGoal((bx, by, release_height(world, (bx, by)))))
        return _summary(res, world)


def _smoke_path() -> dict[str, Any]:
    with _world(0) as world:
        z = TABLE_Z + _PATH_HEIGHT
        goal = PathGoal(((0.45, -0.1, z), (0.55, 0.0, z), (0.45, 0.1, z)), _PATH_SPEED)
        res = run_skill(PathSkill(), world, goal)
        out = _summary(res, world)
        out["mean_error_mm"] = round(1000 * float(res.info["mean_error_m"]), 4)
        return out


def _smoke_move() -> dict[str, Any]:
    with _world(0) as world:
        res = run_skill(MoveSkill(), world, MoveGoal((0.5, 0.1, TABLE_Z + 0.2), 0.3))
        return _summary(res, world)


def _eval_grasp(trials: int, seed: int) -> SkillEvalReport:
    # The same seeded trials as every other grasp variant (held-out shapes and blocks).
    from policywright.skills._grasp_learned import evaluate_grasp

    return evaluate_grasp(PickSkill.id, trials, seed)


def _eval_path(trials: int, seed: int) -> SkillEvalReport:
    # The same seeded image-frame paths as every other path variant.
    from policywright.skills._path_learned import evaluate_path

    return evaluate_path(PathSkill.id, trials, seed)


#: The built-in scripted arm skills (entry point ``policywright.skills``: ``builtin``).
SKILL_INFOS: Final[tuple[SkillInfo, ...]] = (
    SkillInfo(
        id=PickSkill.id,
        family="grasp",
        summary="Top-down scripted grasp: pre-grasp, descend, close, lift, verify the hold.",
        world="tabletop",
        factory=PickSkill,
        evaluate=_eval_grasp,
        smoke=_smoke_grasp,
    ),
    SkillInfo(
        id=PlaceSkill.id,
        family="place",
        summary="Scripted place: above the target, descend to the release height, open, retreat.",
        world="tabletop",
        factory=PlaceSkill,
        smoke=_smoke_place,
    ),
    SkillInfo(
        id=PathSkill.id,
        family="path",
        summary="Scripted path tracking: arc-length parametrised polyline at constant speed.",
        world="tabletop",
        factory=PathSkill,
        evaluate=_eval_path,
        smoke=_smoke_path,
    ),
    SkillInfo(
        id=MoveSkill.id,
        family="move",
        summary="Scripted straight-line end-effector move with a smooth speed profile.",
        world="tabletop",
        factory=MoveSkill,
        smoke=_smoke_move,
    ),
)
