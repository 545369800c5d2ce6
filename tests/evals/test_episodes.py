"""Episodes: deterministic planning, failure categories, infra errors never raise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policywright.errors import ConfigError, UnknownNameError
from policywright.evals._episodes import (
    EpisodeResult,
    EpisodeSpec,
    category_of,
    episode_seed,
    plan_episodes,
    run_episode,
)
from policywright.evals._schema import load_suite


def test_plan_is_deterministic_and_complete() -> None:
    suite = load_suite("cap-tabletop")
    a = plan_episodes(suite, trials=2, seed=3, planner="offline")
    b = plan_episodes(suite, trials=2, seed=3, planner="offline")
    assert a == b and len(a) == 22 * 2
    assert len({s.episode_id for s in a}) == len(a)
    assert a[0].episode_id == "pick_place.SA-SI.000"
    assert a[0].seed == episode_seed(3, "pick_place", "SA-SI", 0)
    assert plan_episodes(suite, trials=2, seed=4)[0].seed != a[0].seed
    only = plan_episodes(suite, splits=["UA-UI"], tasks=["line"], trials=3, seed=0)
    assert [s.episode_id for s in only] == ["line.UA-UI.000", "line.UA-UI.001", "line.UA-UI.002"]
    assert only[0].suite == "cap-tabletop"


def test_plan_rejects_unknown_names_and_options() -> None:
    suite = load_suite("cap-tabletop")
    with pytest.raises(UnknownNameError, match="did you mean 'UA-UI'"):
        plan_episodes(suite, splits=["UA-U"], trials=1)
    with pytest.raises(UnknownNameError, match="did you mean 'line'"):
        plan_episodes(suite, tasks=["lines"], trials=1)
    with pytest.raises(ConfigError, match="invalid episode options"):
        plan_episodes(suite, trials=1, planer="offline")


def test_episode_seed_is_stable() -> None:
    # crc32, not hash(): the same in every process whatever PYTHONHASHSEED is.
    assert episode_seed(0, "pick_place", "SA-SI", 0) == 3251217122


@pytest.mark.parametrize(
    ("attempts", "engine", "timed_out", "expected"),
    [
        ([{"outcome": "succeeded"}], "succeeded", False, "false_success"),
        ([{"outcome": "failed"}], "failed", False, "planner_refused"),
        ([{"outcome": "failed", "actor": "llm", "error": "LLMError"}], "failed", 0, "bad_reply"),
        (
            [{"outcome": "failed", "actor": "user", "error": "ModelRequestError"}],
            "failed",
            False,
            "model_error",
        ),
        ([], "failed", False, "planner_refused"),
        ([{"outcome": "refused", "static": {}}], "failed", False, "static_refusal"),
        (
            [{"outcome": "refused", "static": {}, "execution": {"status": "refused"}}],
            "failed",
            False,
            "safety_refusal",
        ),
        ([{"outcome": "error"}], "failed", False, "runtime_error"),
        ([{"outcome": "timeout"}], "failed", False, "timeout"),
        ([{"outcome": "unverified"}], "failed", False, "verification_failure"),
        ([{"outcome": "unverified"}], "stopped", True, "timeout"),
    ],
)
def test_failure_categories(
    attempts: list[dict[str, object]], engine: str, timed_out: bool, expected: str
) -> None:
    assert category_of(False, engine, attempts, timed_out) == expected
    assert category_of(True, engine, attempts, timed_out) is None


def test_bad_specs_become_infra_errors(tmp_path: Path) -> None:
    out = EpisodeResult.model_validate_json(run_episode("{not json", str(tmp_path)))
    assert out.status == "infra_error" and out.failure_category == "infra" and out.error
    spec = EpisodeSpec(suite="cap-tabletop", task_id="nope", split="SA-SI", trial=0, seed=1)
    res = EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))
    assert res.status == "infra_error" and "UnknownNameError" in str(res.error)
    assert res.episode_id == "nope.SA-SI.000"
    written = json.loads((tmp_path / "nope.SA-SI.000" / "result.json").read_text())
    assert written["status"] == "infra_error"


@pytest.mark.sim
def test_gif_and_rerun_starts_fresh(tmp_path: Path) -> None:
    suite = load_suite("cap-tabletop")
    spec = plan_episodes(suite, tasks=["pick_nth"], splits=["SA-SI"], trials=1, seed=0, gif=True)[0]
    first = EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))
    assert first.success, first.check_reason
    assert (tmp_path / first.episode_id / first.artifacts["gif"]).stat().st_size > 1000
    again = EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))
    # Same seed, fresh state: the same command and outcome, no plan-cache reuse across runs.
    assert (again.command, again.success, again.attempts) == (
        first.command,
        first.success,
        first.attempts,
    )
    assert again.sim_s == pytest.approx(first.sim_s)
