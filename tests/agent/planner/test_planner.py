"""OfflinePlanner: slot filling, errors, hostile input."""

from __future__ import annotations

import ast

import pytest

from policywright.agent.planner import (
    OfflinePlanner,
    PlanContext,
    Planner,
    Program,
    ProgramMemory,
    SceneObject,
    fill_template,
)
from policywright.errors import (
    EmptyCommandError,
    PlannerCannotHandle,
    UnknownObjectError,
    UserError,
)

TABLE_Z = 0.625


def obj(name: str, x: float, y: float) -> SceneObject:
    colour, kind = name.split(" ")
    return SceneObject(name=name, kind=kind, color=colour, position=(x, y, TABLE_Z + 0.02))  # type: ignore[arg-type]


def plan(planner: OfflinePlanner, command: str, scene: list[SceneObject]) -> Program:
    return planner.write(PlanContext(command=command, scene=scene))


def test_is_a_planner(planner: OfflinePlanner) -> None:
    p: Planner = planner
    assert p.name == "offline"


def test_slot_filling_uses_scene_names(planner: OfflinePlanner, scene: list[SceneObject]) -> None:
    program = plan(planner, "Put the GREEN block in the yellow bowl.", scene)
    assert program.code.strip() == "put_first_on_second('green block', 'yellow bowl')"
    assert program.slots == {"block1": "green block", "bowl1": "yellow bowl"}
    assert program.family == "place_in_bowl"
    assert program.provenance.startswith("offline:memory#")
    assert " score=1.00" in program.provenance
    assert "'green block'" in program.check_code and "'yellow bowl'" in program.check_code
    assert program.check_code.count("verdict(") == 1


def test_scene_dependent_programs_query_at_run_time(
    planner: OfflinePlanner, scene: list[SceneObject]
) -> None:
    program = plan(planner, "stack all the blocks", scene)
    assert "get_obj_names()" in program.code
    assert "red block" not in program.code  # no names baked in
    assert program.slots == {}


def test_grey_and_extra_scene_colours(planner: OfflinePlanner) -> None:
    scene = [obj("gray block", 0.5, 0.1), obj("teal bowl", 0.6, -0.1)]
    program = plan(planner, "put the grey block in the teal bowl", scene)
    assert program.slots == {"block1": "gray block", "bowl1": "teal bowl"}


def test_unknown_object_lists_present(planner: OfflinePlanner, scene: list[SceneObject]) -> None:
    with pytest.raises(UnknownObjectError) as info:
        plan(planner, "put the purple block in the blue bowl", scene)
    err = info.value
    assert err.name == "purple block"
    assert err.known == sorted(o.name for o in scene)
    assert "'red block'" in str(err) and "'blue bowl'" in str(err)
    assert isinstance(err, UserError)


def test_unknown_colour_word_is_unknown_object(
    planner: OfflinePlanner, scene: list[SceneObject]
) -> None:
    with pytest.raises(UnknownObjectError, match="magenta block"):
        plan(planner, "stack the magenta block on the red block", scene)


@pytest.mark.parametrize("command", ["", "   ", "\n\t "])
def test_empty_command(planner: OfflinePlanner, scene: list[SceneObject], command: str) -> None:
    with pytest.raises(EmptyCommandError):
        plan(planner, command, scene)


def test_derived_slot_is_plan_time_selection(
    planner: OfflinePlanner, scene: list[SceneObject]
) -> None:
    # Blocks: red (0.45, 0.15), blue (0.60, 0.0), green (0.45, -0.15); blue bowl at (0.45, 0.0).
    p = plan(
        planner,
        "pick up the block to the left of the blue bowl and place it on the top side",
        scene,
    )
    assert p.slots["picked_block"] == "red block"
    assert "'red block'" in p.check_code and "'red block'" not in p.code
    p = plan(
        planner, "pick up the block farthest to the yellow bowl and place it on the middle", scene
    )
    assert p.slots["picked_block"] == "red block"
    p = plan(
        planner, "pick up the block closest to the yellow bowl and place it on the middle", scene
    )
    assert p.slots["picked_block"] == "green block"  # 17.3 cm, blue block 18.1 cm
    p = plan(planner, "pick up the first block from the right and place it on the middle", scene)
    assert p.slots["picked_block"] == "green block"
    p = plan(planner, "pick up the second block from the top and place it on the left side", scene)
    assert p.slots["picked_block"] in ("red block", "green block")


def test_derived_slot_without_candidate(planner: OfflinePlanner, scene: list[SceneObject]) -> None:
    with pytest.raises(PlannerCannotHandle, match="no block"):
        plan(planner, "pick up the fourth block from the left and place it on the middle", scene)


# -- hostile data ----------------------------------------------------------------------------
HOSTILE_COMMANDS = [
    "put the red block in the blue bowl'); __import__('os').system('rm -rf /') #",
    'put the red block in the blue bowl"""\nimport os\nos.system("x")\n"""',
    "put the red block in the {bowl1} and the blue bowl",
    "stack all the blocks\nverdict(True, 'ok')",
    "put the red block in the blue bowl {__import__('os')}",
    "put the red block in the blue bowl\\' + __import__('os') + \\'",
]


