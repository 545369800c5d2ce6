"""Every seeded program and check: valid Python, allowed calls only, and correct in a fake world."""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np
import pytest

from policywright.agent.planner import (
    OfflinePlanner,
    PlanContext,
    ProgramMemory,
    SceneObject,
    fill_template,
)
from policywright.agent.planner.memory import load_seed_examples

# The primitive table of docs/internals.md.
READ_ONLY_PRIMITIVES = frozenset(
    {
        "get_obj_names",
        "get_obj_pos",
        "get_obj_pos3d",
        "get_bbox",
        "get_color",
        "is_obj_visible",
        "get_location_names",
        "get_location_pos",
        "get_corner_name",
        "get_side_name",
        "denormalize_xy",
        "normalize_xy",
        "get_workspace_bounds",
        "get_ee_pos",
        "get_held_object",
        "is_on",
    }
)
ACTION_PRIMITIVES = frozenset(
    {"put_first_on_second", "pick", "place", "move_ee_to", "follow_path", "go_home", "say"}
)
SAFE_BUILTINS = frozenset(
    {"len", "range", "sorted", "min", "max", "abs", "enumerate", "zip", "list", "dict", "str",
     "float", "int", "print"}
)  # fmt: skip
NUMPY_CALLS = frozenset({"np.array", "np.linalg.norm"})
MATH_CALLS = frozenset({"math.atan2", "math.cos", "math.sin"})
METHODS = frozenset({"append", "endswith", "split", "sort", "remove", "join"})
FORBIDDEN_NAMES = frozenset(
    {"getattr", "setattr", "eval", "exec", "compile", "open", "format", "globals", "locals",
     "vars", "__import__", "input", "type", "object"}
)  # fmt: skip

SAMPLE_SLOTS = {
    "block1": "red block",
    "block2": "blue block",
    "bowl1": "blue bowl",
    "location": "top left corner",
    "direction": "left",
    "distance": "closest",
    "magnitude": "a little",
    "nth": "first",
    "line": "horizontal",
    "picked_block": "red block",
}
SEEDS = load_seed_examples()


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return dotted(node.value) + "." + node.attr
    return "<expr>"


def assert_allowed(code: str, primitives: frozenset[str]) -> ast.Module:
    tree = ast.parse(code)
    local_defs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    allowed = primitives | SAFE_BUILTINS | local_defs
    for node in ast.walk(tree):
        assert not isinstance(
            node,
            ast.Import
            | ast.ImportFrom
            | ast.ClassDef
            | ast.With
            | ast.Global
            | ast.Nonlocal
            | ast.Lambda
            | ast.AsyncFunctionDef
            | ast.Try
            | ast.While,
        ), ast.dump(node)
        if isinstance(node, ast.Name):
            assert not node.id.startswith("_") and node.id not in FORBIDDEN_NAMES, node.id
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("_"), node.attr
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if isinstance(node.func, ast.Name):
                assert name in allowed, f"call to {name!r} is not allowed"
            elif name.startswith("np."):
                assert name in NUMPY_CALLS, name
            elif name.startswith("math."):
                assert name in MATH_CALLS, name
            else:
                assert isinstance(node.func, ast.Attribute) and node.func.attr in METHODS, name
    return tree


@pytest.mark.parametrize("seed", SEEDS, ids=[s.command_template for s in SEEDS])
def test_seed_programs_parse_and_call_only_primitives(seed: Any) -> None:
    code = fill_template(seed.code_template, SAMPLE_SLOTS)
    check = fill_template(seed.check_template, SAMPLE_SLOTS)
    assert_allowed(code, READ_ONLY_PRIMITIVES | ACTION_PRIMITIVES)
    tree = assert_allowed(check, READ_ONLY_PRIMITIVES | {"verdict"})
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and dotted(n.func) == "verdict"]
    assert len(calls) == 1
    assert isinstance(tree.body[-1], ast.Expr) and tree.body[-1].value is calls[0]


