"""recovery: perturbations fire mid-task; the engine notices and re-plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywright.evals._episodes import EpisodeResult, plan_episodes, run_episode
from policywright.evals._schema import PerturbationSpec, load_suite


def test_suite_shape() -> None:
    suite = load_suite("recovery")
    kinds = {p.kind for t in suite.tasks for p in t.perturbations}
    assert kinds == {"move_object", "slip", "knock_over"}
    with pytest.raises(ValueError, match="did you mean 'slip'"):
        PerturbationSpec(kind="slpi")


def _run(task: str, tmp_path: Path, trial: int = 0) -> EpisodeResult:
    suite = load_suite("recovery")
    spec = plan_episodes(suite, tasks=[task], trials=trial + 1, seed=0)[trial]
    return EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))


@pytest.mark.sim
def test_moved_object_is_noticed_and_recovered(tmp_path: Path) -> None:
    res = _run("moved_after_place", tmp_path)
    fired = res.details["perturbations"]
    assert [f["kind"] for f in fired] == ["move_object"]
    assert res.noticed is True and res.attempts >= 2
    assert res.recovered is True and res.success


@pytest.mark.sim
def test_slip_drops_the_held_block_mid_carry(tmp_path: Path) -> None:
    res = _run("slip_to_location", tmp_path)
    fired = res.details["perturbations"]
    assert [f["kind"] for f in fired] == ["slip"]
    assert fired[0]["object"] == res.command.split("put the ")[1].split(" on the")[0]
    assert res.noticed is True
    assert res.recovered == res.success
