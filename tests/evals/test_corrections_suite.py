"""corrections: the simulated person's deviation logic, and a real corrected episode."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywright.evals._human import SimulatedHuman, direction_word, resolve_script
from policywright.evals._schema import CorrectionScript, load_suite
from policywright.sim import LOCATIONS, TABLE_Z

Z = TABLE_Z + 0.02


def _script(**goal: object) -> CorrectionScript:
    return CorrectionScript.model_validate(
        {
            "goal": {"object": "{block1}", "target": "middle", "offset": [0.0, 0.03], **goal},
            "rules": [
                {"when": "off_target", "say": "a bit more to the {direction}"},
                {"when": "wrong_target", "say": "no, the {target}"},
                {"when": "dropped", "say": "you dropped the {object}"},
            ],
        }
    )


def test_direction_words_follow_the_frame() -> None:
    assert direction_word(0.0, 0.03) == "left"
    assert direction_word(0.0, -0.03) == "right"
    assert direction_word(0.03, 0.01) == "top"
    assert direction_word(-0.03, 0.0) == "bottom"


def test_person_corrects_off_target_and_is_then_satisfied() -> None:
    human = SimulatedHuman(resolve_script(_script(), {"block1": "red block"}))
    mx, my = LOCATIONS["middle"]
    dev = human.deviation({"red block": (mx, my, Z)})
    assert dev is not None and dev.kind == "off_target" and dev.text == "a bit more to the left"
    assert human.deviation({"red block": (mx, my + 0.025, Z)}) is None


def test_person_names_the_bowl_they_meant() -> None:
    script = resolve_script(
        _script(target="{bowl2}", offset=[0.0, 0.0], tolerance_m=0.06),
        {"block1": "red block", "bowl2": "green bowl"},
    )
    human = SimulatedHuman(script)
    poses = {
        "red block": (0.5, 0.1, Z),
        "blue bowl": (0.5, 0.1, TABLE_Z),
        "green bowl": (0.6, -0.15, TABLE_Z),
    }
    dev = human.deviation(poses)
    assert dev is not None and dev.kind == "wrong_target" and dev.text == "no, the green bowl"
    poses["red block"] = (0.6, -0.14, Z)
    assert human.deviation(poses) is None


def test_dropped_far_away() -> None:
    human = SimulatedHuman(resolve_script(_script(), {"block1": "red block"}))
    dev = human.deviation({"red block": (0.45, -0.15, Z)})
    assert dev is not None and dev.kind == "dropped" and dev.text == "you dropped the red block"


def test_suite_loads_with_hidden_slots() -> None:
    suite = load_suite("corrections")
    other = suite.task("other_bowl")
    assert "bowl2" not in other.template_slots() and "bowl2" in other.slots


@pytest.mark.sim
def test_corrected_episode_counts_corrections(tmp_path: Path) -> None:
    from policywright.evals._episodes import EpisodeResult, plan_episodes, run_episode

    suite = load_suite("corrections")
    spec = plan_episodes(suite, tasks=["other_bowl"], trials=1, seed=0)[0]
    res = EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))
    assert res.error is None
    # The command names another bowl than the person means: at least one correction is needed.
    assert res.corrections >= 1
    assert res.details["said"][0].startswith("no, the ")
    # The first sentence came while the robot worked, through the live correction channel
    # (the moment the block was put in the wrong bowl), and the engine re-planned from it.
    assert res.details["live_corrections"] == 1
    assert res.success, res.check_reason
    assert res.repeat_success is not None


@pytest.mark.sim
def test_a_person_who_only_speaks_afterwards(tmp_path: Path) -> None:
    from policywright.evals._episodes import EpisodeResult, plan_episodes, run_episode

    shipped = Path(load_suite("corrections").source).read_text()
    path = tmp_path / "after.yaml"
    path.write_text(shipped.replace("max_corrections: 2", "max_corrections: 2\n      live: false"))
    suite = load_suite(str(path))
    spec = plan_episodes(suite, tasks=["other_bowl"], trials=1, seed=0)[0]
    res = EpisodeResult.model_validate_json(run_episode(spec.model_dump_json(), str(tmp_path)))
    assert res.error is None
    assert res.details["live_corrections"] == 0 and res.corrections >= 1
    assert res.success, res.check_reason
