"""Retrieval: which family each phrasing maps to, and what is refused."""

from __future__ import annotations

import logging

import pytest

from policywright.agent.planner import (
    DEFAULT_THRESHOLD,
    OfflinePlanner,
    PlanContext,
    ProgramMemory,
    SceneObject,
    abstract_command,
)
from policywright.errors import PlannerCannotHandle

# (command, expected family). The first block of each family is a seed phrasing with other
# attributes; the rest are paraphrases that are NOT in examples.yaml.
KNOWN = [
    ("put the red block in the blue bowl", "place_in_bowl"),
    ("Pick up the green block and place it on the yellow bowl.", "place_in_bowl"),
    ("place the red block inside the blue bowl", "place_in_bowl"),
    ("drop the red block into the blue bowl", "place_in_bowl"),
    ("could you put the red block in the blue bowl please", "place_in_bowl"),
    ("pick up the red block and place it on the blue block", "place_on_block"),
    ("stack the green block on top of the red block", "place_on_block"),
    ("place the red block onto the blue block", "place_on_block"),
    ("put the red block on the top left corner", "place_at_location"),
    ("move the red block to the middle", "place_at_location"),
    ("place the blue block in the bottom right corner", "place_at_location"),
    ("stack all the blocks", "stack_all"),
    ("stack every block", "stack_all"),
    ("Stack the blocks!", "stack_all"),
    ("build a tower with all the blocks", "stack_all"),
    ("stack all the blocks on the top side", "stack_at_location"),
    ("stack the blocks in the bottom left corner", "stack_at_location"),
    ("put the blocks in the blue bowl", "blocks_in_bowl"),
    ("put every block into the yellow bowl", "blocks_in_bowl"),
    ("put all the blocks in the bowls with matching colors", "matching_colors"),
    ("put all the blocks in the bowls with matching colours", "matching_colors"),
    ("put each block into the bowl with the same colour", "matching_colors"),
    ("put the blocks in the bowls with mismatched colors", "mismatched_colors"),
    ("put every block in a bowl with a different colour", "mismatched_colors"),
    ("put all the blocks on the bottom right corner", "all_at_location"),
    ("move every block to the left side", "all_at_location"),
    ("put all the blocks in different corners", "different_corners"),
    ("place each block in a different corner", "different_corners"),
    ("put all the blocks in a diagonal line", "line"),
    ("arrange all blocks in a vertical line", "line"),
    ("line the blocks up diagonally", "line"),
    ("put the blocks in a horizontal row", "line"),
    ("put the red block to the left of the blue bowl", "place_beside_bowl"),
    ("place the green block to the right of the yellow bowl", "place_beside_bowl"),
    (
        "pick up the red block and place it a little to the top of the blue bowl",
        "place_offset_from_bowl",
    ),
    ("put the red block a lot to the right of the blue bowl", "place_offset_from_bowl"),
    (
        "pick up the block to the left of the blue bowl and place it on the top side",
        "pick_by_direction",
    ),
    (
        "pick up the block closest to the blue bowl and place it on the top left corner",
        "pick_by_distance",
    ),
    ("pick up the block nearest to the red bowl and put it on the middle", "pick_by_distance"),
    ("pick up the second block from the right and place it on the bottom side", "pick_nth"),
    ("pick up the first block from the top and place it in the left side", "pick_nth"),
    (
        "pick up the red block and place it in the corner farthest to the blue bowl",
        "corner_by_distance",
    ),
    ("put the green block in the corner closest to the yellow bowl", "corner_by_distance"),
]

# Paraphrases the lexical similarity does NOT handle (documented limits, checked so that a
# change in behaviour is noticed): they are refused, never mis-planned.
NOT_YET = [
    "put the red block at the top left",  # "top left" without "corner": two directions
    "put the red block beside the blue bowl",  # no template for "beside/next to/near"
    "could you tidy up the table",
]

NONSENSE = [
    "sing me a song",
    "asdf qwerty",
    "what is the weather like",
    "open the door",
    "throw the red block at me",
    "how many blocks are there",
    "describe the scene",
    "don't put the red block in the blue bowl",
    "put the red block in the blue bowl and then stack all the blocks",
    "put the red block in the blue bowl and the green block in the yellow bowl",
    # Same slots as a known template but a different meaning: refused by the guard words.
    "is the red block in the blue bowl",
    "put the red block under the blue block",
    "put the red block near the blue bowl",
    "take the red block out of the blue bowl",
    "swap the red block and the blue block",
    "move the red block away from the top left corner",
    "put all the blocks in a circle",
    "unstack the blocks",
]


def ctx(command: str, scene: list[SceneObject]) -> PlanContext:
    return PlanContext(command=command, scene=scene)


@pytest.mark.parametrize(("command", "family"), KNOWN)
def test_family_for_each_phrasing(
    planner: OfflinePlanner, scene: list[SceneObject], command: str, family: str
) -> None:
    program = planner.write(ctx(command, scene))
    assert program.family == family, program.provenance


@pytest.mark.parametrize("command", NONSENSE + NOT_YET)
def test_refused_commands(planner: OfflinePlanner, scene: list[SceneObject], command: str) -> None:
    with pytest.raises(PlannerCannotHandle) as info:
        planner.write(ctx(command, scene))
    message = str(info.value)
    assert repr(command) in message
    assert "closest I know:" in message
    assert message.count('"') >= 6  # three quoted known commands
    assert "--llm" in message


def test_threshold_separates_known_from_nonsense(
    memory: ProgramMemory, caplog: pytest.LogCaptureFixture
) -> None:
    """The evidence for DEFAULT_THRESHOLD: the margins on both sides."""
    known = [memory.rank(abstract_command(c).tokens)[0][1] for c, _ in KNOWN]
    # Guarded/nonsense commands: score only (the guard words refuse some that score high).
    nonsense = [memory.rank(abstract_command(c).tokens)[0][1] for c in NONSENSE[:7]]
    caplog.set_level(logging.INFO)
    logging.getLogger(__name__).info(
        "known min=%.3f nonsense max=%.3f threshold=%.2f",
        min(known),
        max(nonsense),
        DEFAULT_THRESHOLD,
    )
    assert min(known) >= DEFAULT_THRESHOLD + 0.03
    assert max(nonsense) <= DEFAULT_THRESHOLD - 0.2


def test_search_returns_k_sorted(memory: ProgramMemory) -> None:
    hits = memory.search("stack all the blocks", k=3)
    assert len(hits) == 3
    assert hits[0][0].family == "stack_all"
    assert hits[0][1] == pytest.approx(1.0)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(0.0 <= s <= 1.0 + 1e-9 for _, s in hits)


def test_abstraction() -> None:
    a = abstract_command(
        "Pick up the SECOND block from the Right, and place it on the top-left corner!"
    )
    assert a.slots == {"nth": "second", "direction": "right", "location": "top left corner"}
    b = abstract_command("put the red block on top of the red block's neighbour, the grey bowl")
    # "on top of" is a preposition, a repeated object reuses its slot, grey -> gray
    assert b.slots == {"block1": "red block", "bowl1": "gray bowl"}
    assert "{direction}" not in b.tokens
    c = abstract_command("move it a little bit to the left, then the farthest one")
    assert c.slots == {"magnitude": "a little", "direction": "left", "distance": "farthest"}
    d = abstract_command("put the red block on the blue block and the green block")
    assert d.slots == {"block1": "red block", "block2": "blue block", "block3": "green block"}
