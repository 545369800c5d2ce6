"""Tasks and answers apart in a live session (chat and the web UI share it; issue 13 item 4).

Before the fix, a new command typed while a question waited was taken as its answer, and STOP
while waiting answered the question with "stop" (the task ended "gave up").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
AMBIGUOUS = "put the red block in the blue bowl"  # two red blocks: the task asks which


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    from policywright._private.live import LiveSession

    world = TabletopWorld(SceneSpec.model_validate(SCENE))
    engine = Engine(world, EngineConfig(state_dir=tmp_path / "state", ask_on_failure=True))
    session = LiveSession(engine, session="web", frame_hz=0)
    yield session
    session.close()
    engine.close()
    world.close()


def _until(sub: Any, pred: Any, limit: int = 3000) -> list[dict[str, Any]]:
    seen = []
    for _ in range(limit):
        e = sub.get(timeout=0.1)
        if e is None:
            continue
        seen.append(e)
        if pred(e):
            return seen
    raise AssertionError(f"event never came; saw {[x.get('event') for x in seen][-20:]}")


def _result(sub: Any) -> dict[str, Any]:
    return _until(sub, lambda e: e.get("event") == "result")[-1]


def _status(live: Any, thread: str) -> str:
    return next(t["status"] for t in live.threads() if t["thread_id"] == thread)


def test_a_new_command_while_a_question_waits_is_not_its_answer(live: Any) -> None:
    sub = live.subscribe()
    live.submit(AMBIGUOUS)
    asked = _result(sub)
    assert asked["status"] == "waiting" and asked["thread_id"] == "web-1"
    ack = live.submit("put the red block 2 in the green bowl")
    assert ack["as"] == "command" and ack["put_aside"] == "web-1"
    done = _result(sub)
    assert done["thread_id"] == "web-2" and done["status"] == "succeeded", done["reason"]
    assert done["command"] == "put the red block 2 in the green bowl"
    assert _status(live, "web-1") == "waiting"  # put aside, not answered
    # The question comes back on request and then takes the answer.
    back = live.resume("web-1")
    assert back["accepted"] and live.waiting is not None
    assert _result(sub)["status"] == "waiting"  # the question shown again
    assert live.submit("red block")["as"] == "answer"
    answered = _result(sub)
    assert answered["thread_id"] == "web-1" and answered["status"] == "succeeded"


def test_stop_while_waiting_ends_the_wait_cleanly(live: Any) -> None:
    sub = live.subscribe()
    live.submit(AMBIGUOUS)
    assert _result(sub)["status"] == "waiting"
    ack = live.stop()
    assert ack["as"] == "put-aside" and "nothing is moving" in ack["message"]
    assert live.waiting is None and live.state == "idle"
    _until(sub, lambda e: e.get("event") == "state" and e["state"] == "idle")
    assert _status(live, "web-1") == "waiting"  # never answered with "stop"
    # The new-task action does the same, and the next text is a command.
    live.resume("web-1")
    assert _result(sub)["status"] == "waiting"
    assert live.new_task()["as"] == "put-aside"
    assert live.submit("put the red block 2 in the blue bowl")["as"] == "command"
    assert _result(sub)["thread_id"] == "web-2"


def test_reads_as_command() -> None:
    from policywright._private.live import reads_as_command

    names = ("red block", "blue bowl", "landmark a")
    for text in (
        "put the red block in the green bowl",
        "stack all the blocks",
        "Put the yellow block on the red block",
        "walk to landmark a",
    ):
        assert reads_as_command(text, names), text
    for text in (
        "continue",
        "abort",
        "the red one",
        "red block 2",
        "give up",
        "put it a bit closer to the bowl",  # a hint about the last try
        "a bit to the left",
    ):
        assert not reads_as_command(text, names), text


def test_stop_after_the_task_finished_does_not_reopen_it(live: Any) -> None:
    # Was (issue 13 why-1): "stop" typed just after the end turned the finished task into
    # "waiting", and "continue" then said "the task already finished".
    sub = live.subscribe()
    live.submit("put the red block 2 in the blue bowl")
    assert _result(sub)["status"] == "succeeded"
    _until(sub, lambda e: e.get("event") == "state" and e["state"] == "idle")
    ack = live.submit("stop")
    assert not ack["accepted"] and "nothing is moving" in ack["message"]
    assert _status(live, "web-1") == "succeeded" and live.waiting is None


def test_a_high_level_correction_after_the_task_goes_to_that_task(live: Any) -> None:
    """Issue 16 item 3: "no, the green bowl" after a finished task corrects that task."""
    sub = live.subscribe()
    ack = live.submit("put the red block 2 in the blue bowl")
    assert ack["as"] == "command" and ack["message"] == "new task"
    first = _result(sub)
    assert first["status"] == "succeeded", first["reason"]
    ack = live.submit("no, the green bowl")
    assert ack["as"] == "correction" and ack["message"] == f"correcting {first['thread_id']}"
    fixed = _result(sub)
    assert fixed["thread_id"] == first["thread_id"] and fixed["status"] == "succeeded"
    poses = live.engine.world.true_poses()
    block, bowl = poses["red block 2"].position, poses["green bowl"].position
    assert ((block[0] - bowl[0]) ** 2 + (block[1] - bowl[1]) ** 2) ** 0.5 < 0.06
    # A plain command is a new task.
    assert live.submit("put the red block in the blue bowl")["as"] == "command"


def test_correction_openers() -> None:
    from policywright._private.live import _reads_as_high_level_correction as reads

    for text in ("no, the green bowl", "No the other bowl", "instead use the blue bowl",
                 "the other bowl", "Actually, the red one"):  # fmt: skip
        assert reads(text), text
    for text in ("put the red block in the bowl", "stack all the blocks", "nothing"):
        assert not reads(text), text