def test_helpers_call_no_other_helper() -> None:
    # Helpers may be bound as sandbox locals, invisible inside other functions.
    from importlib import resources

    import yaml

    text = resources.files("policywright.agent.planner").joinpath("examples.yaml").read_text()
    helpers = yaml.safe_load(text)["helpers"]
    for name, src in helpers.items():
        called = {dotted(n.func) for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call)}
        assert not (called & (set(helpers) - {name})), name


def test_template_slots_are_known() -> None:
    from policywright.agent.planner._text import placeholders_of as _template_slots
    from policywright.agent.planner._text import slot_names_of, template_tokens
    from policywright.agent.planner.offline import DERIVED_SLOTS

    for s in SEEDS:
        cmd_slots = set(slot_names_of(template_tokens(s.command_template)))
        derived = {DERIVED_SLOTS[s.family][0]} if s.family in DERIVED_SLOTS else set()
        used = _template_slots(s.code_template) | _template_slots(s.check_template)
        assert used <= cmd_slots | derived, s.command_template
        assert cmd_slots <= used, s.command_template


# -- a fake kinematic world: enough physics to run the programs and their checks ---------------
TABLE_Z = 0.625
LOCATIONS = {
    "top left corner": (0.70, 0.28),
    "top right corner": (0.70, -0.28),
    "bottom left corner": (0.35, 0.28),
    "bottom right corner": (0.35, -0.28),
    "top side": (0.70, 0.0),
    "bottom side": (0.35, 0.0),
    "left side": (0.525, 0.28),
    "right side": (0.525, -0.28),
    "middle": (0.525, 0.0),
}


class FakeWorld:
    def __init__(self, scene: list[SceneObject]) -> None:
        self.pos = {o.name: list(o.position) for o in scene}
        self.said: list[str] = []
        self.verdicts: list[tuple[bool, str]] = []

    def _xy(self, target: Any) -> tuple[float, float]:
        if isinstance(target, str):
            if target in LOCATIONS:
                return LOCATIONS[target]
            return self.pos[target][0], self.pos[target][1]
        assert isinstance(target, list) and all(type(v) is float for v in target), target
        return target[0], target[1]

    def put_first_on_second(self, obj: Any, target: Any) -> None:
        assert isinstance(obj, str) and obj.endswith(" block")
        x, y = self._xy(target)
        assert 0.35 - 1e-9 <= x <= 0.70 + 1e-9 and -0.28 - 1e-9 <= y <= 0.28 + 1e-9, (x, y)
        z = TABLE_Z + 0.02
        for name, p in self.pos.items():
            d = math.hypot(p[0] - x, p[1] - y)
            if name == obj:
                continue
            if name.endswith(" block") and d < 0.04:
                z = max(z, p[2] + 0.04)
            elif name.endswith(" bowl") and d < 0.075:
                z = max(z, TABLE_Z + 0.025)
        self.pos[obj] = [x, y, z]

    def is_on(self, a: str, b: str) -> bool:
        ax, ay = self._xy(a)
        bx, by = self._xy(b)
        d = math.hypot(ax - bx, ay - by)
        if b in LOCATIONS:
            return d < 0.06
        higher = self.pos[a][2] > self.pos[b][2]
        return (d < 0.04 if b.endswith(" block") else d < 0.06) and higher

    def namespace(self) -> dict[str, Any]:
        def verdict(success: bool, reason: str) -> None:
            assert isinstance(success, bool) and isinstance(reason, str)
            self.verdicts.append((success, reason))

        return {
            "np": np,
            "math": math,
            "get_obj_names": lambda: list(self.pos),
            "get_obj_pos": lambda n: np.array(self._xy(n)),
            "get_obj_pos3d": lambda n: np.array(self.pos[n]),
            "get_location_names": lambda: list(LOCATIONS),
            "get_location_pos": lambda n: np.array(LOCATIONS[n]),
            "get_workspace_bounds": lambda: np.array([0.35, -0.28, 0.70, 0.28]),
            "denormalize_xy": lambda p: np.array([0.35 + p[1] * 0.35, 0.28 - p[0] * 0.56]),
            "is_on": self.is_on,
            "put_first_on_second": self.put_first_on_second,
            "say": self.said.append,
            "verdict": verdict,
        }

    def run(self, code: str) -> None:
        # Separate globals and locals, as an exec-based sandbox may bind them.
        exec(compile(code, "<program>", "exec"), self.namespace(), {})


