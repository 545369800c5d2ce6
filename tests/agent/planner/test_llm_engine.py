"""LLMPlanner inside the engine: repair after a runtime error, codegen, learning, plan cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywright.agent.llm import ScriptedChatModel
from policywright.agent.planner import LLMPlanner, ProgramMemory
from policywright.config import EngineConfig
from policywright.engine import Engine

BROKEN = """```python
blocks = get_obj_names()
first = blocks[99]
put_first_on_second(first, 'blue bowl')
```
```python check
verdict(is_on('red block', 'blue bowl'), 'red block in blue bowl')
```"""
FIXED = """The index was out of range; I now name the block directly.
```python
move_block_into_bowl('red block', 'blue bowl')
```
```python check
d = dist_xy(get_obj_pos('red block'), get_obj_pos('blue bowl'))
reason = 'red block is ' + str(round(d * 100, 1)) + ' cm from the bowl centre'
verdict(is_on('red block', 'blue bowl'), reason)
```"""
HELPER = """```python
def move_block_into_bowl(block, bowl):
    if not is_obj_visible(block):
        say('I cannot see the ' + block)
        return
    put_first_on_second(block, bowl)
```"""


@pytest.mark.sim
def test_llm_planner_repairs_writes_helpers_learns_and_reuses(
    tabletop: object, shared_sandbox: object, tmp_path: Path
) -> None:
    model = ScriptedChatModel.of(BROKEN, FIXED, HELPER)
    memory = ProgramMemory(tmp_path / "memory.sqlite")
    planner = LLMPlanner(model, memory)
    config = EngineConfig(state_dir=tmp_path, max_attempts=3)
    eng = Engine(tabletop, config, planner=planner, sandbox=shared_sandbox)  # type: ignore[arg-type]
    first = eng.run("put the red block in the blue bowl")
    assert first.status == "succeeded", first.reason
    assert [r.purpose for r in model.requests] == ["plan", "repair", "function"]
    repair = model.requests[1].messages[1].plain_text()
    assert 'program line 2: "first = blocks[99]"' in repair and "IndexError" in repair
    assert (
        "attempt=2 repair wrote=move_block_into_bowl library=dist_xy"
        in (first.attempts[-1]["program"]["provenance"])
    )
    # The engine recorded the verified success: plan and helper are stored.
    assert [p.command for p in memory.plans()] == ["put the red block in the blue bowl"]
    assert "move_block_into_bowl" in memory.functions()
    # Same command, same objects: the plan cache answers, the model is not called again.
    second = eng.run("Put the red block in the blue bowl.")
    assert second.status == "succeeded", second.reason
    assert len(model.requests) == 3
    assert second.attempts[0]["program"]["provenance"].startswith("plan-cache hit #1")
    eng.close()
