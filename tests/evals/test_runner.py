from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policywright.errors import UnknownNameError, UserError
from policywright.evals._episodes import EpisodeSpec
from policywright.evals._rundir import (
    Manifest,
    PlannedEpisode,
    atomic_write_text,
    episode_path,
    load_run,
    read_manifest,
)
from policywright.evals._runner import (
    LocalPool,
    RunOptions,
    execute_run,
    open_run,
    plan_run,
)

FAKES = "pw_eval_fakes:fake_episode"


@pytest.fixture(autouse=True)
def _fakes_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spawned workers receive the parent's sys.path.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def fake_run(
    tmp_path: Path, tasks: list[str], *, trials: int = 1, timeout_s: float = 120.0
) -> tuple[Path, Manifest]:
    episodes = []
    for task in tasks:
        for trial in range(trials):
            spec = EpisodeSpec(suite="fake", task_id=task, split="default", trial=trial, seed=trial)
            episodes.append(
                PlannedEpisode(
                    key=f"fake/{spec.episode_id}",
                    suite_id="fake",
                    family="fake",
                    timeout_s=timeout_s,
                    spec=spec.model_dump(mode="json"),
                )
            )
    manifest = Manifest(
        run_id="r1", policywright_version="test", suites=["fake"], episodes=episodes
    )
    run_dir = tmp_path / "r1"
    atomic_write_text(run_dir / "manifest.json", manifest.model_dump_json())
    return run_dir, read_manifest(run_dir)


def result(run_dir: Path, key: str, *, infra: bool = False) -> dict[str, Any]:
    return json.loads(episode_path(run_dir, key, infra=infra).read_text())


def test_pool_runs_every_episode_and_each_worker_reuses_one_sandbox(tmp_path: Path) -> None:
    run_dir, manifest = fake_run(tmp_path, ["ok-a", "ok-b"], trials=3)
    events: list[tuple[str, dict[str, Any]]] = []
    summary = execute_run(
        run_dir,
        manifest,
        LocalPool(2, episode_fn=FAKES),
        on_event=lambda k, d: events.append((k, d)),
    )
    assert (summary.planned, summary.ran, summary.skipped, summary.retried) == (6, 6, 0, 0)
    assert summary.succeeded == 4 and summary.failed == 2  # seeds 0 and 2 succeed
    zygote_of: dict[int, set[int]] = {}
    for e in manifest.episodes:
        r = result(run_dir, e.key)
        assert r["episode_id"] == e.episode_id and r["success"] == (e.spec["seed"] % 2 == 0)
        where = json.loads(r["reason"])
        assert where["zygote"] is not None  # a real, started sandbox was passed
        zygote_of.setdefault(where["pid"], set()).add(where["zygote"])
        assert (run_dir / "artifacts" / "fake" / e.episode_id / "programs.json").is_file()
    assert 1 <= len(zygote_of) <= 2
    assert all(len(z) == 1 for z in zygote_of.values())  # one sandbox per worker, reused
    kinds = [k for k, _ in events]
    assert kinds[0] == "start" and kinds.count("episode") == 6
    assert events[-1][1]["done"] == 6
    # the workers' output (PyBullet's banner, logs) goes to the run's log, not our stdout
    assert (run_dir / "workers.log").exists()


def test_rerun_skips_finished_episodes(tmp_path: Path) -> None:
    run_dir, manifest = fake_run(tmp_path, ["ok-a"], trials=4)
    execute_run(run_dir, manifest, LocalPool(1, episode_fn=FAKES))
    keep = episode_path(run_dir, manifest.episodes[0].key).read_text()
    episode_path(run_dir, manifest.episodes[2].key).unlink()
    summary = execute_run(run_dir, manifest, LocalPool(2, episode_fn=FAKES))
    assert (summary.skipped, summary.ran) == (3, 1)
    assert episode_path(run_dir, manifest.episodes[0].key).read_text() == keep
    assert len(load_run(run_dir).results) == 4
    again = execute_run(run_dir, manifest, LocalPool(2, episode_fn=FAKES))
    assert (again.skipped, again.ran) == (4, 0)


def test_a_crashed_worker_is_an_infra_error_retried_once_on_a_fresh_worker(tmp_path: Path) -> None:
    run_dir, manifest = fake_run(tmp_path, ["crash-once", "kill-once", "ok-a"], trials=2)
    summary = execute_run(run_dir, manifest, LocalPool(2, episode_fn=FAKES))
    assert summary.retried == 4 and summary.infra_errors == 0 and summary.ran == 6
    for task in ("crash-once", "kill-once"):
        for trial in range(2):
            key = f"fake/{task}.default.{trial:03d}"
            first = result(run_dir, key, infra=True)
            assert first["status"] == "infra_error" and first["failure_category"] == "infra"
            assert "worker process died" in first["error"]
            assert ("signal 9" if task == "kill-once" else "exit code 3") in first["error"]
            final = result(run_dir, key)
            assert final["status"] != "infra_error"
            crashed_pid = int(
                (run_dir / "artifacts/fake" / f"{task}.default.{trial:03d}.marker").read_text()
            )
            assert json.loads(final["reason"])["pid"] != crashed_pid  # a fresh worker
    data = load_run(run_dir)
    assert len(data.results) == 6 and data.infra_retries == 4


