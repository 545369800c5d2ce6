"""Literal targets outside the safety limits are refused before any motion (issue 13 item 7).

Before: a program placing at [5.0, 0.0] picked the block up, was refused "workspace" when the
place began, and put it down again.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from policywright.agent._literal_targets import literal_target_violations
from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import SceneSpec, TabletopWorld
from policywright.sim._safety import SafetyLimits

from .conftest import ScriptedPlanner, prog

WORLD = SimpleNamespace(safety=SafetyLimits())


@pytest.mark.parametrize(
    ("code", "rules"),
    [
        ("put_first_on_second('red block', [5.0, 0.0])\n", ["safety:workspace"]),
        ("put_first_on_second([0.1, 0.0], 'blue bowl')\n", ["safety:workspace"]),
        ("place(target=[0.5, -0.9])\n", ["safety:workspace"]),
        ("move_ee_to([0.17, 0.0, 0.7])\n", ["safety:keep-out"]),
        ("move_ee_to((0.5, 0.0, 5))\n", ["safety:workspace"]),
        # Inside the limits, computed, or not coordinates: nothing to say before the run.
        ("put_first_on_second('red block', [0.5, 0.1])\n", []),
        ("x = 5.0\nput_first_on_second('red block', [x, 0.0])\n", []),
        ("put_first_on_second('red block', 'blue bowl')\n", []),
        ("walk(5.0, 0.0)\n", []),
        ("def (:\n", []),  # a syntax error is the static checks' to report
    ],
)
def test_literal_targets_against_the_limits(code: str, rules: list[str]) -> None:
    found = literal_target_violations(code, WORLD)
    assert [v.rule for v in found] == rules
    for v in found:
        assert v.line >= 1 and "refused before any motion" in v.message


def test_worlds_without_arm_limits_are_not_checked() -> None:
    assert literal_target_violations("move_ee_to([9, 9, 9])\n", SimpleNamespace()) == []


@pytest.mark.sim
def test_the_robot_never_moves_for_a_literal_target_outside_the_workspace(tmp_path: Path) -> None:
    scene = {
        "objects": [
            {"name": "red block", "color": "red", "kind": "block", "position": [0.45, 0.12]},
            {"name": "blue bowl", "color": "blue", "kind": "bowl", "position": [0.60, 0.10]},
        ]
    }
    world = TabletopWorld(SceneSpec.model_validate(scene))
    far = prog("put_first_on_second('red block', [5.0, 0.0])\n")
    # No rehearsal: the refusal must come from the static check, not from the twin.
    cfg = EngineConfig(state_dir=tmp_path, max_attempts=1, rehearse=False)
    before = np.asarray(world.true_poses()["red block"].position)
    with Engine(world, cfg, planner=ScriptedPlanner([far])) as eng:
        events: list[dict] = []
        result = eng.run("put the red block far away", on_event=events.append)
        assert result.status == "failed"
        assert result.attempts[0]["outcome"] == "refused"
        assert "safety:workspace" in result.attempts[0]["feedback"]
        assert result.real_executions == 0
        assert not [e for e in events if e.get("event") in ("call_start", "call")]
        assert eng.journal.calls(result.thread_id) == []
    assert np.allclose(np.asarray(world.true_poses()["red block"].position), before, atol=1e-4)
    world.close()
