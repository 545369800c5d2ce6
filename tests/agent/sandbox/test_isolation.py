"""Kernel isolation (issue 14): assume-breach tests as root and as a normal user, the
strict / best-effort setting, ``policywright doctor``."""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policywright.agent.sandbox import (
    IsolationUnavailable,
    Sandbox,
    SandboxLimits,
    check_program,
)
from policywright.agent.sandbox._kernel import RUN_UID_BASE, RUN_UID_SPAN

from .breach_harness import BREACH
from .conftest import FakeHost
from .test_sandbox import ESCAPE, lines_of

HARNESS = Path(__file__).with_name("breach_harness.py")
TEST_USER = "pw-sandbox-test"  # .ci/run creates it; the fixture does too, as root
IS_ROOT = os.geteuid() == 0


def run_harness(prefix: list[str], *skip: str) -> dict[str, Any]:
    env = {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}
    if prefix:
        env["HOME"] = pwd.getpwnam(TEST_USER).pw_dir
    else:
        env["HOME"] = os.path.expanduser("~")
    for key in ("PYTHONPATH", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.run(
        [*prefix, sys.executable, "-P", str(HARNESS), ",".join(skip)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def skip_without_layers(out: dict[str, Any]) -> None:
    missing = {k: v for k, v in out["layers"]["missing"].items() if k != "run-uid"}
    if missing:  # only a kernel that lacks a feature is a reason to skip
        pytest.skip(f"this kernel lacks sandbox layers: {missing}")


def assert_all_blocked(out: dict[str, Any]) -> None:
    assert out["status"] == "ok", out
    results = out["results"]
    assert len(results) >= 25, results
    escaped = {k: v for k, v in results.items() if not v.startswith("blocked")}
    assert not escaped, escaped


@pytest.fixture(scope="module")
def normal_user() -> list[str]:
    """The command prefix that runs the harness as a normal user."""
    if not IS_ROOT:
        return []  # this test run is a normal user already
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("no useradd to create the normal user of the assume-breach tests")
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", TEST_USER], check=True)
    runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if runuser is None:
        pytest.skip("no runuser to run the assume-breach tests as a normal user")
    prefix = [runuser, "-u", TEST_USER, "--"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-P", "-c", "import policywright.agent.sandbox"],
        capture_output=True,
        text=True,
        env={"PATH": os.defpath, "HOME": pwd.getpwnam(TEST_USER).pw_dir},
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(
            f"{TEST_USER} cannot run this interpreter or reach this checkout (a folder on the "
            "way lacks o+x; .ci/run grants it): " + probe.stderr.strip()[-300:]
        )
    return prefix


def test_breach_as_root() -> None:
    if not IS_ROOT:
        pytest.skip("the root column needs a root test run (CI runs as root)")
    out = run_harness([])
    assert out["uid"] == 0
    skip_without_layers(out)
    assert out["layers"]["run_uid"] is True
    assert_all_blocked(out)


def test_breach_as_a_normal_user(normal_user: list[str]) -> None:
    out = run_harness(normal_user)
    assert out["uid"] != 0
    skip_without_layers(out)
    assert out["layers"]["userns"] is True
    assert_all_blocked(out)


def test_the_harness_sees_an_escape_when_no_layer_holds(normal_user: list[str]) -> None:
    # Without the kernel layers the escaped program reads what its uid may read: the attempts
    # above are real attempts, not ones that fail for an unrelated reason.
    # (Its last attempts exec a shell, which then replaces the process: the side effects say
    # what it did.)
    out = run_harness(normal_user, "namespaces", "run-uid", "landlock", "seccomp")
    results = out["results"]
    assert results["side effect: nothing was created"].startswith("NOT BLOCKED"), results
    assert results["side effect: the other process is alive"].startswith("NOT BLOCKED"), results
    assert results["side effect: no connection or datagram arrived"].startswith("NOT BLOCKED")


def test_the_breach_entry_is_not_reachable_from_programs() -> None:
    # The program that plays the escape is refused by the static checks; only the parent's
    # private test entry (Sandbox._run_unchecked) runs it, and programs never reach the parent.
    report = check_program(BREACH, primitive_names=[])
    assert not report.ok
    assert {v.rule for v in report.blocking} >= {"dunder"}


# -- strict and best-effort -------------------------------------------------------------------


def test_isolation_defaults_to_strict_and_forbids_other_values() -> None:
    assert SandboxLimits().isolation == "strict"
    with pytest.raises(ValueError):
        SandboxLimits(isolation="off")  # type: ignore[arg-type]


def test_strict_refuses_to_run_without_a_layer(host: FakeHost) -> None:
    with Sandbox(skip_layers=("seccomp",)) as sandbox:
        report = sandbox.run("print('ran')", host)
        assert report.status == "error"
        assert report.error_type == "IsolationUnavailable"
        assert report.rule == "isolation"
        assert "seccomp" in report.message and "best-effort" in report.message
        assert report.output == ""
        with pytest.raises(IsolationUnavailable) as info:
            sandbox.check_isolation()
        assert set(info.value.gaps) == {"seccomp"}


def test_best_effort_runs_and_says_so_once(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    limits = SandboxLimits(isolation="best-effort")
    with (
        caplog.at_level(logging.INFO, logger="policywright.agent.sandbox._sandbox"),
        Sandbox(limits, skip_layers=("landlock",)) as sandbox,
    ):
        for _ in range(3):
            report = sandbox.run("print('ran')", host)
            assert report.status == "ok", report
        sandbox.check_isolation()  # best-effort never raises
    loud = [r for r in caplog.records if "WEAKER" in r.getMessage()]
    assert len(loud) == 1
    assert loud[0].levelno == logging.WARNING
    assert "landlock" in loud[0].getMessage()


def test_strict_cold_children_apply_every_layer(host: FakeHost) -> None:
    with Sandbox(SandboxLimits(wall_seconds=5), warm=False) as cold:
        report = cold._run_unchecked(
            ESCAPE
            + "attempt('listdir', lambda: os.listdir('/'))\n"
            + "attempt('socket', lambda: socket.socket())\n",
            host,
        )
    if report.error_type == "IsolationUnavailable":
        pytest.skip(f"this kernel lacks sandbox layers: {report.message}")
    results = lines_of(report)
    assert results["listdir"].startswith("BLOCKED")
    assert results["socket"].startswith("BLOCKED")


@pytest.mark.skipif(not IS_ROOT, reason="per-run uids are given by a root engine only")
def test_each_run_has_its_own_uid(sb: Sandbox, host: FakeHost) -> None:
    probe = ESCAPE + "print('uid', os.getuid())"
    uids = {lines_of(sb._run_unchecked(probe, host))["uid"] for _ in range(3)}
    assert len(uids) == 3
    assert all(RUN_UID_BASE <= int(u) < RUN_UID_BASE + RUN_UID_SPAN for u in uids)


def test_doctor_prints_the_layers() -> None:
    from typer.testing import CliRunner

    from policywright.cli import app

    result = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for layer in ("namespaces", "run-uid", "landlock", "seccomp"):
        assert layer in result.output
    assert "strict isolation" in result.output
