"""navigation: floor checkers on hand-built poses, the sampler, the floor memory file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from policywright.evals._checkers import CheckInput, check, landmark_visits
from policywright.evals._sampling import feasibility_problem, sample_episode
from policywright.evals._schema import load_suite
from policywright.sim import FloorSpec

MARKS = {
    "red landmark": (2.0, 0.0, 0.25),
    "blue landmark": (0.0, 2.0, 0.25),
    "green landmark": (-2.0, 0.0, 0.25),
}


def _inp(
    robot: tuple[float, float],
    slots: dict[str, str],
    *,
    start: tuple[float, float] = (0.0, 0.0),
    track: tuple[tuple[float, float], ...] = (),
) -> CheckInput:
    initial = dict(MARKS, robot=(start[0], start[1], 0.3))
    final = dict(MARKS, robot=(robot[0], robot[1], 0.3))
    visits = landmark_visits(track, {k: v for k, v in MARKS.items()})
    return CheckInput(
        initial=initial, final=final, slots=slots, params={}, track=track, visits=visits
    )


def test_near_landmark_within_0_75_m() -> None:
    slots = {"landmark1": "red landmark"}
    assert check("near_landmark", _inp((1.55, 0.0), slots)).success
    assert not check("near_landmark", _inp((1.2, 0.0), slots)).success


def test_visits_follow_the_track() -> None:
    track = ((0.0, 0.0), (1.5, 0.1), (1.5, 0.1), (0.1, 1.5), (0.0, 0.0))
    assert landmark_visits(track, MARKS) == ["red landmark", "blue landmark"]


def test_visited_in_order() -> None:
    slots = {"landmark1": "red landmark", "landmark2": "blue landmark"}
    good = ((0.0, 0.0), (1.5, 0.0), (0.0, 1.5))
    assert check("visited_in_order", _inp((0.0, 1.5), slots, track=good)).success
    backwards = ((0.0, 0.0), (0.0, 1.5), (1.5, 0.0), (0.0, 1.5))
    res = check("visited_in_order", _inp((0.0, 1.5), slots, track=backwards[:2]))
    assert not res.success
    assert check(
        "visited_in_order", _inp((0.0, 1.5), slots, track=backwards)
    ).success  # red then blue, after all
    skipped = ((0.0, 0.0), (0.0, 1.5))
    assert not check("visited_in_order", _inp((0.0, 1.5), slots, track=skipped)).success


def test_between_and_return() -> None:
    slots = {"landmark1": "red landmark", "landmark2": "blue landmark"}
    assert check("between_landmarks", _inp((1.1, 0.9), slots)).success
    assert not check("between_landmarks", _inp((0.5, 0.5), slots)).success
    went = ((0.0, 0.0), (1.5, 0.0), (0.1, 0.0))
    one = {"landmark1": "red landmark"}
    assert check("return_to_start", _inp((0.1, 0.05), one, track=went)).success
    assert not check("return_to_start", _inp((0.6, 0.0), one, track=went)).success
    assert not check("return_to_start", _inp((0.0, 0.0), one, track=((0.0, 0.0),))).success


def test_sampler_names_scene_landmarks_and_keeps_paths_clear() -> None:
    suite = load_suite("navigation")
    for task in suite.tasks_for("default"):
        for seed in range(4):
            ep = sample_episode(suite, task, "default", seed)
            assert isinstance(ep.scene, FloorSpec)
            assert ep == sample_episode(suite, task, "default", seed)
            for slot, value in ep.slots.items():
                assert value in ep.scene.names, (slot, value)
            if "landmark2" in ep.slots:
                assert ep.slots["landmark1"] != ep.slots["landmark2"]
            assert feasibility_problem(task, ep.scene, ep.slots) is None
            assert ep.command == task.template.format(**ep.slots)


def test_floor_memory_file_has_a_family_per_task() -> None:
    path = Path(str(resources.files("policywright.agent.planner").joinpath("examples_floor.yaml")))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["world"] == "floor"
    families = {f["family"]: f for f in data["families"]}
    assert set(families) == {
        "go_to_landmark",
        "visit_in_order",
        "between_landmarks",
        "go_and_return",
    }
    suite = load_suite("navigation")
    for task in suite.tasks:
        generic = task.template
        assert any(generic == cmd for f in families.values() for cmd in f["commands"]), generic


@pytest.mark.sim
@pytest.mark.parametrize(
    "task", ["go_to_landmark", "visit_in_order", "between_landmarks", "go_and_return"]
)
def test_navigation_episode_succeeds_offline(tmp_path: Path, task: str) -> None:
    from policywright.evals._episodes import EpisodeResult, plan_episodes, run_episode

    suite = load_suite("navigation")
    spec = plan_episodes(suite, tasks=[task], trials=1, seed=0)[0]
    res = EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))
    assert res.error is None
    assert "visits" in res.details
    # The offline planner plans floor commands from examples_floor.yaml; ground truth agrees.
    assert res.engine_status == "succeeded", res.reason
    assert res.success, res.check_reason
