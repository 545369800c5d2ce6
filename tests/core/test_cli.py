"""The command line, run in-process through its real entry point."""

from __future__ import annotations

import json
import sys

import pytest

from policywright.cli import main


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["policywright", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_primitives_listing(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "primitives")
    assert code == 0
    assert "put_first_on_second(obj: str | [x, y], target: str | [x, y]) -> None" in out
    assert "ctx" not in out
    code, out, _ = run_cli(monkeypatch, capsys, "primitives", "--check")
    assert "verdict(" in out and "put_first_on_second" not in out


@pytest.mark.sim
def test_run_json_success(monkeypatch, capsys, tmp_path):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the red block in the blue bowl",
        "--seed",
        "1",
        "--json",
        "--state-dir",
        str(tmp_path),
        "--record",
        str(tmp_path / "r.gif"),
    )
    data = json.loads(out)
    assert code == 0, data["reason"]
    assert data["status"] == "succeeded"
    assert data["command"] == "put the red block in the blue bowl"
    assert data["attempts"][0]["program"]["code"]
    assert data["attempts"][0]["execution"]["calls"]
    assert data["verdict"]["success"] is True
    assert set(data["objects_initial"]) == set(data["objects_final"])
    assert "red block" in data["objects_initial"] and "blue bowl" in data["objects_initial"]
    moved = data["objects_final"]["red block"]["position"]
    bowl = data["objects_final"]["blue bowl"]["position"]
    assert abs(moved[0] - bowl[0]) < 0.06 and abs(moved[1] - bowl[1]) < 0.06
    assert data["usage"]["llm_calls"] == 0
    with open(data["image"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(data["gif"], "rb") as f:
        assert f.read(6) in (b"GIF89a", b"GIF87a")


@pytest.mark.sim
def test_run_human_output(monkeypatch, capsys, tmp_path):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the red block in the blue bowl",
        "--state-dir",
        str(tmp_path),
    )
    assert code == 0
    assert "scene (as the cameras see it)" in out
    assert "put_first_on_second" in out  # the program and the call lines
    assert "verdict (code): achieved" in out
    assert "final top view" in out


def test_empty_command_exit_2(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "run", "  ", "--state-dir", str(tmp_path))
    assert code == 2
    assert "empty" in err


@pytest.mark.sim
def test_unknown_object_lists_the_scene(monkeypatch, capsys, tmp_path):
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the purple block in the blue bowl",
        "--objects",
        "red block, blue bowl",
        "--state-dir",
        str(tmp_path),
    )
    assert code == 2
    text = out + err
    assert "purple block" in text and "red block" in text and "blue bowl" in text


@pytest.mark.sim
def test_unplannable_command_exit_2(monkeypatch, capsys, tmp_path):
    code, out, err = run_cli(
        monkeypatch, capsys, "run", "sing me a song about the sea", "--state-dir", str(tmp_path)
    )
    assert code == 2
    assert "offline" in (out + err).lower()


def test_bad_objects_option_exit_2(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "stack all the blocks",
        "--objects",
        "golden banana",
        "--state-dir",
        str(tmp_path),
    )
    assert code == 2 and "golden banana" in err


def test_missing_scene_file_exit_2(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "stack all the blocks",
        "--scene",
        str(tmp_path / "nope.yaml"),
        "--state-dir",
        str(tmp_path),
    )
    assert code == 2 and "nope.yaml" in err


@pytest.mark.parametrize(
    "args",
    [["--seed", "-3"], ["--max-attempts", "0"], ["--bogus-option"], ["--seed", "abc"]],
)
def test_bad_options_exit_2(monkeypatch, capsys, tmp_path, args):
    code, _, err = run_cli(
        monkeypatch, capsys, "run", "stack all the blocks", *args, "--state-dir", str(tmp_path)
    )
    assert code == 2
    assert "internal error" not in err


def test_missing_command_exit_2(monkeypatch, capsys):
    code, _, _ = run_cli(monkeypatch, capsys, "run")
    assert code == 2


@pytest.mark.sim
def test_unwritable_state_dir_exit_2(monkeypatch, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(
        monkeypatch, capsys, "run", "stack all the blocks", "--state-dir", str(blocker / "sub")
    )
    assert code == 2 and "state folder" in err


@pytest.mark.sim
def test_llm_without_key_is_a_user_error(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "run",
        "stack the blocks",
        "--llm",
        "openai:gpt-4o",
        "--state-dir",
        str(tmp_path),
    )
    assert code == 2
    assert "OPENAI_API_KEY" in err


def test_unknown_provider_and_world_suggest(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(
        monkeypatch, capsys, "run", "x", "--llm", "opnai:gpt-4o", "--state-dir", str(tmp_path)
    )
    assert code == 2 and "did you mean 'openai'" in err
    code, _, err = run_cli(monkeypatch, capsys, "primitives", "--world", "flor")
    assert code == 2 and "did you mean 'floor'" in err


def test_primitives_per_world(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "primitives", "--world", "floor")
    assert code == 0 and "walk(forward_m: float" in out and "put_first_on_second" not in out
    code, out, _ = run_cli(monkeypatch, capsys, "primitives", "--world", "mobile")
    assert code == 0 and "drive_to_place(" in out and "say(" in out


@pytest.mark.sim
def test_config_file_and_usage_in_json(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "pw.toml"
    cfg.write_text('max_attempts = 2\nverify = "code"\n')
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "run",
        "put the red block in the blue bowl",
        "--json",
        "--config",
        str(cfg),
        "--state-dir",
        str(tmp_path),
        "--session",
        "demo",
    )
    assert code == 0
    result = json.loads(out)
    assert result["session"] == "demo" and result["thread_id"] == "demo-1"
    assert result["usage"]["llm_calls"] == 0 and result["usage"]["plan_cache_hits"] == 0


def test_bad_config_file_is_a_user_error(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "pw.toml"
    cfg.write_text("max_attempts = 0\n")
    code, _, err = run_cli(monkeypatch, capsys, "run", "x", "--config", str(cfg))
    assert code == 2 and "max_attempts" in err
