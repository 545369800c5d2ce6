"""cap-tabletop: ground-truth checkers on hand-built poses, the feasible sampler, real episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policywright.evals._checkers import CheckInput, check, on_top_of, select_block
from policywright.evals._sampling import already_done, feasibility_problem, sample_episode
from policywright.evals._schema import load_suite
from policywright.sim import LOCATIONS, TABLE_Z, SceneSpec

Z_BLOCK = TABLE_Z + 0.02  # a block resting on the table
Z_BOWL = TABLE_Z
Z2 = Z_BLOCK + 0.04  # a block on a block


def _run(
    name: str,
    final: dict[str, tuple[float, float, float]],
    slots: dict[str, str] | None = None,
    params: dict[str, object] | None = None,
    initial: dict[str, tuple[float, float, float]] | None = None,
) -> bool:
    inp = CheckInput(initial=initial or final, final=final, slots=slots or {}, params=params or {})
    return check(name, inp).success


def _at(
    location: str, dx: float = 0.0, dy: float = 0.0, z: float = Z_BLOCK
) -> tuple[float, float, float]:
    x, y = LOCATIONS[location]
    return (x + dx, y + dy, z)


# -- on_top_of: the paper's thresholds ------------------------------------------------------------


def test_on_top_of_location_is_6_cm_in_xy() -> None:
    assert on_top_of({"red block": _at("top left corner", 0.059)}, "red block", "top left corner")[
        0
    ]
    assert not on_top_of(
        {"red block": _at("top left corner", 0.061)}, "red block", "top left corner"
    )[0]


def test_on_top_of_bowl_is_6_cm_and_higher() -> None:
    bowl = (0.5, 0.0, Z_BOWL)
    assert on_top_of({"b": (0.55, 0.0, Z_BLOCK), "w bowl": bowl}, "b", "w bowl")[0]
    assert not on_top_of({"b": (0.565, 0.0, Z_BLOCK), "w bowl": bowl}, "b", "w bowl")[0]
    assert not on_top_of({"b": (0.5, 0.0, Z_BOWL - 0.01), "w bowl": bowl}, "b", "w bowl")[0]


def test_on_top_of_block_is_4_cm_and_higher() -> None:
    base = (0.5, 0.0, Z_BLOCK)
    assert on_top_of({"a block": (0.53, 0.0, Z2), "b block": base}, "a block", "b block")[0]
    assert not on_top_of({"a block": (0.545, 0.0, Z2), "b block": base}, "a block", "b block")[0]
    assert not on_top_of({"a block": (0.5, 0.01, Z_BLOCK), "b block": base}, "a block", "b block")[
        0
    ]
    assert not on_top_of({"b block": base}, "a block", "b block")[0]


def test_pick_place_checker() -> None:
    slots = {"block1": "red block", "target": "blue bowl"}
    params = {"object": "block1", "target": "target"}
    good = {"red block": (0.52, 0.1, Z_BLOCK), "blue bowl": (0.5, 0.1, Z_BOWL)}
    bad = {"red block": (0.6, 0.1, Z_BLOCK), "blue bowl": (0.5, 0.1, Z_BOWL)}
    assert _run("on_top_of", good, slots, params)
    assert not _run("on_top_of", bad, slots, params)


# -- stacks, bowls, colours ---------------------------------------------------------------------


def test_stack() -> None:
    tower = {
        "a block": (0.5, 0.0, Z_BLOCK),
        "b block": (0.51, 0.0, Z2),
        "c block": (0.5, 0.01, Z2 + 0.04),
    }
    assert _run("stack", tower)
    leaning = dict(tower, **{"c block": (0.55, 0.0, Z2 + 0.04)})
    assert not _run("stack", leaning)
    side_by_side = {"a block": (0.5, 0.0, Z_BLOCK), "b block": (0.53, 0.0, Z_BLOCK + 0.005)}
    assert not _run("stack", side_by_side)
    assert not _run("stack", {"a block": (0.5, 0.0, Z_BLOCK)})


def test_stack_on_location() -> None:
    params, slots = {"location": "location"}, {"location": "bottom side"}
    tower = {"a block": _at("bottom side", 0.02), "b block": _at("bottom side", 0.02, z=Z2)}
    assert _run("stack", tower, slots, params)
    away = {"a block": _at("bottom side", 0.07), "b block": _at("bottom side", 0.07, z=Z2)}
    assert not _run("stack", away, slots, params)


def test_all_blocks_on_location_and_bowl() -> None:
    slots, params = {"location": "left side"}, {"target": "location"}
    ok = {
        "a block": _at("left side", 0.01),
        "b block": _at("left side", -0.02, z=Z2),
        "r bowl": (0.5, 0.0, Z_BOWL),
    }
    assert _run("all_blocks_on", ok, slots, params)
    one_off = dict(ok, **{"b block": _at("left side", 0.2)})
    assert not _run("all_blocks_on", one_off, slots, params)
    bowl = {
        "a block": (0.5, 0.01, Z_BLOCK),
        "b block": (0.49, 0.0, Z2),
        "red bowl": (0.5, 0.0, Z_BOWL),
    }
    assert _run("all_blocks_on", bowl, {"bowl1": "red bowl"}, {"target": "bowl1"})
    assert not _run(
        "all_blocks_on",
        {"red bowl": (0.5, 0.0, Z_BOWL)},
        {"bowl1": "red bowl"},
        {"target": "bowl1"},
    )


def test_matching_and_mismatched_colors() -> None:
    bowls = {"red bowl": (0.45, 0.15, Z_BOWL), "blue bowl": (0.6, -0.15, Z_BOWL)}
    matched = dict(
        bowls,
        **{
            "red block": (0.45, 0.16, Z_BLOCK),
            "blue block": (0.61, -0.15, Z_BLOCK),
            "green block": (0.4, 0.0, Z_BLOCK),
        },
    )
    assert _run("matching_colors", matched)
    assert not _run("mismatched_colors", matched)
    swapped = dict(
        bowls, **{"red block": (0.6, -0.14, Z_BLOCK), "blue block": (0.45, 0.15, Z_BLOCK)}
    )
    assert _run("mismatched_colors", swapped)
    assert not _run("matching_colors", swapped)
    outside = dict(swapped, **{"green block": (0.4, 0.0, Z_BLOCK)})
    assert not _run("mismatched_colors", outside)
    assert not _run(
        "matching_colors", {"red block": (0.5, 0.0, Z_BLOCK), "blue bowl": (0.6, 0.0, Z_BOWL)}
    )


# -- relational selections ------------------------------------------------------------------------


def _scene() -> dict[str, tuple[float, float, float]]:
    return {
        "blue bowl": (0.52, 0.0, Z_BOWL),
        "red block": (0.66, 0.02, Z_BLOCK),  # top (far) of the bowl
        "green block": (0.5, 0.2, Z_BLOCK),  # left of the bowl
        "yellow block": (0.4, -0.22, Z_BLOCK),  # bottom right
    }


def test_select_block_by_direction_distance_and_order() -> None:
    scene = _scene()
    assert (
        select_block(scene, "direction_of_bowl", {"bowl1": "blue bowl", "direction": "top"})[0]
        == "red block"
    )
    assert (
        select_block(scene, "direction_of_bowl", {"bowl1": "blue bowl", "direction": "left"})[0]
        == "green block"
    )
    assert (
        select_block(scene, "distance_to_bowl", {"bowl1": "blue bowl", "distance": "closest"})[0]
        == "red block"
    )
    assert (
        select_block(scene, "distance_to_bowl", {"bowl1": "blue bowl", "distance": "farthest"})[0]
        == "yellow block"
    )
    assert (
        select_block(scene, "nth_from_side", {"direction": "left", "nth": "first"})[0]
        == "green block"
    )
    assert (
        select_block(scene, "nth_from_side", {"direction": "left", "nth": "second"})[0]
        == "red block"
    )
    assert select_block(scene, "nth_from_side", {"direction": "left", "nth": "fourth"})[0] is None


def test_selected_block_on_uses_the_start_scene() -> None:
    start = _scene()
    slots = {"bowl1": "blue bowl", "direction": "left", "location": "top left corner"}
    done = dict(start, **{"green block": _at("top left corner", 0.01)})
    assert _run("selected_block_on", done, slots, {"select": "direction_of_bowl"}, initial=start)
    wrong = dict(start, **{"red block": _at("top left corner")})
    assert not _run(
        "selected_block_on", wrong, slots, {"select": "direction_of_bowl"}, initial=start
    )
    both = dict(done, **{"red block": _at("top left corner", z=Z2)})
    assert not _run(
        "selected_block_on", both, slots, {"select": "direction_of_bowl"}, initial=start
    )


def test_different_corners() -> None:
    ok = {"a block": _at("top left corner"), "b block": _at("bottom right corner", 0.03)}
    assert _run("different_corners", ok)
    shared = {"a block": _at("top left corner"), "b block": _at("top left corner", z=Z2)}
    assert not _run("different_corners", shared)
    off = {"a block": _at("top left corner"), "b block": _at("top side")}
    assert not _run("different_corners", off)


def test_offset_from_bowl_magnitudes() -> None:
    slots = {
        "block1": "red block",
        "bowl1": "blue bowl",
        "direction": "right",
        "magnitude": "a little",
    }
    bowl = (0.5, 0.0, Z_BOWL)
    little = {"blue bowl": bowl, "red block": (0.51, -0.10, Z_BLOCK)}
    lot = {"blue bowl": bowl, "red block": (0.5, -0.20, Z_BLOCK)}
    assert _run("offset_from_bowl", little, slots)
    assert not _run("offset_from_bowl", lot, slots)
    assert _run("offset_from_bowl", lot, dict(slots, magnitude="a lot"))
    assert not _run("offset_from_bowl", little, dict(slots, magnitude="a lot"))
    wrong_side = {"blue bowl": bowl, "red block": (0.5, 0.10, Z_BLOCK)}
    assert not _run("offset_from_bowl", wrong_side, slots)
    diagonal = {"blue bowl": bowl, "red block": (0.62, -0.10, Z_BLOCK)}
    assert not _run("offset_from_bowl", diagonal, slots)


def test_corner_by_distance() -> None:
    start = {"blue bowl": (0.62, 0.2, Z_BOWL), "red block": (0.45, 0.0, Z_BLOCK)}
    slots = {"block1": "red block", "bowl1": "blue bowl", "distance": "closest"}
    near = dict(start, **{"red block": _at("top left corner")})
    far = dict(start, **{"red block": _at("bottom right corner")})
    assert _run("corner_by_distance", near, slots, initial=start)
    assert not _run("corner_by_distance", far, slots, initial=start)
    assert _run("corner_by_distance", far, dict(slots, distance="farthest"), initial=start)


def test_line() -> None:
    horizontal = {
        f"{c} block": (0.52 + 0.005 * i, 0.15 - 0.1 * i, Z_BLOCK)
        for i, c in enumerate(["a", "b", "c", "d"])
    }
    assert _run("line", horizontal, {"line": "horizontal"})
    assert not _run("line", horizontal, {"line": "vertical"})
    vertical = {
        f"{c} block": (0.4 + 0.08 * i, 0.01, Z_BLOCK) for i, c in enumerate(["a", "b", "c"])
    }
    assert _run("line", vertical, {"line": "vertical"})
    diagonal = {
        f"{c} block": (0.4 + 0.08 * i, -0.1 + 0.08 * i, Z_BLOCK)
        for i, c in enumerate(["a", "b", "c"])
    }
    assert _run("line", diagonal, {"line": "diagonal"})
    bent = dict(vertical, **{"b block": (0.48, 0.08, Z_BLOCK)})
    assert not _run("line", bent, {"line": "vertical"})
    crowded = dict(vertical, **{"b block": (0.42, 0.01, Z_BLOCK)})
    assert not _run("line", crowded, {"line": "vertical"})
    stacked = dict(vertical, **{"b block": (0.48, 0.01, Z2)})
    assert not _run("line", stacked, {"line": "vertical"})


# -- sampler -----------------------------------------------------------------------------------


def test_every_cell_samples_feasible_deterministic_episodes() -> None:
    suite = load_suite("cap-tabletop")
    for split in suite.splits:
        attrs = suite.split(split).attributes
        for task in suite.tasks_for(split):
            for seed in (7,):
                ep = sample_episode(suite, task, split, seed)
                if task.id in ("pick_by_direction", "offset_from_bowl"):
                    assert ep == sample_episode(suite, task, split, seed)
                assert isinstance(ep.scene, SceneSpec)
                names = ep.scene.names
                for value in ep.slots.values():
                    assert value in suite.slot_values(
                        task, next(k for k, v in ep.slots.items() if v == value), attrs
                    )
                    if value.endswith((" block", " bowl")):
                        assert value in names
                colours = {n.split()[0] for n in names}
                pool = {v.split()[0] for v in suite.attributes["block"][attrs]}
                assert colours <= pool, (split, task.id, colours)
                blocks = sum(n.endswith(" block") for n in names)
                bowls = sum(n.endswith(" bowl") for n in names)
                assert 2 <= bowls <= 4 and 1 <= blocks <= 4
                assert feasibility_problem(task, ep.scene, ep.slots) is None
                assert not already_done(task, ep.scene, ep.slots)
                if task.id == "pick_nth":
                    need = {"first": 1, "second": 2, "third": 3, "fourth": 4}[ep.slots["nth"]]
                    assert blocks >= max(2, need)


def test_constraints_reject_infeasible_scenes() -> None:
    suite = load_suite("cap-tabletop")
    task = suite.task("pick_by_distance")
    two_equal = SceneSpec.model_validate(
        {
            "objects": [
                {"name": "blue bowl", "kind": "bowl", "color": "blue", "position": [0.52, 0.0]},
                {"name": "red block", "kind": "block", "color": "red", "position": [0.62, 0.0]},
                {"name": "green block", "kind": "block", "color": "green", "position": [0.42, 0.0]},
            ]
        }
    )
    slots = {"distance": "closest", "bowl1": "blue bowl", "location": "top side"}
    assert feasibility_problem(task, two_equal, slots) is not None
    mismatch = suite.task("mismatched_colors")
    one_bowl = SceneSpec.model_validate(
        {
            "objects": [
                {"name": "red bowl", "kind": "bowl", "color": "red", "position": [0.52, 0.0]},
                {"name": "red block", "kind": "block", "color": "red", "position": [0.62, 0.2]},
            ]
        }
    )
    assert "mismatch_possible" in str(feasibility_problem(mismatch, one_bowl, {}))


# -- real episodes -----------------------------------------------------------------------------


@pytest.mark.sim
def test_offline_episodes_seen_and_unseen(tmp_path: Path) -> None:
    from policywright.evals._episodes import EpisodeResult, plan_episodes, run_episode

    suite = load_suite("cap-tabletop")
    specs = plan_episodes(
        suite, splits=["SA-SI", "UA-UI"], tasks=["pick_place", "line"], trials=1, seed=0
    )
    assert [(s.task_id, s.split) for s in specs] == [("pick_place", "SA-SI"), ("line", "UA-UI")]
    seen = EpisodeResult.model_validate_json(run_episode(specs[0].model_dump_json(), str(tmp_path)))
    assert seen.status == "succeeded" and seen.success and seen.failure_category is None
    assert seen.latency_first_motion_s is not None and seen.sim_s > 0
    folder = tmp_path / seen.episode_id
    for key in ("programs", "verdicts", "final_top", "final_front"):
        assert (folder / seen.artifacts[key]).is_file()
    programs = json.loads((folder / "programs.json").read_text())
    assert "put_first_on_second" in programs[0]["code"]
    # Unseen instruction: its family is excluded from the offline planner's memory.
    unseen = EpisodeResult.model_validate_json(
        run_episode(specs[1].model_dump_json(), str(tmp_path))
    )
    assert not unseen.success and unseen.failure_category == "planner_refused"
    assert unseen.latency_first_motion_s is None
