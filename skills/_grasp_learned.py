"""A learned grasp (``grasp/learned-v1``): an MLP scores top-down grasp candidates.

Perception gives the object's points from the top camera (segmentation + depth). Candidates
are top-down grasps ``(x, y, yaw, z)`` on a grid around the detected centre; each is described
by hand features of the points in the gripper's frame (the object's width between the fingers,
what the fingers would land on, a coarse height map). A small MLP, trained on self-supervised
grasp trials in the sim (``python -m policywright.skills.train_grasp``), predicts the chance that
a grasp lifts the object and still holds it after a shake; the best candidate is executed with
the scripted motion (approach, descend, close, lift) of ``grasp/scripted-v1``.

:func:`evaluate_grasp` measures any grasp variant on the same seeded single-object trials:
held-out shapes (``policywright.sim._shapes.eval_shapes``, never trained on) and blocks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from policywright.errors import SafetyViolation, SkillLoadError
from policywright.sim import COLORS, TABLE_Z, ObjectSpec, SceneSpec, TabletopWorld
from policywright.sim._shapes import eval_shapes
from policywright.skills._base import SkillResult, run_skill
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._mlp import MLP, load_npz
from policywright.skills._scripted import (
    GRASP_DEPTH,
    MoveGoal,
    MoveSkill,
    PickGoal,
    PickSkill,
)

__all__ = [
    "LEARNED_GRASP_ID",
    "N_FEATURES",
    "SKILL_INFOS",
    "WEIGHTS_PATH",
    "GraspModel",
    "LearnedGraspSkill",
    "candidate_grid",
    "evaluate_grasp",
    "grasp_features",
    "grasp_trial",
]

logger = logging.getLogger(__name__)

LEARNED_GRASP_ID: Final[str] = "grasp/learned-v1"
SCRIPTED_GRASP_ID: Final[str] = "grasp/scripted-v1"
#: The shipped weights (package data).
WEIGHTS_PATH: Final[Path] = Path(__file__).parent / "weights" / "grasp_learned_v1.npz"
TRAIN_COMMAND: Final[str] = "python -m policywright.skills.train_grasp"

# Gripper geometry in its own frame: a = closing axis, b = along the finger pads.
_PAD_HALF: Final[float] = 0.011  # half the finger pad's width along b
_FINGER_IN: Final[float] = 0.040  # open fingers' inner faces at |a| = 4 cm
_FINGER_OUT: Final[float] = 0.052
# Coarse height map in the gripper frame: cells along a x cells along b.
_GRID_A: Final[np.ndarray] = np.linspace(-0.06, 0.06, 7)
_GRID_B: Final[np.ndarray] = np.linspace(-0.03, 0.03, 4)
_EMPTY_H: Final[float] = -0.05
#: Lowest grasp height above the table (the workspace floor is 5 mm; fingertips need room).
MIN_GRASP_Z: Final[float] = 0.010
#: Length of the feature vector of one candidate.
N_FEATURES: Final[int] = 16 + (len(_GRID_A) - 1) * (len(_GRID_B) - 1)
# The object must still be this high above the table after the lift and shake.
_LIFTED_Z: Final[float] = 0.08
# Detected objects farther than this from the goal are not the one meant.
_MATCH_RADIUS: Final[float] = 0.05


def grasp_features(points: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Features of grasp candidates from the object's top-camera points.

    Args:
        points: (N, 3) world points of the object seen from above.
        candidates: (M, 4) grasps ``(x, y, yaw, z)``: end-effector position and yaw (the
            fingers close along ``(-sin yaw, cos yaw)``).

    Returns:
        (M, :data:`N_FEATURES`) float array.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    cand = np.asarray(candidates, dtype=float).reshape(-1, 4)
    m = cand.shape[0]
    if pts.shape[0] == 0:
        return np.zeros((m, N_FEATURES))
    h = pts[:, 2] - TABLE_Z  # (N,)
    top = float(h.max())
    centroid = pts[:, :2].mean(axis=0)
    gz = cand[:, 3] - TABLE_Z  # (M,)
    ca, sa = -np.sin(cand[:, 2]), np.cos(cand[:, 2])  # closing axis
    dx = pts[None, :, 0] - cand[:, None, 0]
    dy = pts[None, :, 1] - cand[:, None, 1]
    a = dx * ca[:, None] + dy * sa[:, None]  # (M, N)
    b = dx * sa[:, None] - dy * ca[:, None]
    rel = h[None, :] - gz[:, None]  # height above the grasp point
    strip = np.abs(b) < _PAD_HALF
    n_strip = strip.sum(axis=1)
    big = 1.0
    a_min = np.where(strip, a, big).min(axis=1)
    a_max = np.where(strip, a, -big).max(axis=1)
    has = n_strip > 0
    a_min = np.where(has, a_min, 0.0)
    a_max = np.where(has, a_max, 0.0)
    h_strip = np.where(has, np.where(strip, rel, -big).max(axis=1), _EMPTY_H)
    # Below-grasp part of the strip: what the pads actually squeeze.
    pinch = strip & (rel > -0.012)
    fingers = []
    for side in (1.0, -1.0):
        zone = strip & (side * a > _FINGER_IN) & (side * a < _FINGER_OUT)
        fingers.append(np.where(zone, rel, _EMPTY_H).max(axis=1))
    f_hi = np.maximum(fingers[0], fingers[1])
    f_lo = np.minimum(fingers[0], fingers[1])
    off_x = centroid[0] - cand[:, 0]
    off_y = centroid[1] - cand[:, 1]
    off_a = off_x * ca + off_y * sa
    off_b = off_x * sa - off_y * ca
    ext_a = np.abs(a).max(axis=1)
    ext_b = np.abs(b).max(axis=1)
    scalars = np.stack(
        [
            a_max - a_min,
            (a_max + a_min) / 2,
            h_strip,
            np.log1p(n_strip),
            np.log1p(pinch.sum(axis=1)),
            f_hi,
            f_lo,
            off_a,
            off_b,
            ext_a,
            ext_b,
            gz,
            np.full(m, top),
            top - gz,
            np.full(m, math.log(pts.shape[0])),
            (np.abs(a) < 0.008).sum(axis=1) / np.maximum(n_strip, 1),
        ],
        axis=1,
    )
    # Coarse height map (max height above the grasp point per cell; empty -> _EMPTY_H).
    ia = np.digitize(a, _GRID_A) - 1
    ib = np.digitize(b, _GRID_B) - 1
    na, nb = len(_GRID_A) - 1, len(_GRID_B) - 1
    inside = (ia >= 0) & (ia < na) & (ib >= 0) & (ib < nb)
    cell = np.where(inside, ia * nb + ib, na * nb)  # an overflow cell for outside points
    grid = np.full((m, na * nb + 1), _EMPTY_H)
    rows = np.broadcast_to(np.arange(m)[:, None], cell.shape)
    np.maximum.at(grid, (rows.ravel(), cell.ravel()), rel.ravel())
    return np.concatenate([scalars, grid[:, : na * nb]], axis=1)


def candidate_grid(points: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """The grasp candidates scored at inference: offsets x yaws x depths around ``centre``.

    7 x 7 offsets (8 mm apart), 12 yaws (15 degrees apart, a half turn: the gripper is
    symmetric) and 3 depths below the object's top (1.5, 2.5, 3.5 cm; never below
    :data:`MIN_GRASP_Z`).

    Returns:
        (M, 4) candidates ``(x, y, yaw, z)``.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    top = float(pts[:, 2].max()) if pts.shape[0] else TABLE_Z + 0.04
    offs = np.arange(-3, 4) * 0.008
    yaws = np.arange(12) * (math.pi / 12)
    depths = np.array([0.015, 0.025, 0.035])
    ox, oy, yw, dp = np.meshgrid(offs, offs, yaws, depths, indexing="ij")
    z = np.maximum(top - dp, TABLE_Z + MIN_GRASP_Z)
    return np.stack([centre[0] + ox.ravel(), centre[1] + oy.ravel(), yw.ravel(), z.ravel()], axis=1)


