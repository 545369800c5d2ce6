"""Session and thread ids advance after every task, however it ended (issue 13, item 2).

Before the fix a session turn was written only for a task that ended without waiting, so a
task that was stopped and continued, or answered, left the next id unchanged: every later
command failed with "thread 'chat-1' already exists".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policywright.agent.planner import PlanContext, Program
from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import SceneSpec, TabletopWorld

pytestmark = pytest.mark.sim

SCENE = {
    "objects": [
        {"name": "red block", "color": "red", "kind": "block", "position": [0.45, 0.12]},
        {"name": "red block 2", "color": "red", "kind": "block", "position": [0.40, 0.0]},
        {"name": "blue bowl", "color": "blue", "kind": "bowl", "position": [0.60, 0.10]},
        {"name": "green bowl", "color": "green", "kind": "bowl", "position": [0.58, -0.12]},
    ]
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    world = TabletopWorld(SceneSpec.model_validate(SCENE))
    eng = Engine(world, EngineConfig(state_dir=tmp_path / "state", ask_on_failure=True))
    yield eng
    eng.close()
    world.close()


def _stop_at_first_put(engine: Engine) -> None:
    def hook(e: dict[str, Any]) -> None:
        # Call hooks run in the graph's thread before the skill moves: the stop is in force
        # at the skill's first control step.
        if e["event"] == "call_start" and e["name"] == "put_first_on_second":
            engine.post_correction("stop")
            engine.call_hooks.remove(hook)

    engine.call_hooks.append(hook)


def test_stopped_then_continued_task_advances_the_id(engine: Engine) -> None:
    _stop_at_first_put(engine)
    first = engine.run("put the red block 2 in the blue bowl", session="chat")
    assert first.status == "waiting" and first.thread_id == "chat-1"
    done = engine.resume("chat-1", "continue")
    assert done.status == "succeeded", done.reason
    second = engine.run("put the red block 2 in the green bowl", session="chat")
    assert second.thread_id == "chat-2", second.reason
    turns = engine.sessions.turns("chat")
    assert [t["thread_id"] for t in turns] == ["chat-1", "chat-2"]
    # The continued task's turn says how it ended and what ran (follow-ups plan with it).
    assert turns[0]["outcome"] == "succeeded"
    assert "put_first_on_second" in turns[0]["program"]
    assert turns[0]["scene_before"]


def test_answered_question_and_a_fresh_engine_on_the_same_folder(engine: Engine) -> None:
    waiting = engine.run("put the red block in the blue bowl", session="chat")
    assert waiting.status == "waiting" and waiting.thread_id == "chat-1"
    assert engine.sessions.turns("chat")[0]["outcome"].startswith("waiting: Which one")
    engine.resume("chat-1", "red block 2")
    # A new `chat` on the same folder: a second engine over the same state dir.
    with Engine(engine.world, engine.config) as again:
        nxt = again.run("put the red block in the green bowl", session="chat")
        assert nxt.thread_id == "chat-2"


class _Useless:
    """A planner whose program never achieves anything: the budget is spent, it asks."""

    name = "useless"

    def write(self, ctx: PlanContext) -> Program:
        return Program(code="say('hmm')\n", check_code='verdict(False, "no")\n', provenance="x")


def test_given_up_task_advances_the_id(tmp_path: Path) -> None:
    world = TabletopWorld(SceneSpec.model_validate(SCENE))
    cfg = EngineConfig(state_dir=tmp_path, max_attempts=1, ask_on_failure=True, rehearsal_budget=0)
    with Engine(world, cfg, planner=_Useless()) as eng:  # type: ignore[arg-type]
        waiting = eng.run("put the red block 2 in the blue bowl", session="s")
        assert waiting.status == "waiting" and waiting.question["kind"] == "budget"
        gave_up = eng.resume(waiting.thread_id, "give up")
        assert gave_up.status == "failed"
        assert eng.sessions.turns("s")[0]["outcome"].startswith("failed: gave up")
        assert eng.run("put the red block 2 in the blue bowl", session="s").thread_id == "s-2"
    world.close()


class _Crashing:
    """A planner with a bug: the task ends with an exception, not a result."""

    name = "crashing"

    def write(self, ctx: PlanContext) -> Program:
        raise RuntimeError("planner bug")


def test_crashed_task_advances_the_id(tmp_path: Path) -> None:
    world = TabletopWorld(SceneSpec.model_validate(SCENE))
    cfg = EngineConfig(state_dir=tmp_path)
    with Engine(world, cfg, planner=_Crashing()) as eng:  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="planner bug"):
            eng.run("put the red block 2 in the blue bowl", session="s")
        assert eng.sessions.turns("s")[0]["outcome"] == "failed: planner bug"
    with Engine(world, cfg) as eng:
        assert eng.run("put the red block 2 in the blue bowl", session="s").thread_id == "s-2"
    world.close()


def test_an_older_folder_without_turns_skips_existing_ids(engine: Engine) -> None:
    # A state folder written before the fix: the thread exists, its turn does not.
    engine.journal.thread_started("chat-1", "stack all the blocks", "chat")
    assert engine.run("put the red block 2 in the blue bowl", session="chat").thread_id == (
        "chat-2"
    )
