"""The checkpointed loop end to end, on a real world, sandbox and SQLite checkpointer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.errors import EmptyCommandError

from .conftest import ScriptedPlanner, prog

pytestmark = pytest.mark.sim

GOOD = prog(
    'put_first_on_second("red block", "blue bowl")\n',
    'verdict(is_on("red block", "blue bowl"), "red block in blue bowl")\n',
)


def _engine(world, sandbox, tmp_path, programs, max_attempts=1, rehearse=False):
    # Most tests here pin the real run's containment: without rehearsal a program goes
    # straight to the real world (test_rehearsal.py covers the twin).
    cfg = EngineConfig(state_dir=tmp_path, max_attempts=max_attempts, rehearse=rehearse)
    return Engine(world, cfg, planner=ScriptedPlanner(programs), sandbox=sandbox)


def _world_consistent(world):
    poses = world.true_poses()
    assert poses, "the world lost its objects"
    for pose in poses.values():
        assert all(math.isfinite(v) for v in pose.position)
        assert 0.5 < pose.position[2] < 1.2  # still on (or above) the table
    # A failed program never leaves a block in the gripper (the safe stop puts it down).
    assert world.arm.held_object() is None
    assert set(world.detect())  # perception still works


BAD_PROGRAMS = {
    "import": ("import os\nos.system('true')\n", "refused"),
    "dunder": ("x = ().__class__.__bases__\n", "refused"),
    "loop": ("while True:\n    pass\n", "timeout"),
    "alloc": ("x = [0] * (10 ** 10)\n", "memory"),
    "print": ("while True:\n    print('spam' * 100)\n", "error"),
    "outside": ('put_first_on_second("red block", [2.0, 0.0])\n', "refused"),
    # A computed target: no static check can see it; the twin (and the run-time check) do.
    "outside-computed": ('x = 1.0 * 2\nput_first_on_second("red block", [x, 0.0])\n', "refused"),
    "nan": ('move_ee_to([0.5, float("nan"), 0.8])\n', "refused"),
    "unknown-object": ('put_first_on_second("purple block", "blue bowl")\n', "error"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROGRAMS))
def test_bad_program_is_contained_and_next_command_works(case, tabletop, shared_sandbox, tmp_path):
    code, outcome = BAD_PROGRAMS[case]
    world = tabletop
    eng = _engine(world, shared_sandbox, tmp_path, [prog(code)])
    before = {n: p.position for n, p in world.true_poses().items()}
    result = eng.run("do something", thread_id=f"bad-{case}")
    assert result.status == "failed"
    assert result.exit_code == 1
    (attempt,) = result.attempts
    assert attempt["outcome"] == outcome, attempt
    feedback = attempt["feedback"]
    assert feedback and len(feedback) < 2000
    if case == "outside":
        assert "safety" in feedback and "workspace" in feedback
    if case == "nan":
        assert "non-finite" in feedback
    if case == "unknown-object":
        assert "purple block" in feedback and "red block" in feedback
    if case == "print":
        assert "OutputLimitExceeded" in feedback
    if case in ("import", "dunder", "loop", "alloc", "print"):
        # Nothing moved: the program never reached a primitive.
        after = {n: p.position for n, p in world.true_poses().items()}
        for name, pos in before.items():
            assert np.allclose(pos, after[name], atol=2e-3), name
    # The checkpoint holds the whole record of the task.
    state = eng.graph.get_state({"configurable": {"thread_id": f"bad-{case}"}})
    assert state.values["status"] == "failed"
    assert state.values["attempts"][0]["outcome"] == outcome
    assert state.next == ()
    _world_consistent(world)
    eng.close()


@pytest.mark.parametrize("case", sorted(BAD_PROGRAMS))
def test_bad_program_fails_in_the_twin_and_the_world_stays(
    case, tabletop, shared_sandbox, tmp_path
):
    code, outcome = BAD_PROGRAMS[case]
    eng = _engine(tabletop, shared_sandbox, tmp_path, [prog(code)], rehearse=True)
    before = {n: p.position for n, p in tabletop.true_poses().items()}
    result = eng.run("do something", thread_id=f"twin-{case}")
    assert result.status == "failed" and result.exit_code == 1
    assert result.real_executions == 0
    first = result.attempts[0]
    if outcome == "refused" and case in ("import", "dunder", "outside"):
        # The static checks, before any process (a literal target outside the workspace too)
        assert first["outcome"] == "refused"
    else:
        assert first["outcome"] == "rehearsal_failed", first
        assert first["rehearsal"][-1]["status"] == outcome
        assert "did not move" in first["feedback"]
    after = {n: p.position for n, p in tabletop.true_poses().items()}
    for name, pos in before.items():
        assert np.allclose(pos, after[name], atol=2e-3), name
    _world_consistent(tabletop)
    eng.close()


def test_next_command_after_bad_programs_succeeds(tabletop, shared_sandbox, tmp_path):
    eng = _engine(tabletop, shared_sandbox, tmp_path, [GOOD])
    result = eng.run("put the red block in the blue bowl")
    assert result.status == "succeeded", result.reason
    assert result.verdict is not None and result.verdict["success"]
    eng.close()


def test_replan_with_feedback_within_budget(tabletop, shared_sandbox, tmp_path):
    planner = ScriptedPlanner([prog("import os\n"), prog("x = 1 / 0\n"), GOOD])
    cfg = EngineConfig(state_dir=tmp_path, max_attempts=3, rehearse=False)
    eng = Engine(tabletop, cfg, planner=planner, sandbox=shared_sandbox)
    result = eng.run("put the red block in the blue bowl", thread_id="replan")
    assert [a["outcome"] for a in result.attempts] == ["refused", "error", "succeeded"]
    assert result.status == "succeeded"
    # The planner saw the feedback of both failures.
    assert len(planner.seen[2].feedback) == 2
    assert "import" in planner.seen[1].feedback[0]
    assert "ZeroDivisionError" in planner.seen[2].feedback[1]
    eng.close()


def test_budget_spent_fails_with_reason(tabletop, shared_sandbox, tmp_path):
    eng = _engine(tabletop, shared_sandbox, tmp_path, [prog("x = 1 / 0\n")], max_attempts=2)
    result = eng.run("anything")
    assert result.status == "failed" and len(result.attempts) == 2
    assert "gave up after 2 attempt(s)" in result.reason
    eng.close()


def test_failed_verdict_is_recorded(tabletop, shared_sandbox, tmp_path):
    check = 'verdict(False, "the red block is not where it should be")\n'
    eng = _engine(tabletop, shared_sandbox, tmp_path, [prog("say('hello')\n", check)])
    result = eng.run("anything")
    assert result.attempts[0]["outcome"] == "unverified"
    assert result.verdict == {
        "success": False,
        "reason": "the red block is not where it should be",
        "source": "code",
    }
    eng.close()


def test_check_program_cannot_move_the_robot(tabletop, shared_sandbox, tmp_path):
    check = 'put_first_on_second("red block", "blue bowl")\nverdict(True, "cheat")\n'
    eng = _engine(tabletop, shared_sandbox, tmp_path, [prog("say('x')\n", check)])
    result = eng.run("anything")
    assert result.status == "failed"
    assert result.attempts[0]["outcome"] == "refused"
    eng.close()


def test_empty_command_is_a_user_error(tabletop, shared_sandbox, tmp_path):
    eng = _engine(tabletop, shared_sandbox, tmp_path, [GOOD])
    for bad in ("", "   \n\t "):
        with pytest.raises(EmptyCommandError):
            eng.run(bad)
    eng.close()


def test_state_is_plain_data_and_snapshots_exist(tabletop, shared_sandbox, tmp_path):
    import json
    from pathlib import Path

    eng = _engine(tabletop, shared_sandbox, tmp_path, [GOOD])
    eng.run("put the red block in the blue bowl", thread_id="plain")
    values = eng.graph.get_state({"configurable": {"thread_id": "plain"}}).values
    json.dumps(values)  # nothing but JSON-like data in the checkpoint
    assert values["world_snapshots"]
    for snap in values["world_snapshots"]:
        assert Path(snap).exists()
    eng.close()


def test_failed_pick_place_is_put_down_by_the_safe_stop(tabletop, shared_sandbox, tmp_path):
    # A computed target: a literal one is refused before any motion (the static checks).
    code = 'pick("red block")\nx = 1.0 * 2\nplace([x, 0.0])\n'
    eng = _engine(tabletop, shared_sandbox, tmp_path, [prog(code)])
    result = eng.run("anything")
    attempt = result.attempts[0]
    assert attempt["outcome"] == "refused"
    assert "put the red block down" in attempt["recovery"]
    assert tabletop.arm.held_object() is None
    assert "red block" in tabletop.detect()
    eng.close()


def test_same_seed_same_result(shared_sandbox, tmp_path):
    from policywright.engine import scene_for_command
    from policywright.sim import TabletopWorld

    finals = []
    for i in range(2):
        spec = scene_for_command("stack all the blocks", seed=4)
        with TabletopWorld(spec) as world:
            eng = Engine(world, EngineConfig(state_dir=tmp_path / str(i)), sandbox=shared_sandbox)
            result = eng.run("stack all the blocks")
            eng.close()
        assert result.status == "succeeded"
        finals.append(result.objects_final)
    assert finals[0] == finals[1]  # bit-identical poses
