"""Bad inputs, help and output a new user meets in the first hour (issue 13, items 5 and 6).

Each test names the behaviour as it was before the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console

from policywright.cli import _Printer, app, main


def run_cli(monkeypatch: Any, capsys: Any, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["policywright", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


SCENE_TWO_REDS = """\
objects:
  - {name: red block, color: red, kind: block, position: [0.45, 0.12]}
  - {name: red block 2, color: red, kind: block, position: [0.40, 0.0]}
  - {name: blue bowl, color: blue, kind: bowl, position: [0.60, 0.10]}
"""


# -- bad inputs (item 5) -------------------------------------------------------------------------
def test_malformed_scene_yaml_is_one_line_naming_file_and_line(monkeypatch, capsys, tmp_path):
    # Was: exit 3, "internal error ... while parsing a flow sequence" and a 100-line traceback.
    bad = tmp_path / "scene.yaml"
    bad.write_text("objects:\n  - {name: red block, position: [0.4, 0.1\n", encoding="utf-8")
    code, _, err = run_cli(monkeypatch, capsys, "run", "x", "--scene", str(bad))
    assert code == 2
    assert f"{bad}:3: not valid YAML" in err and "started at line 2" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unwritable_record_path_fails_before_the_task(monkeypatch, capsys, tmp_path):
    # Was: exit 3 after the task succeeded (the run was lost).
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    state = tmp_path / "state"
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the red block in the blue bowl",
        "--record",
        str(blocker / "out.gif"),
        "--state-dir",
        str(state),
    )
    assert code == 2 and "--record" in err and "nothing was run" in err
    assert "scene (as the cameras see it)" not in out
    assert not (state / "runs").exists()


def test_objects_option_naming_nothing_is_refused(monkeypatch, capsys, tmp_path):
    # Was: silently ignored (a sampled scene instead).
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "stack all the blocks",
        "--objects",
        ",,,",
        "--state-dir",
        str(tmp_path),
    )
    assert code == 2 and "names no object" in err


@pytest.mark.sim
def test_unknown_object_is_named_in_plain_words(monkeypatch, capsys, tmp_path):
    # Was: "I can't plan ... closest I know: put the {block1} in the {bowl1}" (slot jargon).
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the purple elephant in the blue bowl",
        "--objects",
        "red block, blue bowl",
        "--state-dir",
        str(tmp_path),
    )
    assert code == 2
    assert "there is no purple elephant here; the scene has: blue bowl, red block" in err
    assert "{" not in out + err


@pytest.mark.sim
def test_copy_paste_hints_carry_the_state_dir(monkeypatch, capsys, tmp_path):
    # Was: "policywright resume t1 --answer ..." without the folder the thread lives in.
    scene = tmp_path / "two-reds.yaml"
    scene.write_text(SCENE_TWO_REDS, encoding="utf-8")
    state = tmp_path / "my state"
    args = ["--scene", str(scene), "--state-dir", str(state), "--thread", "t1"]
    code, out, _ = run_cli(monkeypatch, capsys, "run", "put the red block in the blue bowl", *args)
    assert code == 4
    flat = " ".join(out.replace("│", " ").split())
    assert f"policywright resume t1 --state-dir '{state}' --answer" in flat
    code, _, err = run_cli(monkeypatch, capsys, "run", "put the red block 2 in the bowl", *args)
    assert code == 2 and f"policywright resume t1 --state-dir {state}" in err


@pytest.mark.sim
def test_resuming_a_finished_thread_exits_with_the_task_code(monkeypatch, capsys, tmp_path):
    # Was: exit 2 ("you must act") for a thread that simply has nothing left to do.
    args = ["--objects", "red block, blue bowl", "--state-dir", str(tmp_path), "--thread", "ok1"]
    code, _, _ = run_cli(monkeypatch, capsys, "run", "put the red block in the blue bowl", *args)
    assert code == 0
    code, out, _ = run_cli(monkeypatch, capsys, "resume", "ok1", "--state-dir", str(tmp_path))
    assert code == 0 and "already finished (succeeded)" in out
    args[-1] = "bad1"
    code, _, _ = run_cli(monkeypatch, capsys, "run", "sing me a song about the sea", *args)
    assert code == 2  # unplannable: the task failed
    code, out, _ = run_cli(monkeypatch, capsys, "resume", "bad1", "--state-dir", str(tmp_path))
    assert code == 1 and "already finished (failed)" in out


# -- help and output (item 6) -------------------------------------------------------------------
def test_help_keeps_brackets_has_text_for_every_option_and_a_version(monkeypatch, capsys):
    # Was: "Serve the web UI (extra ):", "<bool>" on every flag, --verbose/--port/--seed bare.
    code, out, _ = run_cli(monkeypatch, capsys, "serve", "--help")
    assert code == 0 and "(extra [web])" in out and "<bool>" not in out
    code, out, _ = run_cli(monkeypatch, capsys, "--version")
    assert code == 0 and out.startswith("policywright ")
    group = typer.main.get_command(app)
    missing = []

    def walk(cmd: Any, path: str) -> None:
        for sub_name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {sub_name}")
        for param in cmd.params:
            if param.param_type_name == "option" and not param.help and param.name != "help":
                missing.append(f"{path} {param.opts[0]}")

    walk(group, "policywright")
    assert not missing, missing


def _printed(event: dict[str, Any], width: int = 80) -> str:
    out = Console(width=width, record=True, force_terminal=False, highlight=False)
    _Printer(out)(event)
    return out.export_text()


def test_program_lines_wrap_instead_of_being_cut() -> None:
    # Was: the panel cropped long lines mid-token with no mark.
    words = " ".join(f"w{i:03d}" for i in range(40))
    text = _printed(
        {
            "event": "program",
            "attempt": 1,
            "provenance": "t",
            "code": f"say('{words}')\n",
            "check_code": "verdict(True, 'ok')\n",
        }
    )
    assert all(f"w{i:03d}" in text for i in range(40))


def test_a_failed_call_says_why_and_the_sim_clock_is_labelled() -> None:
    # Was: "✗ line 12 put_first_on_second(...) ->   (sim 0.7 s)": an empty result, and a
    # cumulative clock that read as the call's duration.
    stopped = _printed(
        {
            "event": "call",
            "name": "put_first_on_second",
            "args": ["a", "b"],
            "line": 12,
            "ok": False,
            "preempted": "stopped during put_first_on_second()",
            "sim_time": 0.7,
        },
        width=200,
    )
    assert "stopped during put_first_on_second()" in stopped and "->" not in stopped
    failed = _printed(
        {
            "event": "call",
            "name": "pick",
            "args": ["x"],
            "line": 3,
            "ok": False,
            "error": "",
            "sim_time": 2.0,
        },
        width=200,
    )
    assert "failed: no reason given" in failed
    assert "sim clock 2.0 s" in failed


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "policywright", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,  # not the source tree: `python -m` would import the unbuilt folder
        env=env,
    )


def test_no_pybullet_build_time_line_and_skills_readable_at_80_columns(tmp_path: Path) -> None:
    # Was: "pybullet build time: ..." on stderr for every command; "summar y" in the table.
    proc = _subprocess("run", "  ", "--state-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "build time" not in proc.stderr, proc.stderr
    listing = _subprocess("skills", "list", cwd=tmp_path)
    data = json.loads(_subprocess("skills", "list", "--json", cwd=tmp_path).stdout)
    words = {w for s in data["skills"] for w in s["summary"].split()}
    printed = set(listing.stdout.split())
    assert words <= printed, sorted(words - printed)[:5]


@pytest.mark.sim
def test_skills_eval_explains_a_count_larger_than_trials(monkeypatch, capsys) -> None:
    # Was: "6/6" for --trials 3 with no word on why.
    code, out, _ = run_cli(
        monkeypatch, capsys, "skills", "eval", "grasp/scripted-v1", "--trials", "1", "--no-compare"
    )
    assert code == 0
    assert "1 trials on each of 2 splits (blocks, shapes) = 2" in " ".join(out.split())


@pytest.mark.sim
def test_history_hides_graph_entry_steps_and_shows_answers_and_resumes(
    monkeypatch, capsys, tmp_path
):
    # Was: "__start__" rows, programs as their first line ("def block_names():"), and no sign
    # that a person answered or that a crash was resumed.
    scene = tmp_path / "two-reds.yaml"
    scene.write_text(SCENE_TWO_REDS, encoding="utf-8")
    state = ["--state-dir", str(tmp_path / "s")]
    run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the red block in the blue bowl",
        "--scene",
        str(scene),
        "--thread",
        "h1",
        *state,
    )
    code, _, _ = run_cli(monkeypatch, capsys, "resume", "h1", "--answer", "red block 2", *state)
    assert code == 0
    code, out, _ = run_cli(monkeypatch, capsys, "history", "h1", *state)
    assert code == 0 and "__start__" not in out
    flat = " ".join(out.split())
    assert "your answer came in" in flat and "waits for you: Which one" in flat
    assert "put_first_on_second('red block 2', 'blue bowl')" in out  # the full program

    from policywright._private.threads import thread_history
    from policywright.config import EngineConfig
    from policywright.engine import Engine
    from policywright.sim import SceneSpec, TabletopWorld

    world = TabletopWorld(SceneSpec.from_yaml(scene))
    config = EngineConfig(state_dir=tmp_path / "crash")
    with Engine(world, config) as eng:

        def crash(e: dict[str, Any]) -> None:
            # The front end dies once the twin verified the program: the robot has not moved.
            if e.get("event") == "rehearsed":
                raise RuntimeError("simulated crash")

        with pytest.raises(RuntimeError):
            eng.run("put the red block 2 in the blue bowl", thread_id="c1", on_event=crash)
        assert eng.resume("c1").status == "succeeded"
    world.close()
    report = thread_history(config, "c1")
    assert any("resumed after an interruption" in s.summary for s in report.steps)
