"""kill -9 at several points, then `policywright resume`: no call redone, no correction lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policywright.agent._journal import Journal
from policywright.config import EngineConfig
from policywright.engine import Engine, resume_world

from .test_corrections_engine import SCENE

pytestmark = pytest.mark.sim

SCRIPT = Path(__file__).with_name("_crash_script.py")
COMMAND = "put all the blocks in the green bowl"


def _crash(
    state: Path, thread: str, event: str, name: str = "", nth: int = 1, post: str = ""
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(state),
            thread,
            COMMAND,
            event,
            name,
            str(nth),
            json.dumps(SCENE),
            post,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stdout + proc.stderr
    if post:
        assert json.loads(proc.stdout.splitlines()[0])["accepted"]


def _resume_cli(state: Path, thread: str) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "policywright",
            "resume",
            thread,
            "--state-dir",
            str(state),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("event", "name", "nth"),
    [
        ("program", "", 1),
        ("rehearse", "", 1),
        ("rehearsed", "", 1),
        ("call", "put_first_on_second", 1),
        ("verdict", "", 1),
    ],
    ids=["mid-plan", "mid-rehearsal", "after-rehearsal", "mid-execute", "mid-verify"],
)
def test_kill9_then_resume(tmp_path: Path, event: str, name: str, nth: int) -> None:
    state = tmp_path / "state"
    post = "slower" if event == "call" else ""
    _crash(state, "crash-1", event, name, nth, post)
    journal = Journal(state / "journal.sqlite")
    before = {(r.attempt, r.idx): r for r in journal.calls("crash-1")}
    journal.close()
    snaps_before = {k: os.stat(r.after_snap).st_mtime_ns for k, r in before.items() if r.after_snap}

    result = _resume_cli(state, "crash-1")
    assert result["status"] == "succeeded", result["reason"]
    journal = Journal(state / "journal.sqlite")
    after = {(r.attempt, r.idx): r for r in journal.calls("crash-1")}
    journal.close()
    # A primitive call that finished before the crash was replayed, not run again: its row and
    # its after-snapshot are untouched.
    for key, mtime in snaps_before.items():
        assert after[key].status == "done"
        assert os.stat(after[key].after_snap).st_mtime_ns == mtime
    puts = [r for r in after.values() if r.name == "put_first_on_second"]
    assert len(puts) == 2 and all(r.status == "done" for r in puts)
    if post:
        assert [c["text"] for c in result["corrections"]] == ["slower"]
    # The blocks really are in the bowl in the world the resume rebuilt.
    world = resume_world(EngineConfig(state_dir=state), "crash-1")
    poses = world.true_poses()
    world.close()
    bowl = poses["green bowl"].position
    for block in ("red block", "yellow block"):
        p = poses[block].position
        assert ((p[0] - bowl[0]) ** 2 + (p[1] - bowl[1]) ** 2) ** 0.5 < 0.06


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    from policywright.errors import ConfigError
    from policywright.sim import SceneSpec, TabletopWorld

    state = tmp_path / "state"
    state.mkdir()
    (state / "checkpoints.sqlite").write_bytes(b"this is not a database" * 100)
    with (
        TabletopWorld(SceneSpec.model_validate(SCENE)) as world,
        pytest.raises(ConfigError, match="corrupt"),
    ):
        Engine(world, EngineConfig(state_dir=state))


def test_history_cli_shows_steps_and_forks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from policywright.cli import app
    from policywright.sim import SceneSpec, TabletopWorld

    state = tmp_path / "state"
    with (
        TabletopWorld(SceneSpec.model_validate(SCENE)) as world,
        Engine(world, EngineConfig(state_dir=state)) as eng,
    ):
        res = eng.run("put the red block in the blue bowl", thread_id="h-1")
        eng.correct("h-1", "no, the green bowl")
        steps = eng.history("h-1")
    runner = CliRunner()
    out = runner.invoke(app, ["history", "h-1", "--state-dir", str(state)])
    assert out.exit_code == 0, out.output
    assert "put_first_on_second" in out.output
    assert "no, the green bowl" in out.output
    step = next(s.step for s in steps if s.node == "plan")
    forked = runner.invoke(
        app, ["history", "h-1", "--fork", str(step), "--state-dir", str(state), "--json"]
    )
    assert forked.exit_code == 0, forked.output
    new_id = json.loads(forked.output)["thread_id"]
    resumed = _resume_cli(state, new_id)
    assert resumed["status"] == "succeeded"
    missing = subprocess.run(
        [sys.executable, "-m", "policywright", "history", "nope", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no thread" in missing.stderr + missing.stdout
    assert res.status == "succeeded"
