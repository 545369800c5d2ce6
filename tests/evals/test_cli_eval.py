from __future__ import annotations

import importlib
import io
import json
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from policywright._private.cli_eval import _ProgressView, register
from policywright.errors import UnknownNameError, UserError


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def other() -> None:  # a second command keeps "eval" a subcommand group
        """Nothing."""

    register(app)
    return app


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("pw_eval_fakes")


runner = CliRunner()


@pytest.mark.sim
def test_eval_suite_runs_resumes_and_reports(app: typer.Typer, tmp_path: Path) -> None:
    args = [
        "eval",
        "cap-tabletop",
        "--split",
        "SA-SI",
        "--task",
        "pick_place",
        "--trials",
        "2",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
        "--run-id",
        "x",
    ]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["summary"]["ran"] == 2 and payload["summary"]["succeeded"] == 2
    assert Path(payload["report"]["html"]).is_file()
    assert [c["key"]["task_id"] for c in payload["cells"]] == ["pick_place"]
    # the same command again resumes: nothing left to run
    again = runner.invoke(app, [*args, "--no-report"])
    assert again.exit_code == 0, again.output
    assert "2 episode(s), 2 already finished, 0 to run" in again.stdout
    assert "pick_place" in again.stdout and "100.0 [34.2, 100.0]" in again.stdout
    # pointing at the run folder resumes it too; `eval run` is the same command
    run_dir = tmp_path / "x"
    (run_dir / "episodes/cap-tabletop/pick_place.SA-SI.001.json").unlink()
    resumed = runner.invoke(app, ["eval", "run", str(run_dir), "--workers", "1", "--no-report"])
    assert resumed.exit_code == 0, resumed.output
    assert "1 to run" in resumed.stdout
    assert "[1/1] cap-tabletop/pick_place.SA-SI.001: succeeded" in resumed.stdout  # plain lines
    with pytest.raises(UserError, match="is a run folder"):
        runner.invoke(app, ["eval", str(run_dir), "--trials", "3"], catch_exceptions=False)


def test_options_may_come_before_the_suite_and_bad_names_say_did_you_mean(
    app: typer.Typer, tmp_path: Path
) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'cap-tabletop'"):
        runner.invoke(
            app,
            ["eval", "--trials", "1", "cap-tabletp", "--out", str(tmp_path)],
            catch_exceptions=False,
        )
    with pytest.raises(UnknownNameError, match="did you mean 'UA-UI'"):
        runner.invoke(
            app,
            ["eval", "cap-tabletop", "--split", "UA-U", "--out", str(tmp_path)],
            catch_exceptions=False,
        )
    with pytest.raises(UnknownNameError, match="unknown task"):
        runner.invoke(
            app, ["eval", "all", "--task", "nope", "--out", str(tmp_path)], catch_exceptions=False
        )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nsplits: [a]\nsplit_settings: {a: {tasks: [t]}}\ntasks:\n"
        "  - id: t\n    family: f\n    template: go\n    checker: {name: nope}\n"
    )
    from policywright.errors import ConfigError

    with pytest.raises(ConfigError, match=r"bad.yaml, line \d+, field tasks\[0\]\.checker"):
        runner.invoke(app, ["eval", str(bad), "--out", str(tmp_path)], catch_exceptions=False)
    assert not any(tmp_path.iterdir()) or {p.name for p in tmp_path.iterdir()} == {"bad.yaml"}


