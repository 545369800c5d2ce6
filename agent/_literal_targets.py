"""Literal targets in a program, checked against the safety limits before anything moves.

A program that places at ``[5.0, 0.0]`` used to pick the block up first and be refused only
when the place began ("workspace"), leaving the block to be put down again. Coordinates written
as literals in the program are known before it runs: they are checked here, in the engine's
static ``check`` step, with the limits the primitives apply at run time. Computed targets are
caught by the rehearsal in the twin (and by the run-time checks).
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import Any

from policywright.agent.sandbox import StaticReport, Violation, check_program
from policywright.errors import SafetyViolation

__all__ = ["check_act_program", "literal_target_violations"]

#: Heights the tabletop primitives command for an [x, y] target (see primitives/builtin.py):
#: a grasp from [x, y] goes to the table plus 2 cm, a place to the table plus 5 cm.
_PICK_DZ = 0.02
_PLACE_DZ = 0.05

#: primitive -> (argument position, keyword, what the pose is): the arguments that may be
#: literal coordinates.
_TARGETS: dict[str, tuple[tuple[int, str, str], ...]] = {
    "put_first_on_second": ((0, "obj", "pick"), (1, "target", "place")),
    "pick": ((0, "obj", "pick"),),
    "place": ((0, "target", "place"),),
    "move_ee_to": ((0, "pos", "xyz"),),
}


def _literal(node: ast.expr) -> list[float] | None:
    """The numbers of a literal ``[x, y]`` / ``(x, y, z)`` (None for anything computed)."""
    if not isinstance(node, ast.List | ast.Tuple):
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    return [float(v) for v in value]


def literal_target_violations(code: str, world: Any) -> list[Violation]:
    """Every literal target of ``code`` that breaks ``world``'s safety limits.

    Only worlds with arm safety limits (the tabletop's ``world.safety``) are checked; a program
    that does not parse is left to the static checks, which report it.
    """
    from policywright.sim._safety import SafetyLimits
    from policywright.sim._workspace import TABLE_Z

    safety = getattr(world, "safety", None)
    if not isinstance(safety, SafetyLimits):
        return []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    out: list[Violation] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        for pos, key, kind in _TARGETS.get(node.func.id, ()):
            kw = [k.value for k in node.keywords if k.arg == key]
            arg = kw[0] if kw else (node.args[pos] if len(node.args) > pos else None)
            given = _literal(arg) if arg is not None else None
            if given is None:
                continue
            xyz = given
            if kind != "xyz" and len(xyz) == 2:
                xyz = [*xyz, TABLE_Z + (_PICK_DZ if kind == "pick" else _PLACE_DZ)]
            try:
                safety.check_pose(xyz)
            except SafetyViolation as exc:
                shown = ", ".join(f"{v:g}" for v in given)
                out.append(
                    Violation(
                        rule=f"safety:{exc.rule}",
                        line=node.lineno,
                        col=node.col_offset,
                        message=(
                            f"{node.func.id}() targets [{shown}], which breaks a safety limit "
                            f"({exc}); refused before any motion: use a target inside it"
                        ),
                        name=node.func.id,
                    )
                )
    return out


def check_act_program(code: str, primitive_names: Collection[str], world: Any) -> StaticReport:
    """The sandbox's static checks of a program, plus its literal targets against ``world``."""
    report = check_program(code, primitive_names=primitive_names)
    extra = literal_target_violations(code, world)
    if not extra:
        return report
    violations = sorted([*report.violations, *extra], key=lambda v: (v.line, v.col))
    return StaticReport(ok=False, violations=violations)
