"""The Ray backend against a real local Ray cluster (``ray start --head`` on loopback)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policywright.errors import MissingExtraError, UserError
from policywright.evals._episodes import EpisodeSpec
from policywright.evals._rundir import (
    Manifest,
    PlannedEpisode,
    atomic_write_text,
    episode_path,
    read_manifest,
)
from policywright.evals._runner import execute_run

ray = pytest.importorskip("ray")

from policywright.evals._ray import RayPool, parse_address, probe_address  # noqa: E402

FAKES = "pw_eval_fakes:fake_episode"
HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A 2-CPU Ray head in its own session and temp folder; only its process group is killed."""
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="pwray", dir="/tmp")  # short: Ray's unix sockets live there
    # No token authentication, on both sides: a token in ~/.ray (left by any local Ray run)
    # would otherwise switch the head to token mode and the driver would be refused.
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    ray_cli = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen(
        [
            ray_cli,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            f"--temp-dir={tmp}",
            "--disable-usage-stats",
        ],
        start_new_session=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None, "ray start exited"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        if saved_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_mode


def fake_run(tmp_path: Path, tasks: list[str], timeout_s: float = 120.0) -> tuple[Path, Manifest]:
    episodes = []
    for task in tasks:
        spec = EpisodeSpec(suite="fake", task_id=task, split="default", trial=0, seed=0)
        episodes.append(
            PlannedEpisode(
                key=f"fake/{spec.episode_id}",
                suite_id="fake",
                family="fake",
                timeout_s=timeout_s,
                spec=spec.model_dump(mode="json"),
            )
        )
    manifest = Manifest(run_id="r", policywright_version="test", suites=["fake"], episodes=episodes)
    run_dir = tmp_path / "r"
    atomic_write_text(run_dir / "manifest.json", manifest.model_dump_json())
    return run_dir, read_manifest(run_dir)


@pytest.mark.enable_socket
def test_episodes_on_a_ray_cluster_with_a_crash_and_a_hang(ray_head: str, tmp_path: Path) -> None:
    run_dir, manifest = fake_run(
        tmp_path, ["ok-a", "crash-once", "hang-once", "ok-b"], timeout_s=8.0
    )
    pool = RayPool(ray_head, workers=2, episode_fn=FAKES)
    try:
        assert pool.connect() == f"joined the Ray cluster at {ray_head}"
        summary = execute_run(run_dir, manifest, pool)
    finally:
        pool.close()
    assert summary.ran == 4 and summary.retried == 2 and summary.infra_errors == 0
    assert (
        "actor failed during the episode"
        in json.loads(episode_path(run_dir, "fake/crash-once.default.000", infra=True).read_text())[
            "error"
        ]
    )
    assert (
        "wall-clock limit of 8 s"
        in json.loads(episode_path(run_dir, "fake/hang-once.default.000", infra=True).read_text())[
            "error"
        ]
    )
    for task in ("ok-a", "crash-once", "hang-once", "ok-b"):
        r = json.loads(episode_path(run_dir, f"fake/{task}.default.000").read_text())
        assert r["status"] == "succeeded"
        assert json.loads(r["reason"])["zygote"] is not None
    assert (run_dir / "artifacts/fake/ok-a.default.000/programs.json").is_file()


@pytest.mark.enable_socket
def test_auto_joins_the_running_cluster_and_artifacts_can_be_shipped(
    ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", ray_head)
    run_dir, manifest = fake_run(tmp_path, ["ok-a", "ok-b"])
    pool = RayPool("auto", workers=1, episode_fn=FAKES, ship_artifacts=True)
    try:
        assert pool.connect().startswith("joined the running Ray cluster at")
        summary = execute_run(run_dir, manifest, pool)
    finally:
        pool.close()
    assert summary.succeeded == 2
    # written by the driver from the actor's reply (a node without the run folder)
    assert json.loads((run_dir / "artifacts/fake/ok-b.default.000/programs.json").read_text()) == [
        {"code": "pass"}
    ]


@pytest.mark.enable_socket
def test_an_address_that_does_not_answer_is_a_user_error() -> None:
    port = _free_port()  # bound then closed: nothing listens
    with pytest.raises(
        UserError, match=rf"no Ray cluster answers at 127.0.0.1:{port}.*ray start --head"
    ):
        RayPool(f"127.0.0.1:{port}").connect()
    assert not ray.is_initialized()
    with pytest.raises(UserError, match="HOST:PORT"):
        RayPool("localhost")
    assert parse_address("ray://[::1]:10001") == ("::1", 10001)
    with pytest.raises(UserError, match="waited at most 1 s"):
        probe_address(f"localhost:{port}", timeout_s=1.0)


def test_without_ray_installed_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'policywright\[ray\]'"):
        RayPool("auto").connect()