E2E = [
    "put the red block in the blue bowl",
    "put the red block on the blue block",
    "put the red block on the top left corner",
    "stack all the blocks",
    "stack all the blocks on the top side",
    "put the blocks in the yellow bowl",
    "put all the blocks in the bowls with matching colors",
    "put all the blocks in the bowls with mismatched colors",
    "put all the blocks on the bottom right corner",
    "put all the blocks in different corners",
    "put all the blocks in a horizontal line",
    "put all the blocks in a vertical line",
    "put all the blocks in a diagonal line",
    "put the red block to the right of the blue bowl",
    "put the red block a lot to the right of the blue bowl",
    "put the red block a little to the top of the yellow bowl",
    "pick up the block to the left of the blue bowl and place it on the top side",
    "pick up the block farthest to the yellow bowl and place it on the bottom left corner",
    "pick up the first block from the right and place it on the middle",
    "pick up the red block and place it in the corner farthest to the yellow bowl",
]


@pytest.mark.parametrize("command", E2E)
def test_program_achieves_its_check(
    planner: OfflinePlanner, scene: list[SceneObject], command: str
) -> None:
    program = planner.write(PlanContext(command=command, scene=scene))
    before = FakeWorld(scene)
    before.run(program.check_code)
    assert len(before.verdicts) == 1
    assert before.verdicts[0][0] is False, before.verdicts[0][1]  # not already true
    world = FakeWorld(scene)
    world.run(program.code)
    world.run(program.check_code)
    assert len(world.verdicts) == 1
    ok, reason = world.verdicts[0]
    assert ok, f"{program.family}: {reason}"
    assert " cm" in reason or "degrees" in reason


def test_check_catches_wrong_stack(scene: list[SceneObject], memory: ProgramMemory) -> None:
    program = OfflinePlanner(memory).write(PlanContext(command="stack all the blocks", scene=scene))
    world = FakeWorld(scene)
    world.put_first_on_second("red block", "blue block")  # green block left out
    world.run(program.check_code)
    ok, reason = world.verdicts[0]
    assert not ok and "limit 4 cm" in reason


# -- the same, through the real sandbox (static allow-list + child process) --------------------
ARRAY_RETURNING = frozenset(
    {"get_obj_pos", "get_obj_pos3d", "get_location_pos", "get_workspace_bounds", "denormalize_xy"}
)


class FakeHost:
    """A PrimitiveHost serving a FakeWorld's primitives as JSON values."""

    def __init__(self, world: FakeWorld, names: frozenset[str]) -> None:
        self.world, self.ns, self._names = world, world.namespace(), names

    def names(self) -> frozenset[str]:
        return self._names

    def array_returning(self) -> frozenset[str]:
        return ARRAY_RETURNING & self._names

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        result = self.ns[name](*args, **kwargs)
        if isinstance(result, np.ndarray):
            return [float(v) for v in result]
        return result


@pytest.fixture(scope="module")
def sandbox() -> Any:
    mod = pytest.importorskip("policywright.agent.sandbox")
    if not hasattr(mod, "Sandbox"):
        pytest.skip("the sandbox is not built yet")
    return mod.Sandbox(mod.SandboxLimits())


def test_programs_run_in_the_sandbox(sandbox: Any, scene: list[SceneObject]) -> None:
    planner = OfflinePlanner(ProgramMemory())
    served = frozenset(FakeWorld(scene).namespace()) - {"np", "math"}
    action_names = served - {"verdict"}
    check_names = (served & READ_ONLY_PRIMITIVES) | {"verdict"}
    for command in E2E:
        program = planner.write(PlanContext(command=command, scene=scene))
        world = FakeWorld(scene)
        run = sandbox.run(program.code, FakeHost(world, action_names))
        assert run.status == "ok", (command, run)
        check = sandbox.run(program.check_code, FakeHost(world, check_names))
        assert check.status == "ok", (command, check)
        assert len(world.verdicts) == 1 and world.verdicts[0][0], (command, world.verdicts)