def test_a_hung_episode_is_killed_at_its_wall_limit_and_retried(tmp_path: Path) -> None:
    run_dir, manifest = fake_run(tmp_path, ["hang-once", "ok-a"], timeout_s=4.0)
    summary = execute_run(run_dir, manifest, LocalPool(2, episode_fn=FAKES))
    assert summary.retried == 1 and summary.ran == 2 and summary.infra_errors == 0
    first = result(run_dir, "fake/hang-once.default.000", infra=True)
    assert "wall-clock limit of 4 s" in first["error"]
    assert result(run_dir, "fake/hang-once.default.000")["status"] == "succeeded"


def test_a_second_infra_error_is_the_result_and_the_run_goes_on(tmp_path: Path) -> None:
    run_dir, manifest = fake_run(tmp_path, ["crash-always", "ok-a", "infra-once", "raise-once"])
    summary = execute_run(run_dir, manifest, LocalPool(1, episode_fn=FAKES))
    assert summary.ran == 4 and summary.infra_errors == 1 and summary.retried == 3
    final = result(run_dir, "fake/crash-always.default.000")
    assert final["status"] == "infra_error" and final["failure_category"] == "infra"
    assert final["family"] == "fake" and final["success"] is False
    assert "exit code 4" in final["error"]
    assert (
        "the episode function raised"
        in result(run_dir, "fake/raise-once.default.000", infra=True)["error"]
    )
    for key in ("ok-a", "infra-once", "raise-once"):
        assert result(run_dir, f"fake/{key}.default.000")["status"] == "succeeded"
    # an infra error is not finished: a rerun tries it again
    again = execute_run(run_dir, manifest, LocalPool(1, episode_fn=FAKES))
    assert (again.skipped, again.ran, again.infra_errors) == (3, 1, 1)


def test_a_run_folder_of_another_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    run_dir, _ = fake_run(tmp_path, ["ok-a"])
    raw = json.loads((run_dir / "manifest.json").read_text())
    raw["version"] = 0
    (run_dir / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(UserError, match=r"version 0.*reads version 1.*fresh run"):
        read_manifest(run_dir)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not an evaluation run folder"):
        read_manifest(tmp_path / "empty")


def test_open_run_resumes_the_same_episodes_and_refuses_other_ones(tmp_path: Path) -> None:
    opts = RunOptions(suites=["cap-tabletop"], splits=["SA-SI"], tasks=["pick_place"], trials=2)
    _, manifest = open_run(opts, tmp_path, "r")
    assert [e.key for e in manifest.episodes] == [
        "cap-tabletop/pick_place.SA-SI.000",
        "cap-tabletop/pick_place.SA-SI.001",
    ]
    assert manifest.episodes[0].timeout_s > 120.0  # base + the task's simulated-time limit
    assert open_run(opts, tmp_path, "r")[1] == manifest
    with pytest.raises(UserError, match=r"other episodes.*another --run-id"):
        open_run(opts.model_copy(update={"trials": 3}), tmp_path, "r")
    with pytest.raises(UserError, match="invalid run id"):
        open_run(opts, tmp_path, "../x")


def test_plan_is_deterministic_and_filters_apply_across_suites() -> None:
    opts = RunOptions(suites=["cap-tabletop"], splits=["UA-UI"], trials=2, seed=7)
    a, b = plan_run(opts), plan_run(opts)
    assert a == b and len(a) == 6 * 2
    with pytest.raises(UnknownNameError, match="did you mean 'SA-SI'"):
        plan_run(RunOptions(suites=["cap-tabletop"], splits=["SA-S"], trials=1))
    from policywright.evals._schema import suite_ids

    every = suite_ids()
    planned = plan_run(RunOptions(suites=every, splits=["SA-SI"], tasks=["stack_all"], trials=1))
    assert [p.key for p in planned] == ["cap-tabletop/stack_all.SA-SI.000"]
    with pytest.raises(UnknownNameError, match="unknown split"):
        plan_run(RunOptions(suites=every, splits=["nope"], trials=1))


@pytest.mark.sim
def test_same_seeds_same_outcomes_on_one_or_two_workers(tmp_path: Path) -> None:
    opts = RunOptions(
        suites=["cap-tabletop"],
        splits=["SA-SI", "UA-UI"],
        tasks=["pick_place", "different_corners", "line"],
        trials=2,
        seed=3,
    )
    outcomes = []
    for workers in (1, 2):
        run_dir, manifest = open_run(opts, tmp_path, f"w{workers}")
        summary = execute_run(run_dir, manifest, LocalPool(workers))
        assert summary.ran == 6 and summary.infra_errors == 0
        outcomes.append(
            [
                (
                    r["episode_id"],
                    r["command"],
                    r["success"],
                    r["failure_category"],
                    r["attempts"],
                    round(r["sim_s"], 6),
                )
                for r in load_run(run_dir).results
            ]
        )
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]) == 6
