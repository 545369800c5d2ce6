"""One normaliser before any parsing: contractions, case, numbers, spellings."""

from __future__ import annotations

import pytest

from policywright.agent.language import normalise_text
from policywright.agent.planner import OfflinePlanner, PlanContext, ProgramMemory, SceneObject


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Don't move", "do not move"),
        ("don\u2019t move", "do not move"),
        ("It's here, isn't it?", "it is here, is not it?"),
        ("can't won't", "cannot will not"),
        ("move it ten centimetres left", "move it 10 centimeters left"),
        ("twenty-five mm", "25 mm"),
        ("the blue one", "the blue one"),  # "one" alone is a pronoun, not a number
        ("the grey colour at the centre", "the gray color at the center"),
        ("  PUT   the RED block  ", "put the red block"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


def test_a_contraction_and_its_expansion_plan_the_same_program(tmp_path) -> None:
    scene = [
        SceneObject(name=f"{c} {k}", kind=k, color=c, position=(0.4 + i * 0.05, 0.1, 0.64))
        for i, (c, k) in enumerate(
            [("red", "block"), ("blue", "block"), ("red", "bowl"), ("blue", "bowl")]
        )
    ]
    planner = OfflinePlanner(ProgramMemory(tmp_path / "m.sqlite"))
    long = planner.write(
        PlanContext(command="put the blocks in bowls that do not match their colors", scene=scene)
    )
    short = planner.write(
        PlanContext(command="Put the blocks in bowls that don't match their colours", scene=scene)
    )
    assert short.code == long.code and short.check_code == long.check_code
