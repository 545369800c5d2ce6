"""``path/learned-v1``: a path-tracking policy cloned from the reference carrot controller.

The policy drives the end-effector *setpoint* (the commanded target) along the path. Each
control step it sees, in the path frame at the setpoint's projection onto the path (tangent,
left normal, z), the setpoint's offset from the path and the path points a few millimetres to
3 cm ahead (:meth:`PathTracker.features`), and outputs the next setpoint delta in units of
``speed * dt``. The delta is clipped to 1.25x the requested speed (and never over the safety
limit), so :func:`run_skill`'s per-step speed guard can never trip; every setpoint still goes
through ``run_skill``'s workspace check, and the whole path is checked before anything moves.

The measured end-effector position is not an input: the reference controller is a pure
setpoint carrot (its command does not depend on where the arm is), so a cloned policy would
learn to ignore it; the closed loop is closed by the arm's position controller, as for the
reference. Trained by behaviour cloning with DART-style noise on the executed setpoints
(``python -m policywright.skills.train_path``).

The approach to the first point is the same scripted straight move as ``path/scripted-v1``;
the learned part is the tracking. Gripper yaw stays fixed (see :mod:`._path`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Final

import numpy as np

from policywright.errors import SkillLoadError
from policywright.sim import TABLE_Z, SceneSpec, TabletopWorld
from policywright.skills._base import CONTROL_HZ, ArmObservation, run_skill
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._mlp import MLP, load_npz
from policywright.skills._path import (
    PathTracker,
    build_path_3d,
    clip_step,
    image_to_table,
    step_limit,
)
from policywright.skills._scripted import (
    TRANSIT_SPEED,
    PathGoal,
    PathSkill,
    _Ctx,
    _distance_to_polyline,
    _Move,
    _Phase,
    _ScriptedSkill,
    _vec,
)

__all__ = [
    "SKILL_INFOS",
    "WEIGHTS_PATH",
    "LearnedPathSkill",
    "evaluate_path",
    "random_coarse_xy",
]

logger = logging.getLogger(__name__)

_DT: Final[float] = 1.0 / CONTROL_HZ
#: The shipped weights (package data).
WEIGHTS_PATH: Final[Path] = Path(__file__).parent / "weights" / "path_learned_v1.npz"
#: Input size the weights must take (see PathTracker.features).
N_FEATURES: Final[int] = 3 + 3 * 9 + 2
# The setpoint may stray this far from the path before the skill gives up (a policy fault).
_MAX_DEVIATION: Final[float] = 0.02
# Region random evaluation/training paths live in (inside the named-location workspace).
_BOX: Final[tuple[float, float, float, float]] = (0.38, -0.25, 0.67, 0.25)


class _LearnedTrack(_Phase):
    """Track the polyline with the learned policy; report errors like the scripted _Track."""

    def __init__(self, points: np.ndarray, speed: float, mlp: MLP, max_speed: float) -> None:
        self.points, self.speed, self.mlp = points, speed, mlp
        self.tracker = PathTracker(points)
        self.limit = step_limit(speed, _DT, max_speed / 1.01)
        # Generous: a policy that stalls fails instead of running until run_skill's timeout.
        self.max_steps = int(3 * self.tracker.length / (speed * _DT)) + 2 * CONTROL_HZ

    def start(self, ctx: _Ctx, obs: ArmObservation) -> None:
        self.c = np.asarray(ctx.xyz, dtype=float)
        self.s = self.tracker.project(self.c, 0.0)
        self.errors: list[float] = []
        self.settle = 0.0
        self.steps = 0
        self.arrived = self.tracker.length <= 0.0

    def _policy_step(self) -> np.ndarray:
        tr = self.tracker
        feats = tr.features(self.c, self.s, self.speed, _DT)
        out = self.mlp(feats)
        delta = tr.frame(self.s).T @ (np.asarray(out, dtype=float) * self.speed * _DT)
        return clip_step(delta, self.limit)

    def step(self, ctx: _Ctx, obs: ArmObservation) -> bool:
        self.errors.append(_distance_to_polyline(np.asarray(obs.ee_pos), self.points))
        tr = self.tracker
        if not self.arrived:
            self.steps += 1
            end = tr.points[-1]
            if tr.length - self.s <= self.speed * _DT and np.linalg.norm(end - self.c) <= (
                self.limit
            ):
                # The last step lands exactly on the end point, as the reference does.
                self.c, self.s, self.arrived = end.copy(), tr.length, True
            else:
                delta = self._policy_step()
                if not np.all(np.isfinite(delta)):
                    ctx.failure = "path/learned-v1 produced a non-finite action"
                    return True
                self.c = self.c + delta
                self.s = tr.project(self.c, self.s)
                dev = float(np.linalg.norm(self.c - tr.at(self.s)))
                if dev > _MAX_DEVIATION:
                    ctx.failure = (
                        f"path/learned-v1 strayed {1000 * dev:.0f} mm from the path; stopped"
                    )
                    return True
                if self.steps > self.max_steps:
                    ctx.failure = (
                        f"path/learned-v1 made too little progress "
                        f"({self.s:.3f} of {tr.length:.3f} m)"
                    )
                    return True
            ctx.xyz = _vec(self.c)
            return False
        self.settle += _DT
        err = float(np.linalg.norm(np.asarray(obs.ee_pos) - tr.points[-1]))
        if err < 0.003 or self.settle >= 0.4:
            errs = np.asarray(self.errors)
            ctx.info.update(
                mean_error_m=float(errs.mean()),
                max_error_m=float(errs.max()),
                path_length_m=tr.length,
            )
            return True
        return False


def load_policy(path: str | Path = WEIGHTS_PATH) -> MLP:
    """Load the tracking policy's MLP.

    Raises:
        SkillLoadError: the file is missing or corrupt, or does not fit the observation.
    """
    mlp = MLP(load_npz(path, required=("W0", "b0", "x_mean", "x_std", "y_mean", "y_std")))
    if mlp.in_dim != N_FEATURES or mlp.out_dim != 3:
        raise SkillLoadError(
            f"weights file {str(path)!r} maps {mlp.in_dim} -> {mlp.out_dim}; "
            f"path/learned-v1 needs {N_FEATURES} -> 3"
        )
    return mlp


class LearnedPathSkill(_ScriptedSkill):
    """Move to the first point, then track the polyline with the cloned policy.

    Same goal (:class:`PathGoal`), safety checks and result info as ``path/scripted-v1``.

    Args:
        weights: The ``.npz`` file; defaults to the shipped weights.

    Raises:
        SkillLoadError: the weights are missing or corrupt.
    """

    id = "path/learned-v1"

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        self._mlp = load_policy(WEIGHTS_PATH if weights is None else weights)

    def reset(self, world: TabletopWorld, goal: PathGoal) -> None:
        """Plan the tracking; raises SafetyViolation for unsafe points, speed or length."""
        pts = np.asarray(goal.points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 3 or pts.shape[0] < 1:
            raise ValueError(f"path points must be an (N, 3) array, got shape {pts.shape}")
        if not (math.isfinite(goal.speed) and goal.speed > 0):
            raise ValueError(f"speed must be a positive number, got {goal.speed}")
        if pts.shape[0] == 1:
            pts = np.vstack([pts, pts])
        # Refuse before anything is built or moved: every point (NaN/inf, workspace, keep-out),
        # the path length and the tracking speed (not a scripted _Track phase, so _begin would
        # only check the approach speed).
        world.safety.check_path(np.vstack([np.asarray(world.arm.target_xyz), pts]))
        world.safety.check_speed(goal.speed)
        first = _vec(pts[0])
        phases: list[_Phase] = [
            _Move(first, min(TRANSIT_SPEED, max(goal.speed, 0.1))),
            _LearnedTrack(pts, goal.speed, self._mlp, world.safety.max_speed),
        ]
        self._begin(world, phases, [first, *(_vec(p) for p in pts)])

    def _ok_message(self) -> str:
        info = self._ctx.info
        return (
            f"followed a {info.get('path_length_m', 0.0):.3f} m path (learned policy); mean "
            f"tracking error {1000 * info.get('mean_error_m', 0.0):.1f} mm"
        )


# ---------------------------------------------------------------------------------------------
# Seeded random paths and evaluation


def random_coarse_xy(rng: np.random.Generator) -> np.ndarray:
    """A coarse random path (3-8 points) inside the workspace, like a hand-drawn stroke."""
    x0, y0, x1, y1 = _BOX
    n = int(rng.integers(3, 9))
    p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
    heading = rng.uniform(-math.pi, math.pi)
    pts = [p]
    for _ in range(n - 1):
        heading += rng.uniform(-1.8, 1.8)
        step = rng.uniform(0.04, 0.12)
        q = pts[-1] + step * np.array([math.cos(heading), math.sin(heading)])
        if not (x0 <= q[0] <= x1 and y0 <= q[1] <= y1):
            # Turn back towards the middle instead of leaving the box.
            mid = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            heading = math.atan2(mid[1] - pts[-1][1], mid[0] - pts[-1][0]) + rng.uniform(-0.5, 0.5)
            q = pts[-1] + step * np.array([math.cos(heading), math.sin(heading)])
            q = np.clip(q, [x0, y0], [x1, y1])
        pts.append(q)
    return np.asarray(pts)


def image_path(
    world: TabletopWorld,
    uv: np.ndarray,
    height: float,
    *,
    ramp_height: float = 0.0,
) -> np.ndarray:
    """The 3D path the ``follow_path`` primitive tracks for pixels ``uv`` (image frame).

    Pixels -> plane at ``TABLE_Z + height`` -> Chaikin (3 rounds) -> 5 mm resampling.
    """
    z = TABLE_Z + height
    xy = image_to_table(world, uv, z)
    return build_path_3d(xy, z, ramp_height=ramp_height, smooth=3, spacing=0.005)


def evaluate_path(
    skill_id: str,
    trials: int,
    seed: int,
    *,
    speed: float = 0.2,
    weights: str | Path | None = None,
) -> SkillEvalReport:
    """Seeded evaluation of a path skill on random image-frame paths.

    Each trial draws a coarse random stroke, projects it to integer pixels of the top image
    (what a VLM would output), maps it back through :func:`image_path` at a random travel height
    (5-20 cm, half of the trials with 5 cm takeoff/landing ramps) and tracks it. A trial succeeds
    when the skill reports "ok", the max cross-track error is under 10 mm and the end effector
    ends within 5 mm of the last point.

    Args:
        skill_id: "path/scripted-v1" or "path/learned-v1".
        trials: Number of paths.
        seed: Seed of the paths (same seed, same paths for both variants).
        speed: Tracking speed (m/s).
        weights: Weights for the learned variant (default: shipped).

    Returns:
        precision = mean cross-track error (mm, mean over trials); details hold the max error,
        completion rate and per-trial figures.
    """
    if skill_id == PathSkill.id:
        make: Any = PathSkill
    elif skill_id == LearnedPathSkill.id:
        mlp_path = WEIGHTS_PATH if weights is None else weights
        load_policy(mlp_path)  # fail early, before building a world

        def make() -> LearnedPathSkill:
            return LearnedPathSkill(mlp_path)
    else:
        from policywright.skills._registry import SkillRegistry

        registry = SkillRegistry.from_entry_points()  # fresh: plugins installed since
        registry.get(skill_id)  # unknown id: UnknownNameError with close matches

        def make() -> Any:
            return registry.create(skill_id)

    rng = np.random.default_rng(seed)
    means: list[float] = []
    maxes: list[float] = []
    sims: list[float] = []
    successes = 0
    completed = 0
    with TabletopWorld(SceneSpec()) as world:
        for _ in range(trials):
            height = float(rng.uniform(0.05, 0.2))
            ramp = 0.05 if rng.uniform() < 0.5 else 0.0
            xy = random_coarse_xy(rng)
            z = TABLE_Z + height
            uv = np.round(world.world_to_pixel(np.column_stack([xy, np.full(len(xy), z)])))
            pts = image_path(world, uv, height, ramp_height=ramp)
            length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
            res = run_skill(
                make(),
                world,
                PathGoal(tuple(map(_vec, pts)), speed),
                max_sim_s=10 + 3 * length / speed,
            )
            sims.append(res.sim_time)
            if res.status != "ok":
                logger.warning("%s trial failed: %s", skill_id, res.message)
                means.append(float("nan"))
                maxes.append(float("nan"))
                continue
            completed += 1
            mean_mm = 1000 * float(res.info["mean_error_m"])
            max_mm = 1000 * float(res.info["max_error_m"])
            means.append(mean_mm)
            maxes.append(max_mm)
            end_err = float(np.linalg.norm(world.arm.ee_pos() - pts[-1]))
            if max_mm < 10.0 and end_err < 0.005:
                successes += 1
    ok_means = [m for m in means if math.isfinite(m)]
    ok_maxes = [m for m in maxes if math.isfinite(m)]
    return SkillEvalReport(
        skill_id=skill_id,
        trials=trials,
        successes=successes,
        precision=float(np.mean(ok_means)) if ok_means else None,
        precision_unit="mm mean cross-track error",
        sim_time_s=float(np.mean(sims)) if sims else 0.0,
        details={
            "speed_m_s": speed,
            "max_error_mm": float(np.max(ok_maxes)) if ok_maxes else None,
            "completion_rate": completed / trials if trials else 0.0,
            "per_trial_mean_mm": [round(m, 3) for m in means],
            "per_trial_max_mm": [round(m, 3) for m in maxes],
        },
    )


def _evaluate_learned(trials: int, seed: int) -> SkillEvalReport:
    return evaluate_path(LearnedPathSkill.id, trials, seed)


def _train(out_dir: str | Path | None = None, seed: int = 0) -> Path:
    from policywright.skills.train_path import train

    return train(out_dir=out_dir, seed=seed)


def _smoke() -> dict[str, Any]:
    """One seeded image-frame path at 0.3 m/s; raises on failure, returns rounded figures."""
    report = evaluate_path(LearnedPathSkill.id, 1, 0, speed=0.3)
    if report.successes != 1:
        raise RuntimeError(f"path/learned-v1 smoke run failed: {report.details}")
    return {
        "mean_error_mm": round(float(report.precision or 0.0), 4),
        "max_error_mm": round(float(report.details["max_error_mm"]), 4),
        "sim_time": round(report.sim_time_s, 6),
    }


#: Registered skill variants of this module (entry point group ``policywright.skills``).
SKILL_INFOS: Final[list[SkillInfo]] = [
    SkillInfo(
        id=LearnedPathSkill.id,
        family="path",
        summary="path tracking by an MLP cloned (DART) from the arc-length carrot controller",
        world="tabletop",
        factory=LearnedPathSkill,
        learned=True,
        evaluate=_evaluate_learned,
        train=_train,
        smoke=_smoke,
        weights=(WEIGHTS_PATH,),
    )
]