class GraspModel:
    """The grasp-success MLP (logit output) and its candidate selection."""

    def __init__(self, path: str | Path = WEIGHTS_PATH) -> None:
        """Load the weights.

        Raises:
            SkillLoadError: the weights are missing, corrupt or of the wrong shape.
        """
        try:
            arrays = load_npz(path, required=("W0", "b0"))
            self.mlp = MLP(arrays)
        except SkillLoadError as exc:
            raise SkillLoadError(
                f"{LEARNED_GRASP_ID}: {exc}. Recreate the weights with `{TRAIN_COMMAND}`"
            ) from exc
        if self.mlp.in_dim != N_FEATURES or self.mlp.out_dim != 1:
            raise SkillLoadError(
                f"{LEARNED_GRASP_ID}: weights {str(path)!r} map {self.mlp.in_dim} -> "
                f"{self.mlp.out_dim}, expected {N_FEATURES} -> 1. Recreate them with "
                f"`{TRAIN_COMMAND}`"
            )

    def score(self, points: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Predicted success probability of each candidate."""
        logits = self.mlp(grasp_features(points, candidates))[:, 0]
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30))))

    def best(self, points: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, float]:
        """The best candidate of :func:`candidate_grid` and its predicted probability.

        A single candidate's score is noisy; ranking by the mean over its neighbours (same yaw
        and depth, offsets one step apart) prefers grasps that tolerate a few mm of error, and
        a small penalty on the offset breaks ties towards the centre.
        """
        cand = candidate_grid(points, centre)
        prob = self.score(points, cand).reshape(7, 7, 12, 3)
        padded = np.pad(prob, ((1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")
        smooth = (
            sum(padded[1 + i : 8 + i, 1 + j : 8 + j] for i in (-1, 0, 1) for j in (-1, 0, 1)) / 9.0
        )
        offs = np.arange(-3, 4) * 0.008
        dist = np.hypot(offs[:, None], offs[None, :])[:, :, None, None]
        rank = 0.5 * prob + 0.5 * smooth - 0.5 * dist
        k = int(np.argmax(rank))
        return cand[k], float(prob.ravel()[k])


class LearnedGraspSkill(PickSkill):
    """Pick with a learned grasp pose; the motion is ``grasp/scripted-v1``'s.

    The goal is a :class:`PickGoal` (the same as the scripted grasp): the object detected
    nearest to ``goal.xyz`` is grasped; ``goal.yaw`` is ignored (the model chooses the yaw).
    If no object is seen near the goal, it grasps at the goal like the scripted skill.
    """

    id = LEARNED_GRASP_ID

    def __init__(
        self, weights: str | Path = WEIGHTS_PATH, *, model: GraspModel | None = None
    ) -> None:
        """Load the model (raises SkillLoadError if the weights are missing or corrupt).

        Args:
            weights: The weights file.
            model: An already loaded model (skips loading; evaluations share one).
        """
        super().__init__()
        self.model = model if model is not None else GraspModel(weights)

    def reset(self, world: TabletopWorld, goal: PickGoal) -> None:
        """Choose the grasp from the top camera, then plan the scripted motion to it."""
        chosen = goal
        info: dict[str, Any] = {}
        if world.arm.held_object() is None:
            target = self._target(world, goal)
            if target is not None:
                pts = world.object_points(target)
                if pts.shape[0] >= 5:
                    det_xy = (float(pts[:, 0].mean()), float(pts[:, 1].mean()))
                    (x, y, yaw, z), prob = self.model.best(pts, det_xy)
                    # PickSkill descends GRASP_DEPTH below its goal.
                    chosen = PickGoal((float(x), float(y), float(z) + GRASP_DEPTH), float(yaw))
                    info = {
                        "grasp_target": target,
                        "grasp_pose": [float(x), float(y), float(z), float(yaw)],
                        "grasp_probability": prob,
                    }
        super().reset(world, chosen)
        self._ctx.info.update(info)

    @staticmethod
    def _target(world: TabletopWorld, goal: PickGoal) -> str | None:
        best, best_d = None, _MATCH_RADIUS
        for name, det in world.detect().items():
            if det.kind not in ("block", "shape"):
                continue
            d = math.hypot(det.position[0] - goal.xyz[0], det.position[1] - goal.xyz[1])
            if d < best_d:
                best, best_d = name, d
        return best


# ---------------------------------------------------------------------------------------------
# Trials shared by data generation (train_grasp) and evaluation.

ObjKind = Literal["block", "shape"]


@dataclass(frozen=True)
class TrialOutcome:
    """One grasp trial: did it lift and hold the object through a shake."""

    success: bool
    reason: str
    sim_time: float
    grasp_error_m: float | None = None


def trial_scene(rng: np.random.Generator, kind: ObjKind, shape_index: int | None) -> SceneSpec:
    """One object at a random pose in the middle of the workspace."""
    color = list(COLORS)[int(rng.integers(len(COLORS)))]
    xy = (float(rng.uniform(0.42, 0.62)), float(rng.uniform(-0.15, 0.15)))
    if kind == "block":
        yaw = float(rng.uniform(-math.pi / 4, math.pi / 4))
        obj = ObjectSpec(name=f"{color} block", kind="block", color=color, position=xy, yaw=yaw)
    else:
        yaw = float(rng.uniform(-math.pi, math.pi))
        obj = ObjectSpec(
            name=f"{color} shape",
            kind="shape",
            color=color,
            position=xy,
            yaw=yaw,
            urdf=shape_index,
        )
    return SceneSpec(objects=[obj])


def grasp_trial(world: TabletopWorld, name: str, run: Any) -> TrialOutcome:
    """Run one grasp (``run(world) -> SkillResult``) and judge it: lifted, held, shaken, held.

    The shake is two fast 5 cm sideways moves; success needs the object still in the hand and
    at least 8 cm above the table afterwards (ground truth, for the label only).
    """
    t0 = world.sim_time
    try:
        res: SkillResult = run(world)
    except SafetyViolation as exc:
        return TrialOutcome(False, f"refused: {exc.rule}", world.sim_time - t0)
    if not res.ok:
        return TrialOutcome(False, f"{res.status}: {res.message}", world.sim_time - t0)
    ee = world.arm.ee_pos()
    for dy in (0.05, -0.05, 0.0):
        goal = MoveGoal((float(ee[0]), float(ee[1] + dy), float(ee[2])), speed=0.4)
        try:
            run_skill(MoveSkill(), world, goal)
        except SafetyViolation:
            break
    world.step(60)
    pose = world.true_poses()[name].position
    held = world.arm.held_object() == name
    lifted = pose[2] > TABLE_Z + _LIFTED_Z
    ok = held and lifted
    err = math.hypot(pose[0] - ee[0], pose[1] - ee[1] - 0.0) if ok else None
    reason = "held" if ok else ("dropped in the shake" if not held else "not lifted")
    return TrialOutcome(ok, reason, world.sim_time - t0, err)


def _skill_runner(skill_id: str) -> Any:
    if skill_id == SCRIPTED_GRASP_ID:
        return PickSkill
    if skill_id == LEARNED_GRASP_ID:
        model = GraspModel()  # load the weights once per evaluation
        return lambda: LearnedGraspSkill(model=model)
    from policywright.skills._registry import SkillRegistry

    registry = SkillRegistry.from_entry_points()  # fresh: plugins installed since
    registry.get(skill_id)  # unknown id: UnknownNameError with close matches
    return lambda: registry.create(skill_id)


def evaluate_grasp(skill_id: str, trials: int = 50, seed: int = 0) -> SkillEvalReport:
    """Seeded grasp trials on held-out shapes and on blocks, for any grasp variant.

    Trial ``t`` of each split uses ``numpy.random.default_rng([seed, split, t])`` for the object
    (a held-out shape index or a block), its colour, position and yaw, so two variants
    evaluated with the same ``(trials, seed)`` see exactly the same objects. Each trial builds
    a one-object world, detects the object, calls the skill with ``PickGoal(detected centre,
    yaw=0)`` (what the ``pick`` primitive does), then shakes the hand; success = still held and
    at least 8 cm above the table.

    Args:
        skill_id: ``"grasp/scripted-v1"`` or ``"grasp/learned-v1"``.
        trials: Trials per split (shapes and blocks each).
        seed: Seed of the trials.

    Returns:
        The report; ``details`` holds per-split success and the failure reasons.
    """
    factory = _skill_runner(skill_id)
    shapes = eval_shapes()
    results: dict[str, list[TrialOutcome]] = {"shapes": [], "blocks": []}
    failures: dict[str, list[str]] = {"shapes": [], "blocks": []}
    world = TabletopWorld(SceneSpec(objects=[]))
    try:
        for split_id, split in enumerate(("shapes", "blocks")):
            kind: ObjKind = "shape" if split == "shapes" else "block"
            for t in range(trials):
                rng = np.random.default_rng([seed, split_id, t])
                index = shapes[int(rng.integers(len(shapes)))] if kind == "shape" else None
                spec = trial_scene(rng, kind, index)
                world.reset(spec)
                name = spec.objects[0].name
                det = world.detect().get(name)
                if det is None:
                    out = TrialOutcome(False, "not detected", 0.0)
                else:
                    goal = PickGoal(det.position, 0.0)
                    out = grasp_trial(world, name, lambda w, g=goal: run_skill(factory(), w, g))
                results[split].append(out)
                if not out.success:
                    tag = f"urdf {index}" if index is not None else name
                    failures[split].append(f"trial {t} ({tag}): {out.reason}")
    finally:
        world.close()
    every = results["shapes"] + results["blocks"]
    errors = [o.grasp_error_m for o in every if o.grasp_error_m is not None]
    details: dict[str, Any] = {
        "trials_per_split": trials,
        "seed": seed,
        "held_out_shapes": f"random_urdfs indices % 10 == 0 ({len(shapes)} usable)",
    }
    for split, outs in results.items():
        n_ok = sum(o.success for o in outs)
        details[f"{split}_successes"] = n_ok
        details[f"{split}_success_rate"] = n_ok / len(outs) if outs else 0.0
        details[f"{split}_failures"] = failures[split]
    return SkillEvalReport(
        skill_id=skill_id,
        trials=len(every),
        successes=sum(o.success for o in every),
        precision=1000.0 * float(np.mean(errors)) if errors else None,
        precision_unit="mm mean xy offset of the held object's origin from the hand",
        sim_time_s=float(np.mean([o.sim_time for o in every])) if every else 0.0,
        details=details,
    )


def _smoke() -> None:
    """One learned grasp of a block in a fresh world; raises if it fails."""
    spec = trial_scene(np.random.default_rng(0), "block", None)
    with TabletopWorld(spec) as world:
        name = spec.objects[0].name
        det = world.detect()[name]
        res = run_skill(LearnedGraspSkill(), world, PickGoal(det.position, 0.0))
        if not res.ok:
            raise RuntimeError(f"{LEARNED_GRASP_ID} smoke grasp failed: {res.message}")


def _train(out_dir: str | Path | None = None, seed: int = 0) -> Path:
    from policywright.skills.train_grasp import TrainConfig, train

    out = Path(out_dir) / WEIGHTS_PATH.name if out_dir is not None else WEIGHTS_PATH
    return train(TrainConfig(seed=seed), out)


SKILL_INFOS: list[SkillInfo] = [
    SkillInfo(
        id=LEARNED_GRASP_ID,
        family="grasp",
        summary="top-down grasp chosen by an MLP that scores candidates from the top camera",
        world="tabletop",
        factory=LearnedGraspSkill,
        learned=True,
        evaluate=lambda trials, seed: evaluate_grasp(LEARNED_GRASP_ID, trials, seed),
        train=_train,
        smoke=_smoke,
        weights=(WEIGHTS_PATH,),
    )
]
