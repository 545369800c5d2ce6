"""Corrections, questions and threads through the real engine (offline planner, PyBullet)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.errors import UnknownThreadError, UserError
from policywright.sim import SceneSpec, TabletopWorld

from .conftest import ScriptedPlanner, prog

pytestmark = pytest.mark.sim

SCENE = {
    "objects": [
        {"name": "red block", "color": "red", "kind": "block", "position": [0.45, 0.12]},
        {"name": "yellow block", "color": "yellow", "kind": "block", "position": [0.42, -0.15]},
        {"name": "blue bowl", "color": "blue", "kind": "bowl", "position": [0.60, 0.10]},
        {"name": "green bowl", "color": "green", "kind": "bowl", "position": [0.58, -0.12]},
    ]
}


def _world(extra: list[dict[str, Any]] | None = None) -> TabletopWorld:
    data = {"objects": [*SCENE["objects"], *(extra or [])]}
    return TabletopWorld(SceneSpec.model_validate(data))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    world = _world()
    eng = Engine(world, EngineConfig(state_dir=tmp_path / "state"))
    yield eng
    eng.close()
    world.close()


def _xy(eng: Engine, name: str) -> np.ndarray:
    return np.asarray(eng.world.true_poses()[name].position[:2])


def test_nudge_after_the_last_action_moves_the_result_and_is_learned(
    engine: Engine, tmp_path: Path
) -> None:
    events: list[dict[str, Any]] = []
    first = engine.run("put the red block in the blue bowl", on_event=events.append)
    assert first.status == "succeeded"
    before = _xy(engine, "red block")
    fixed = engine.correct(first.thread_id, "a bit more to the left", on_event=events.append)
    assert fixed.status == "succeeded", fixed.reason
    assert fixed.corrections[-1]["status"] == "applied"
    after = _xy(engine, "red block")
    bowl = _xy(engine, "blue bowl")
    # "a bit" is 2 cm along +y (the robot's left) from where the block was aimed (the bowl).
    assert after[1] - bowl[1] == pytest.approx(0.02, abs=0.012)
    assert after[1] > before[1]
    assert any(e.get("event") == "correction" for e in events)

    # Learned: a fresh world from the same scene, the same state dir -> no correction needed.
    world2 = _world()
    with Engine(world2, engine.config) as eng2:
        again = eng2.run("put the red block in the blue bowl")
        assert again.status == "succeeded"
        assert "lesson" in again.attempts[-1]["program"]["provenance"]
        assert "shift_target" in again.attempts[-1]["program"]["code"]
        moved = np.asarray(world2.true_poses()["red block"].position[:2])
        assert moved[1] - bowl[1] == pytest.approx(0.02, abs=0.012)
    world2.close()


def test_stop_halts_within_one_control_step_then_continue(engine: Engine) -> None:
    marks: dict[str, float] = {}
    trace: list[str] = []

    def on_event(e: dict[str, Any]) -> None:
        trace.append(
            f"{e.get('event')} {e.get('name', '')} {engine.world.sim_time:.4f} {e.get('error', '')}"
        )
        if e.get("event") == "call_start" and e["name"] == "put_first_on_second":
            # Let the arm move for 0.25 s of sim time, then say stop from "another" front end
            # (this callback runs in the caller's thread; the skill steps in the graph's).
            t0 = engine.world.sim_time
            deadline = time.monotonic() + 60
            while engine.world.sim_time < t0 + 0.25 and time.monotonic() < deadline:
                time.sleep(0.001)
            marks["posting"] = engine.world.sim_time
            ack = engine.post_correction("stop!")
            # This callback runs in the caller's thread while the skill keeps stepping in the
            # graph's: the stop is in force from the moment post_correction returns.
            marks["posted"] = engine.world.sim_time
            assert ack.accepted and ack.kind == "stop", ack.message
        if e.get("event") == "preempted":
            marks.setdefault("stopped", engine.world.sim_time)

    result = engine.run("put the red block in the green bowl", on_event=on_event)
    assert result.status == "waiting"
    assert result.question and result.question["kind"] == "stopped"
    # The skill polls the stop flag every control step (60 Hz): at most one step of motion
    # after the acknowledgement.
    assert marks["stopped"] - marks["posted"] <= 1 / 60 + 1e-6, (marks, trace)
    done = engine.resume(result.thread_id, "continue")
    assert done.status == "succeeded", done.reason
    assert [c["kind"] for c in done.corrections][:1] == ["stop"]
    rows = engine.journal.calls(result.thread_id, 1)
    assert [r.status for r in rows if r.name == "put_first_on_second"] == ["done"]


def test_high_level_correction_replans_with_a_slot_edit_and_is_learned(engine: Engine) -> None:
    first = engine.run("put the red block in the blue bowl")
    assert first.status == "succeeded"
    fixed = engine.correct(first.thread_id, "no, the green bowl")
    assert fixed.status == "succeeded", fixed.reason
    assert fixed.command == "put the red block in the green bowl"
    assert np.linalg.norm(_xy(engine, "red block") - _xy(engine, "green bowl")) < 0.06
    world2 = _world()
    with Engine(world2, engine.config) as eng2:
        again = eng2.run("put the red block in the blue bowl")
        assert "lesson" in again.attempts[-1]["program"]["provenance"]
        pos = np.asarray(world2.true_poses()["red block"].position[:2])
        assert (
            np.linalg.norm(pos - np.asarray(world2.true_poses()["green bowl"].position[:2])) < 0.06
        )
    world2.close()


def test_corrections_that_cannot_be_applied_say_why(engine: Engine) -> None:
    first = engine.run("put the red block in the blue bowl")
    r1 = engine.correct(first.thread_id, "no, the purple bowl")
    assert r1.corrections[-1]["status"] == "rejected"
    assert "no purple bowl" in r1.corrections[-1]["message"]
    r2 = engine.correct(first.thread_id, "put it next to the cup instead")
    assert r2.corrections[-1]["status"] == "rejected"
    assert "needs an LLM" in r2.corrections[-1]["message"]
    assert len(r2.corrections) == 2  # both kept in the record
    with pytest.raises(UserError):
        engine.correct(first.thread_id, "   ")


def test_posting_with_no_task_running_or_gibberish_is_refused(engine: Engine) -> None:
    ack = engine.post_correction("a bit to the left")
    assert not ack.accepted and "no task is running" in ack.message
    ack = engine.post_correction("")
    assert not ack.accepted


def test_many_corrections_at_once_none_lost(engine: Engine) -> None:
    acks = []

    def on_event(e: dict[str, Any]) -> None:
        if e.get("event") == "call_start" and not acks:
            acks.extend(engine.post_correction("slower") for _ in range(40))

    result = engine.run("put the red block in the green bowl", on_event=on_event)
    accepted = [a for a in acks if a.accepted]
    assert 0 < len(accepted) < 40
    assert all("already waiting" in a.message for a in acks if not a.accepted)
    assert result.status == "succeeded", result.reason
    assert len([c for c in result.corrections if c["kind"] == "speed"]) == len(accepted)


def test_ambiguous_command_asks_and_the_answer_resumes(tmp_path: Path) -> None:
    extra = [{"name": "red block 2", "color": "red", "kind": "block", "position": [0.40, 0.0]}]
    world = _world(extra)
    with Engine(world, EngineConfig(state_dir=tmp_path)) as eng:
        waiting = eng.run("put the red block in the blue bowl")
        assert waiting.status == "waiting" and waiting.exit_code == 4
        assert waiting.question is not None
        assert waiting.question["options"] == ["red block", "red block 2"]
        wrong = eng.resume(waiting.thread_id, "the purple one")
        assert wrong.status == "waiting" and "please answer" in wrong.reason
        done = eng.resume(waiting.thread_id, "red block 2")
        assert done.status == "succeeded", done.reason
        assert done.command == "put the red block 2 in the blue bowl"
        pos = np.asarray(world.true_poses()["red block 2"].position[:2])
        assert np.linalg.norm(pos - np.asarray(world.true_poses()["blue bowl"].position[:2])) < 0.06
    world.close()


def test_spent_budget_asks_for_a_hint(tmp_path: Path) -> None:
    world = _world()
    bad = prog("say('hmm')\n", 'verdict(False, "nothing moved")\n')
    good = prog(
        "put_first_on_second('red block', 'blue bowl')\n",
        "verdict(is_on('red block', 'blue bowl'), 'on')\n",
    )
    planner = ScriptedPlanner([bad, good])
    # No rehearsal failure gives its attempt back: the one attempt is spent in the twin.
    cfg = EngineConfig(state_dir=tmp_path, max_attempts=1, ask_on_failure=True, rehearsal_budget=0)
    with Engine(world, cfg, planner=planner) as eng:
        waiting = eng.run("put the red block in the blue bowl")
        assert waiting.status == "waiting" and waiting.question["kind"] == "budget"
        assert waiting.real_executions == 0  # the bad program never ran on the robot
        done = eng.resume(waiting.thread_id, "pick it up first, then put it in the bowl")
        assert done.status == "succeeded"
        assert any("pick it up first" in f for f in planner.seen[-1].feedback)
    world.close()


def test_resume_of_unknown_or_finished_thread_is_clear(engine: Engine) -> None:
    with pytest.raises(UnknownThreadError, match="no thread"):
        engine.resume("nope")
    first = engine.run("put the red block in the blue bowl")
    with pytest.raises(UnknownThreadError, match="finished"):
        engine.resume(first.thread_id)
    with pytest.raises(UserError, match="already exists"):
        engine.run("put the red block in the blue bowl", thread_id=first.thread_id)


def test_history_lists_steps_and_a_fork_continues(engine: Engine) -> None:
    first = engine.run("put the red block in the blue bowl")
    steps = engine.history(first.thread_id)
    ran = [s.node for s in steps]
    # Each step names the node that produced it, in the order the graph ran them.
    assert ran == [
        "input",
        "__start__",
        "observe",
        "clarify",
        "plan",
        "check",
        "rehearse",
        "execute",
        "verify",
        "done",
    ]
    assert steps[-1].next == [] and "succeeded" in steps[-1].summary
    plan_step = next(s for s in steps if s.node == "plan")
    new_id = engine.fork(first.thread_id, plan_step.step)
    assert new_id != first.thread_id
    forked = engine.history(new_id)
    assert forked[-1].next == ["check"]  # it continues after the step it was forked at
    assert engine.resume(new_id).status == "succeeded"
    with pytest.raises(UnknownThreadError):
        engine.fork(first.thread_id, 999)


def test_undo_then_continue_runs_the_same_attempt_again(engine: Engine) -> None:
    first = engine.run("put the red block in the blue bowl")
    assert first.status == "succeeded"
    start = np.asarray(SCENE["objects"][0]["position"])
    waiting = engine.correct(first.thread_id, "undo")
    assert waiting.status == "waiting", waiting.reason
    assert waiting.corrections[-1]["kind"] == "undo"
    assert waiting.corrections[-1]["status"] == "applied"
    # The undo restored the world from before the placing action.
    assert np.linalg.norm(_xy(engine, "red block") - start) < 0.01
    # "continue" executes the attempt again: its record already holds an execution.
    done = engine.resume(waiting.thread_id, "continue")
    assert done.status == "succeeded", done.reason
    assert np.linalg.norm(_xy(engine, "red block") - _xy(engine, "blue bowl")) < 0.06


def test_call_hooks_run_while_the_program_waits(engine: Engine) -> None:
    # A call hook runs in the graph's thread before the call starts and after it ends, so the
    # world cannot move while it runs: the evaluations' perturbations rely on this.
    seen: list[tuple[str, str, float, float]] = []

    def hook(e: dict[str, Any]) -> None:
        before = engine.world.sim_time
        time.sleep(0.05)  # the robot would move meanwhile if the program were not waiting
        seen.append((e["event"], e["name"], before, engine.world.sim_time))

    engine.call_hooks.append(hook)
    result = engine.run("put the red block in the green bowl")
    assert result.status == "succeeded", result.reason
    assert ("call_start", "put_first_on_second") in [(k, n) for k, n, _, _ in seen]
    assert all(before == after for _, _, before, after in seen)
    start = next(b for k, n, b, _ in seen if (k, n) == ("call_start", "put_first_on_second"))
    end = next(b for k, n, b, _ in seen if (k, n) == ("call", "put_first_on_second"))
    assert end > start  # the call itself moved the arm between the two hooks