def test_a_ray_address_that_does_not_answer_is_a_user_error(
    app: typer.Typer, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        runner.invoke(
            app,
            [
                "eval",
                "cap-tabletop",
                "--task",
                "pick_place",
                "--split",
                "SA-SI",
                "--trials",
                "1",
                "--ray",
                f"127.0.0.1:{port}",
                "--out",
                str(tmp_path),
            ],
            catch_exceptions=False,
        )
    assert not any(tmp_path.iterdir())  # checked before a run folder is made


def test_report_compare_and_list(app: typer.Typer, fakes: ModuleType, tmp_path: Path) -> None:
    a = fakes.make_run_folder(
        tmp_path, "a", splits=["SA-SI"], trials=5, success=lambda t, s, i: i < 4
    )
    b = fakes.make_run_folder(
        tmp_path, "b", splits=["SA-SI"], trials=5, success=lambda t, s, i: i < 1
    )
    rep = runner.invoke(app, ["eval", "report", str(a)])
    assert rep.exit_code == 0, rep.output
    assert "| cap-tabletop | SA-SI | pick_place | 80.0 [37.6, 96.4] | 5 |" in rep.stdout
    assert (a / "report.md").is_file() and (a / "report.html").is_file()
    cmp = runner.invoke(
        app, ["eval", "compare", str(a), str(b), "--out", str(tmp_path / "c"), "--json"]
    )
    assert cmp.exit_code == 0, cmp.output
    cells = json.loads(cmp.stdout)["cells"]
    split_cell = next(c for c in cells if c["key"] == {"suite": "cap-tabletop", "split": "SA-SI"})
    assert split_cell["significant"] and split_cell["diff"] == pytest.approx(0.6)
    assert (tmp_path / "c" / "compare.html").is_file()
    listing = runner.invoke(app, ["eval", "list", "--json"])
    suites = {s["id"]: s for s in json.loads(listing.stdout)}
    assert "cap-tabletop" in suites and len(suites["cap-tabletop"]["tasks"]) == 14
    assert runner.invoke(app, ["eval", "list"]).exit_code == 0
    with pytest.raises(UserError, match="no run folder"):
        runner.invoke(app, ["eval", "report", str(tmp_path / "missing")], catch_exceptions=False)
    raw = json.loads((a / "manifest.json").read_text())
    (a / "manifest.json").write_text(json.dumps(raw | {"version": 99}))
    with pytest.raises(UserError, match="version 99"):
        runner.invoke(app, ["eval", "report", str(a)], catch_exceptions=False)


def test_progress_bar_on_a_terminal() -> None:
    buf = io.StringIO()
    view = _ProgressView(Console(file=buf, force_terminal=True, width=120))
    view("start", {"total": 3, "skipped": 1, "todo": 2, "backend": "local"})
    result = {"status": "succeeded", "wall_s": 1.0}
    view("episode", {"key": "s/a", "result": result, "done": 1, "total": 2})
    view("retry", {"key": "s/b", "error": "worker died"})
    view("episode", {"key": "s/b", "result": result | {"status": "failed"}, "done": 2, "total": 2})
    view.close()
    text = buf.getvalue()
    assert "ETA" in text and "2/2" in text and "1 ok" in text and "1 failed" in text
    assert "retrying once on a fresh worker" in text


def _wired() -> bool:
    return "cli_eval" in (Path(__file__).parents[2] / "policywright" / "cli.py").read_text()


@pytest.mark.skipif(not _wired(), reason="policywright/cli.py does not register the eval group yet")
def test_exit_codes_through_the_real_command_line(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "policywright", "eval", "list"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "cap-tabletop" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "policywright", "eval", "cap-tabletp", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "did you mean 'cap-tabletop'" in bad.stderr


@pytest.mark.sim
def test_skill_variants_and_verify_mode_are_checked_and_recorded(
    app: typer.Typer, tmp_path: Path
) -> None:
    from policywright.errors import ConfigError
    from policywright.evals._runner import RunOptions, plan_run

    base = ["eval", "cap-tabletop", "--task", "pick_place", "--out", str(tmp_path)]
    with pytest.raises(UnknownNameError, match="did you mean 'grasp/learned-v1'"):
        runner.invoke(app, [*base, "--skill", "grasp=grasp/lerned-v1"], catch_exceptions=False)
    with pytest.raises(ConfigError, match=r"is a .grasp. skill; skills\.path"):
        runner.invoke(app, [*base, "--skill", "path=grasp/learned-v1"], catch_exceptions=False)
    with pytest.raises(UserError, match="FAMILY=ID"):
        runner.invoke(app, [*base, "--skill", "grasp"], catch_exceptions=False)
    with pytest.raises(UserError, match="--verify must be"):
        runner.invoke(app, [*base, "--verify", "eyes"], catch_exceptions=False)
    assert not any(tmp_path.iterdir())  # nothing was started
    planned = plan_run(
        RunOptions(
            suites=["cap-tabletop"],
            tasks=["pick_place"],
            splits=["SA-SI"],
            trials=1,
            skills={"grasp": "grasp/learned-v1"},
        )
    )
    assert planned[0].spec["skills"] == {"grasp": "grasp/learned-v1"}
    assert planned[0].spec["verify"] == "code"


def test_llm_settings_reach_the_episodes_but_never_an_api_key(tmp_path: Path) -> None:
    from policywright._private.cli_eval import _llm_settings
    from policywright.evals._runner import RunOptions, plan_run

    cfg = tmp_path / "pw.toml"
    cfg.write_text('[llm_settings]\nmax_retries = 4\napi_key = "sk-secret"\n')
    settings = _llm_settings(cfg, 300.0)
    assert settings == {"max_retries": 4, "timeout_s": 300.0}
    opts = {"suites": ["cap-tabletop"], "tasks": ["line"], "splits": ["UA-UI"], "trials": 1}
    planned = plan_run(RunOptions(**opts, llm_settings=settings))
    assert planned[0].spec["llm_settings"] == settings
    with pytest.raises(UserError, match="API key"):
        plan_run(RunOptions(**opts, llm_settings={"api_key": "sk-secret"}))
