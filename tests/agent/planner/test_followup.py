"""The offline planner's session follow-ups, by their words (issue 16, item 2)."""

from __future__ import annotations

import pytest

from policywright.agent.planner import OfflinePlanner, PlanContext, ProgramMemory, SessionTurn
from policywright.agent.planner._followup import (
    combine_checks,
    parse_followup,
    referred_turn,
    refers_to_earlier,
)
from policywright.errors import PlannerCannotHandle


@pytest.mark.parametrize(
    ("text", "kind", "of_kind"),
    [
        ("undo that", "undo", ""),
        ("Undo that!", "undo", ""),
        ("ok, undo it please", "undo", ""),
        ("put it back", "undo", ""),
        ("now put them back where they were", "undo", ""),
        ("again", "again", ""),
        ("do it again", "again", ""),
        ("one more time", "again", ""),
        ("repeat that", "again", ""),
        ("do the same with the other blocks", "same_other", "block"),
        ("Now do the same with the other blocks.", "same_other", "block"),
        ("do the same for the remaining cubes", "same_other", "block"),
        ("do the same thing with the other bowls", "same_other", "bowl"),
        ("and then do the same with the other ones", "same_other", ""),
    ],
)
def test_known_phrases(text: str, kind: str, of_kind: str) -> None:
    found = parse_followup(text)
    assert found is not None and (found.kind, found.of_kind) == (kind, of_kind)


@pytest.mark.parametrize(
    "text",
    ["make the line longer", "put the red block in the blue bowl", "undo the stacking of blocks"],
)
def test_other_text_is_no_known_followup(text: str) -> None:
    assert parse_followup(text) is None


def test_referring_words_and_the_turn_they_refer_to() -> None:
    turns = [
        SessionTurn(command="put the blocks in a horizontal line", program="x()", index=1),
        SessionTurn(command="put the red block in the blue bowl", program="y()", index=2),
    ]
    assert refers_to_earlier("make the line longer")
    assert not refers_to_earlier("put the red block in the blue bowl")
    assert referred_turn("make the line longer", turns) is turns[0]
    assert referred_turn("do that more slowly", turns) is turns[1]


def test_combined_checks_succeed_only_together() -> None:
    one = "a = 1\nverdict(a == 1, 'one ' + str(a))\n"
    two = "a = 2\nverdict(a == 3, 'two')\n"
    combined = combine_checks([one, two])
    assert combined is not None
    seen: list[tuple[bool, str]] = []
    # Plain Python: run it with a stand-in for the verdict primitive.
    exec(combined, {"verdict": lambda ok, why: seen.append((ok, why))})
    assert seen == [(False, "one 1; two")]
    assert (
        combine_checks(["if x:\n    verdict(True, 'a')\nelse:\n    verdict(False, 'b')\n", one])
        is None
    )


def _ctx(command: str, history: list[SessionTurn]) -> PlanContext:
    scene = [
        {"name": n, "kind": n.split()[1], "color": n.split()[0], "position": (0.4, y, 0.0)}
        for y, n in ((0.1, "red block"), (0.0, "green block"), (-0.1, "yellow block"),
                     (0.2, "blue bowl"))
    ]  # fmt: skip
    return PlanContext(command=command, scene=scene, history=history)


def test_same_with_the_other_blocks_binds_the_untouched_ones() -> None:
    planner = OfflinePlanner(ProgramMemory(":memory:"))
    first = planner.write(_ctx("put the red block in the blue bowl", []))
    turn = SessionTurn(
        command="put the red block in the blue bowl",
        program=first.code,
        check_program=first.check_code,
        family=first.family,
        slots=first.slots,
        provenance=first.provenance,
        moved=["red block"],
        index=1,
        thread_id="s-1",
    )
    same = planner.write(_ctx("do the same with the other blocks", [turn]))
    assert "put_first_on_second('green block', 'blue bowl')" in same.code
    assert "put_first_on_second('yellow block', 'blue bowl')" in same.code
    assert "'red block'" not in same.code and same.check_code.count("verdict(") == 1
    again = planner.write(_ctx("again", [turn]))
    assert again.code == first.code and "again of turn 1" in again.provenance
    with pytest.raises(PlannerCannotHandle, match="no other bowls"):
        planner.write(_ctx("do the same with the other bowls", [turn]))
    with pytest.raises(PlannerCannotHandle) as refused:
        planner.write(_ctx("make the line longer", [turn]))
    assert "turn 1 (s-1" in str(refused.value) and "--llm" in str(refused.value)
    assert "can't plan" not in str(refused.value)
    # Without a session, the follow-up words say what they need.
    with pytest.raises(PlannerCannotHandle, match="--session"):
        planner.write(_ctx("undo that", []))
    assert planner.undo_target(_ctx("undo that", [turn])) is turn
    assert planner.undo_target(_ctx("again", [turn])) is None
    still = turn.model_copy(update={"moved": []})
    with pytest.raises(PlannerCannotHandle, match="nothing to undo"):
        planner.undo_target(_ctx("put it back", [still]))
