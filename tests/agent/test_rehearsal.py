"""Rehearsal: programs run in a twin built from perception before the real robot moves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policywright.agent.planner import PlanContext, Program
from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import TabletopWorld, sample_scene
from policywright.sim._twin import tabletop_twin, yaw_error

from .conftest import ScriptedPlanner, prog

pytestmark = pytest.mark.sim

CHECK_IN_BLUE = 'verdict(is_on("red block", "blue bowl"), "red block in the blue bowl")\n'
WRONG = prog('put_first_on_second("red block", "green bowl")\n', CHECK_IN_BLUE)
RIGHT = prog('put_first_on_second("red block", "blue bowl")\n', CHECK_IN_BLUE)


@pytest.fixture
def world() -> Any:
    spec = sample_scene(1, required=["red block", "blue bowl", "green bowl"], n_blocks=3, n_bowls=3)
    with TabletopWorld(spec) as w:
        yield w


def _engine(world: Any, tmp_path: Path, planner: Any, **cfg: Any) -> Engine:
    return Engine(world, EngineConfig(state_dir=tmp_path, **cfg), planner=planner)


def _real_calls(engine: Engine) -> list[dict[str, Any]]:
    """Calls that ran in the real world (call hooks never see a rehearsal)."""
    seen: list[dict[str, Any]] = []
    engine.call_hooks.append(lambda e: seen.append(e) if e["event"] == "call" else None)
    return seen


def test_wrong_first_program_never_moves_the_real_world(world: Any, tmp_path: Path) -> None:
    planner = ScriptedPlanner([WRONG, RIGHT])
    events: list[dict[str, Any]] = []
    with _engine(world, tmp_path, planner) as eng:
        real = _real_calls(eng)
        before = world.true_poses()
        result = eng.run("put the red block in the blue bowl", on_event=events.append)
    assert result.status == "succeeded", result.reason
    assert result.rehearsals == 2 and result.real_executions == 1
    # The real robot moved only for the right program, after the twin verified it.
    assert [c["args"] for c in real] == [["red block", "blue bowl"]]
    kinds = [e["event"] for e in events]
    assert kinds.count("execute") == 1
    first_ok = next(i for i, e in enumerate(events) if e["event"] == "rehearsed" and e["ok"])
    assert kinds.index("execute") > first_ok
    failed = [e for e in events if e["event"] == "rehearsed" and not e["ok"]]
    assert len(failed) == 1
    # The planner was told what the twin found, and that the robot did not move.
    feedback = planner.seen[1].feedback[-1]
    assert "rehearsal" in feedback and "did not move" in feedback
    # The first attempt is on record as a rehearsal failure; it did not spend the real budget.
    assert result.attempts[0]["outcome"] == "rehearsal_failed"
    after = world.true_poses()
    green = np.array(after["green bowl"].position[:2])
    red = np.array(after["red block"].position[:2])
    assert np.linalg.norm(red - green) > 0.08
    assert before["red block"].position != after["red block"].position


def test_literal_target_outside_the_workspace_is_refused_before_motion(
    world: Any, tmp_path: Path
) -> None:
    bad = prog('put_first_on_second("red block", [5.0, 0.0])\n', CHECK_IN_BLUE)
    with _engine(
        world, tmp_path, ScriptedPlanner([bad]), max_attempts=1, rehearsal_budget=1
    ) as eng:
        real = _real_calls(eng)
        before = world.true_poses()
        result = eng.run("put the red block far away")
    assert result.status == "failed"
    assert result.real_executions == 0 and not real
    assert "workspace" in result.attempts[0]["feedback"]
    after = world.true_poses()
    for name, pose in before.items():
        assert np.allclose(pose.position, after[name].position, atol=2e-3), name


def test_no_rehearse_runs_the_first_program_for_real(world: Any, tmp_path: Path) -> None:
    planner = ScriptedPlanner([WRONG, RIGHT])
    with _engine(world, tmp_path, planner, rehearse=False, max_attempts=2) as eng:
        real = _real_calls(eng)
        result = eng.run("put the red block in the blue bowl")
    assert result.rehearsals == 0 and result.real_executions == 2
    assert real[0]["args"] == ["red block", "green bowl"]


def test_offline_candidates_rehearse_in_turn(world: Any, tmp_path: Path) -> None:
    class Candidates(ScriptedPlanner):
        def candidates(self, ctx: PlanContext, k: int) -> list[Program]:
            self.seen.append(ctx)
            return [WRONG, RIGHT][:k]

    planner = Candidates([WRONG])
    events: list[dict[str, Any]] = []
    with _engine(world, tmp_path, planner, candidates=2) as eng:
        result = eng.run("put the red block in the blue bowl", on_event=events.append)
    assert result.status == "succeeded"
    # One planner call, two rehearsals, one real execution, one attempt.
    assert len(planner.seen) == 1
    assert result.rehearsals == 2 and result.real_executions == 1
    assert [a["outcome"] for a in result.attempts] == ["succeeded"]
    assert [r["ok"] for r in result.attempts[0]["rehearsal"]] == [False, True]


def test_the_twin_is_built_from_detections(world: Any) -> None:
    detections = world.detect()
    twin = tabletop_twin(world, detections)
    try:
        real, copy = world.true_poses(), twin.true_poses()
        for name, pose in real.items():
            d = math.dist(pose.position, copy[name].position)
            assert d < 0.006, (name, d)
        for name in ("red block",):
            ry = twin.client.getEulerFromQuaternion(real[name].orientation)[2]
            ty = twin.client.getEulerFromQuaternion(copy[name].orientation)[2]
            assert yaw_error(ry, ty) < math.radians(5)
    finally:
        twin.close()
    # Perturb one detection: the twin follows perception, not the real world's poses.
    red = detections["red block"]
    moved = red.model_copy(
        update={"position": (red.position[0] + 0.05, red.position[1], red.position[2])}
    )
    twin = tabletop_twin(world, {**detections, "red block": moved})
    try:
        x_twin = twin.true_poses()["red block"].position[0]
        x_real = world.true_poses()["red block"].position[0]
        assert abs((x_twin - x_real) - 0.05) < 0.006
    finally:
        twin.close()
    # An object perception does not report is not in the twin at all.
    missing = {k: v for k, v in detections.items() if k != "red block"}
    twin = tabletop_twin(world, missing)
    try:
        assert "red block" not in twin.true_poses()
    finally:
        twin.close()


def test_a_stacked_block_is_placed_at_its_perceived_height(tmp_path: Path) -> None:
    spec = sample_scene(2, required=["red block", "blue block"], n_blocks=2, n_bowls=1)
    with TabletopWorld(spec) as w, Engine(w, EngineConfig(state_dir=tmp_path)) as eng:
        result = eng.run("put the red block on the blue block")
        assert result.status == "succeeded", result.reason
        twin = tabletop_twin(w)
        try:
            z_real = w.true_poses()["red block"].position[2]
            z_twin = twin.true_poses()["red block"].position[2]
            assert abs(z_real - z_twin) < 0.006
        finally:
            twin.close()


def test_a_scripted_model_whose_first_program_is_wrong(world: Any, tmp_path: Path) -> None:
    """The LLM planner end to end: the real world moves only for the model's second program."""
    from policywright.agent.llm import ScriptedChatModel
    from policywright.agent.planner import LLMPlanner, ProgramMemory
    from policywright.primitives import default_registry

    def reply(target: str) -> str:
        return (
            f"```python\nput_first_on_second('red block', '{target}')\n```\n"
            f"```python check\n{CHECK_IN_BLUE}```\n"
        )

    model = ScriptedChatModel.of(reply("green bowl"), reply("blue bowl"))
    planner = LLMPlanner(
        model,
        ProgramMemory(tmp_path / "memory.sqlite"),
        registry=default_registry().for_world("tabletop"),
        plan_cache=False,
    )
    with _engine(world, tmp_path, planner) as eng:
        real = _real_calls(eng)
        result = eng.run("put the red block in the blue bowl")
    assert result.status == "succeeded", result.reason
    assert len(model.requests) == 2
    assert result.rehearsals == 2 and result.real_executions == 1
    assert [c["args"] for c in real] == [["red block", "blue bowl"]]
    # The second request was the repair prompt, with what the twin found.
    repair = model.requests[1].messages[-1].plain_text()
    assert "rehearsal" in repair and "did not move" in repair
    assert model.requests[0].reply_format == "program"
