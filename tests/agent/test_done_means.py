"""The issue's acceptance runs: four commands over seeds 0-9 with the offline planner."""

from __future__ import annotations

import pytest

from policywright.config import EngineConfig
from policywright.engine import Engine, scene_for_command
from policywright.sim import TabletopWorld

COMMANDS = [
    "put the red block in the blue bowl",
    "stack all the blocks",
    "put all the blocks in the bowls with matching colors",
    "put all the blocks on the top left corner",
]


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("command", COMMANDS)
def test_command_succeeds(command, seed, shared_sandbox, tmp_path):
    spec = scene_for_command(command, seed=seed)
    with TabletopWorld(spec) as world:
        eng = Engine(world, EngineConfig(state_dir=tmp_path), sandbox=shared_sandbox)
        result = eng.run(command)
        eng.close()
    assert result.status == "succeeded", (result.reason, result.attempts[-1])
    # The offline planner's programs should work on the first attempt.
    assert len(result.attempts) == 1