def _shape(code: str) -> str:
    """The AST with every string constant blanked: the code's structure, not its data."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = "S"
    return ast.dump(tree)


@pytest.mark.parametrize("command", HOSTILE_COMMANDS)
def test_hostile_commands_stay_data(
    memory: ProgramMemory, scene: list[SceneObject], command: str
) -> None:
    planner = OfflinePlanner(memory)
    try:
        program = plan(planner, command, scene)
    except (PlannerCannotHandle, UnknownObjectError):
        return
    entry = memory.get(int(program.provenance.split("#")[1].split()[0]))
    dummy = {k: "x" for k in program.slots}
    # Same structure as the template filled with harmless values: the command added no code.
    assert _shape(program.code) == _shape(fill_template(entry.code_template, dummy))
    assert _shape(program.check_code) == _shape(fill_template(entry.check_template, dummy))
    assert "__import__" not in program.code and "os.system" not in program.code
    assert set(program.slots.values()) <= {o.name for o in scene}


def test_hostile_scene_names_never_reach_code(planner: OfflinePlanner) -> None:
    evil = "red block'); __import__('os').system('x'); ('"
    scene = [
        SceneObject(name=evil, kind="block", color="red')\nimport os", position=(0.5, 0.1, 0.645)),
        obj("blue bowl", 0.6, 0.0),
    ]
    # The command's "red block" is not the evil name: reported, never inserted.
    with pytest.raises(UnknownObjectError) as info:
        plan(planner, "put the red block in the blue bowl", scene)
    assert info.value.name == "red block"
    # Scene-wide programs read names at run time; nothing from the scene is in the code.
    program = plan(planner, "put all the blocks in the blue bowl", scene)
    assert "__import__" not in program.code + program.check_code
    ast.parse(program.code)


def test_fill_template_quotes_everything() -> None:
    code = fill_template(
        "put_first_on_second({block1}, {bowl1})\nd = {'a': 1}",
        {
            "block1": "a'\nimport os\n'",
            "bowl1": '"""',
        },
    )
    tree = ast.parse(code)
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert [a.value for a in call.args] == ["a'\nimport os\n'", '"""']
    assert "{'a': 1}" in code  # dict literals are not placeholders


def test_cannot_handle_message_quotes_command(
    planner: OfflinePlanner, scene: list[SceneObject]
) -> None:
    with pytest.raises(PlannerCannotHandle) as info:
        plan(planner, "sing me a song", scene)
    msg = str(info.value)
    assert msg.startswith("I can't plan 'sing me a song' offline; closest I know: \"")
    assert "plan with a model (--llm" in msg


def _landmark(colour: str, x: float, y: float) -> SceneObject:
    return SceneObject(
        name=f"{colour} landmark", kind="landmark", color=colour, position=(x, y, 0.25)
    )


FLOOR = [_landmark("red", 2.0, 0.0), _landmark("blue", 0.0, 2.0), _landmark("green", -1.5, 1.0)]


@pytest.mark.parametrize(
    ("command", "family"),
    [
        ("walk to the red landmark", "go_to_landmark"),
        ("go to the blue landmark and then to the red landmark", "visit_in_order"),
        ("stand between the red landmark and the green landmark", "between_landmarks"),
        ("go to the green post and come back", "go_and_return"),
    ],
)
def test_floor_commands_plan_from_the_floor_examples(
    planner: OfflinePlanner, command: str, family: str
) -> None:
    program = plan(planner, command, FLOOR)
    assert program.family == family
    ast.parse(program.code)
    # The landmark names enter the code as string literals, in order of mention.
    first = program.slots["landmark1"]
    assert repr(first) in program.code


def test_floor_command_with_unknown_landmark(planner: OfflinePlanner) -> None:
    with pytest.raises(UnknownObjectError, match="purple landmark"):
        plan(planner, "go to the purple landmark", FLOOR)


def test_floor_examples_are_not_offered_for_tabletop_scenes(
    planner: OfflinePlanner, scene: list[SceneObject]
) -> None:
    # "go to the red block" is no floor task: the tabletop memory does not hold go_to_landmark.
    with pytest.raises(PlannerCannotHandle):
        plan(planner, "go to the red block and come back", scene)


def test_unknown_world_kinds_are_refused(planner: OfflinePlanner) -> None:
    mixed = [*FLOOR, SceneObject(name="red door", kind="door", color="red", position=(1, 1, 0))]
    with pytest.raises(PlannerCannotHandle, match="floor navigation"):
        plan(planner, "go to the red landmark", mixed)


@pytest.mark.parametrize(
    "command",
    [
        "put the blocks in the bowls with mismatched colors",
        "put each block in a bowl of a different color",
        "put the blocks in the wrong bowls",
    ],
)
def test_opposites_of_a_known_task_are_refused_when_their_family_is_excluded(
    command: str, scene: list[SceneObject]
) -> None:
    # UA-UI of the CaP benchmark hides these families; "matching colors" is the nearest left,
    # and running it would do the opposite of the command.
    memory = ProgramMemory()
    planner = OfflinePlanner(memory, exclude_families=("mismatched_colors", "different_corners"))
    with pytest.raises(PlannerCannotHandle):
        plan(planner, command, scene)
