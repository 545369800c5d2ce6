"""grasp/learned-v1: weights, candidate features, grasps in the sim, the pick primitive."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from policywright.errors import SkillLoadError
from policywright.primitives._context import PrimitiveContext
from policywright.primitives.builtin import TABLETOP_PRIMITIVES
from policywright.sim import TABLE_Z, ObjectSpec, SceneSpec, TabletopWorld
from policywright.sim._shapes import eval_shapes
from policywright.skills import PickGoal, run_skill
from policywright.skills._grasp_learned import (
    LEARNED_GRASP_ID,
    N_FEATURES,
    SKILL_INFOS,
    WEIGHTS_PATH,
    GraspModel,
    LearnedGraspSkill,
    candidate_grid,
    evaluate_grasp,
    grasp_features,
)
from policywright.skills._mlp import load_npz, save_mlp

log = logging.getLogger(__name__)


def test_weights_load_with_the_right_shapes() -> None:
    arrays = load_npz(WEIGHTS_PATH, required=("W0", "b0", "x_mean", "x_std", "meta"))
    assert arrays["W0"].shape[0] == N_FEATURES
    assert arrays["W0"].dtype == np.float32
    n = sum(1 for k in arrays if k.startswith("W"))
    assert arrays[f"W{n - 1}"].shape[1] == 1
    assert WEIGHTS_PATH.stat().st_size < 5 * 1024 * 1024
    meta = json.loads(str(arrays["meta"]))
    assert meta["skill"] == LEARNED_GRASP_ID and "i % 10 == 0" in meta["split"]
    model = GraspModel()
    assert model.mlp.in_dim == N_FEATURES and model.mlp.out_dim == 1


def test_missing_corrupt_or_misshapen_weights_raise(tmp_path: Path) -> None:
    with pytest.raises(SkillLoadError, match=r"missing.*train_grasp"):
        LearnedGraspSkill(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(SkillLoadError, match=r"corrupt.*train_grasp"):
        LearnedGraspSkill(bad)
    wrong = save_mlp(tmp_path / "wrong.npz", [np.zeros((3, 1))], [np.zeros(1)])
    with pytest.raises(SkillLoadError, match=f"expected {N_FEATURES} -> 1"):
        GraspModel(wrong)


def test_features_and_candidates() -> None:
    rng = np.random.default_rng(0)
    # A 6 x 2 cm bar lying along x, 3 cm tall.
    pts = np.stack(
        [
            rng.uniform(0.47, 0.53, 400),
            rng.uniform(-0.01, 0.01, 400),
            np.full(400, TABLE_Z + 0.03),
        ],
        axis=1,
    )
    cand = candidate_grid(pts, (0.5, 0.0))
    assert cand.shape == (7 * 7 * 12 * 3, 4)
    assert np.all(cand[:, 3] >= TABLE_Z + 0.01)
    feats = grasp_features(pts, cand)
    assert feats.shape == (cand.shape[0], N_FEATURES) and np.all(np.isfinite(feats))
    # Width between the fingers: ~2 cm across the bar (yaw 0 closes along y), ~6 cm along it.
    across = grasp_features(pts, np.array([[0.5, 0.0, 0.0, TABLE_Z + 0.02]]))[0]
    along = grasp_features(pts, np.array([[0.5, 0.0, np.pi / 2, TABLE_Z + 0.02]]))[0]
    assert across[0] == pytest.approx(0.02, abs=0.003)
    assert along[0] == pytest.approx(0.06, abs=0.003)
    assert grasp_features(np.zeros((0, 3)), cand[:2]).shape == (2, N_FEATURES)


def test_skill_info() -> None:
    (info,) = SKILL_INFOS
    assert info.id == LEARNED_GRASP_ID and info.family == "grasp" and info.learned
    assert info.evaluate is not None and info.train is not None and info.smoke is not None
    assert isinstance(info.factory(), LearnedGraspSkill)


@pytest.fixture(scope="module")
def world() -> Iterator[TabletopWorld]:
    with TabletopWorld(SceneSpec(objects=[])) as w:
        yield w


def _one(kind: str, urdf: int | None = None) -> SceneSpec:
    return SceneSpec(
        objects=[
            ObjectSpec(
                name=f"blue {kind}",
                kind=kind,  # type: ignore[arg-type]
                color="blue",
                position=(0.52, 0.05),
                yaw=0.4,
                urdf=urdf,
            )
        ]
    )


@pytest.mark.sim
def test_learned_grasp_of_a_block_succeeds(world: TabletopWorld) -> None:
    world.reset(_one("block"))
    det = world.detect()["blue block"]
    res = run_skill(LearnedGraspSkill(), world, PickGoal(det.position, 0.0))
    assert res.ok, res.message
    assert res.info["held_object"] == "blue block"
    assert res.info["grasp_target"] == "blue block"
    assert 0.0 <= res.info["grasp_probability"] <= 1.0
    assert world.true_poses()["blue block"].position[2] > TABLE_Z + 0.1
    assert 1.0 < res.sim_time < 8.0


@pytest.mark.sim
def test_learned_grasp_of_a_held_out_shape_runs(world: TabletopWorld) -> None:
    world.reset(_one("shape", eval_shapes()[3]))
    det = world.detect()["blue shape"]
    res = run_skill(LearnedGraspSkill(), world, PickGoal(det.position, 0.0))
    assert res.status in ("ok", "failed")
    assert res.info["grasp_target"] == "blue shape"
    x, y, z, _ = res.info["grasp_pose"]
    assert np.hypot(x - det.position[0], y - det.position[1]) < 0.04
    assert z >= TABLE_Z + 0.01
    assert res.sim_time < 8.0


@pytest.mark.sim
def test_pick_primitive_honours_the_skill_selection(world: TabletopWorld) -> None:
    spec = next(s for s in TABLETOP_PRIMITIVES if s.name == "pick")
    calls: list[str] = []
    original = LearnedGraspSkill.reset

    def spy(self: LearnedGraspSkill, w: TabletopWorld, goal: PickGoal) -> None:
        calls.append(self.id)
        original(self, w, goal)

    for skill_id, learned in (("grasp/learned-v1", True), ("grasp/scripted-v1", False)):
        world.reset(_one("block"))
        ctx = PrimitiveContext(world=world, skills={"grasp": skill_id})
        calls.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(LearnedGraspSkill, "reset", spy)
            spec.func(ctx, **spec.validate(["blue block"], {}))
        assert world.arm.held_object() == "blue block"
        assert calls == ([LEARNED_GRASP_ID] if learned else [])


@pytest.mark.sim
@pytest.mark.slow
def test_small_evaluation_learned_beats_scripted_on_held_out_shapes() -> None:
    learned = evaluate_grasp(LEARNED_GRASP_ID, trials=10, seed=1)
    scripted = evaluate_grasp("grasp/scripted-v1", trials=10, seed=1)
    log.warning("learned %s", learned.details)
    log.warning("scripted %s", scripted.details)
    assert learned.trials == scripted.trials == 20
    assert learned.details["shapes_successes"] >= scripted.details["shapes_successes"]
    assert learned.details["blocks_successes"] >= scripted.details["blocks_successes"] - 1
    assert 0.0 < learned.sim_time_s < 15.0


@pytest.mark.sim
def test_smoke_runs() -> None:
    (info,) = SKILL_INFOS
    assert info.smoke is not None
    info.smoke()
