"""Ground-truth success checkers: pure functions of the simulator's true poses.

They never see perception or the engine's verdict, so a wrong "succeeded" from the engine shows
up as a false success. Positions are world-frame metres (x far, y left, z up); the tabletop's
named locations are :data:`policywright.sim.LOCATIONS`.

Thresholds (Code-as-Policies' ``on_top_of``): an object is on a corner or side when its xy is
within 6 cm of it; in a bowl when within 6 cm of the bowl's centre and higher than the bowl's
base; on a block when within 4 cm of it and higher than it. A stack is a set of blocks all
within 4 cm in xy of the lowest one with each at least 2 cm (half a block) above the one below.
A line: the blocks' principal axis within 20 degrees of the wanted orientation (horizontal =
along y, vertical = along x, diagonal = 45 degrees), every block within 3 cm of that axis,
neighbours at least 4 cm apart (no stacking) and every block resting on the table. Offsets
beside a bowl: at least 6 cm out along the direction and less across than along; "a little"
under 15 cm, "a lot" at least 15 cm (centre to centre; the planner's memory uses 10 and 20 cm).
Floor world: a landmark is reached when the robot's base is within 0.75 m of its centre (the
robot stops 0.45 m short; its body is 0.2-0.3 m long); "between" is within 0.35 m of the
midpoint; "back at the start" is within 0.3 m of the start.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from policywright.sim import CORNERS, LOCATIONS, TABLE_Z

__all__ = [
    "CHECKERS",
    "DIRECTIONS",
    "CheckInput",
    "CheckResult",
    "check",
    "colour_of",
    "offset_along",
    "on_top_of",
    "select_block",
    "true_positions",
]

XY = tuple[float, float]
XYZ = tuple[float, float, float]

ON_LOCATION_M: Final = 0.06
ON_BOWL_M: Final = 0.06
ON_BLOCK_M: Final = 0.04
STACK_STEP_M: Final = 0.02
LINE_ANGLE_DEG: Final = 20.0
LINE_OFF_AXIS_M: Final = 0.03
LINE_MIN_GAP_M: Final = 0.04
#: A block "on the table" has its centre below this height above the table top.
ON_TABLE_Z_M: Final = 0.035
BESIDE_MIN_M: Final = 0.06
LITTLE_MAX_M: Final = 0.15
REACH_M: Final = 0.75
BETWEEN_M: Final = 0.35
RETURN_M: Final = 0.30

#: Direction word -> unit xy vector in our frame (top = +x, left = +y).
DIRECTIONS: Final[Mapping[str, XY]] = {
    "top": (1.0, 0.0),
    "bottom": (-1.0, 0.0),
    "left": (0.0, 1.0),
    "right": (0.0, -1.0),
}
_NTH: Final = {"first": 0, "second": 1, "third": 2, "fourth": 3}


@dataclass(frozen=True)
class CheckInput:
    """What a checker sees.

    Attributes:
        initial: Object name -> true position at the episode's start (after settling).
        final: Object name -> true position at the end.
        slots: The command's slot values.
        params: The checker's parameters from the task file.
        track: Robot base xy samples during the run (floor world), oldest first.
        visits: Landmarks reached, in order (floor world; from the robot track).
    """

    initial: Mapping[str, XYZ]
    final: Mapping[str, XYZ]
    slots: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    track: Sequence[XY] = ()
    visits: Sequence[str] = ()


@dataclass(frozen=True)
class CheckResult:
    """A checker's decision and why."""

    success: bool
    reason: str


def true_positions(world: Any) -> dict[str, XYZ]:
    """Every object's true position in a world (ground truth, not perception)."""
    return {
        name: (float(p.position[0]), float(p.position[1]), float(p.position[2]))
        for name, p in world.true_poses().items()
    }


def colour_of(name: str) -> str:
    """The colour word of an object name ("red block" -> "red")."""
    return name.split(" ")[0]


def _dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _cm(m: float) -> str:
    return f"{m * 100:.1f} cm"


def _blocks(poses: Mapping[str, XYZ]) -> list[str]:
    return sorted(n for n in poses if n.endswith(" block"))


def _bowls(poses: Mapping[str, XYZ]) -> list[str]:
    return sorted(n for n in poses if n.endswith(" bowl"))


def on_top_of(poses: Mapping[str, XYZ], obj: str, target: str) -> tuple[bool, str]:
    """Code-as-Policies' ``on_top_of`` on true poses.

    Args:
        poses: Name -> position.
        obj: The object on top.
        target: A named location, a bowl or a block.

    Returns:
        (success, reason).
    """
    if obj not in poses:
        return False, f"there is no {obj}"
    a = poses[obj]
    if target in LOCATIONS:
        d = _dist(a, LOCATIONS[target])
        return d < ON_LOCATION_M, f"the {obj} is {_cm(d)} from the {target} (limit 6 cm)"
    if target not in poses:
        return False, f"there is no {target}"
    b = poses[target]
    d = _dist(a, b)
    limit = ON_BLOCK_M if target.endswith(" block") else ON_BOWL_M
    higher = a[2] > b[2]
    ok = d < limit and higher
    where = "above" if higher else "not above"
    return ok, f"the {obj} is {_cm(d)} from the {target} in xy (limit {_cm(limit)}), {where} it"


def offset_along(rel: Sequence[float], direction: str) -> tuple[float, float]:
    """(along, across) of a relative xy offset with respect to a direction word."""
    sx, sy = DIRECTIONS[direction]
    along = rel[0] * sx + rel[1] * sy
    across = abs(rel[0] * sy - rel[1] * sx)
    return along, across


def select_block(
    poses: Mapping[str, XYZ], select: str, slots: Mapping[str, str]
) -> tuple[str | None, float]:
    """The block a relational command means, and the margin of that choice (m).

    ``direction_of_bowl``: the one block in the bowl's 90-degree cone on that side (score =
    along - across; margin = its score minus the next block's). ``distance_to_bowl``: the
    closest or farthest block (margin = gap to the runner-up). ``nth_from_side``: the n-th
    block counted from that side (margin = the smaller gap to its neighbours in that order).

    Returns:
        (name or None when no block qualifies, margin in metres; inf when unopposed).
    """
    blocks = _blocks(poses)
    if not blocks:
        return None, 0.0
    if select == "direction_of_bowl":
        bowl = poses.get(slots["bowl1"])
        if bowl is None:
            return None, 0.0
        scored = []
        for b in blocks:
            along, across = offset_along(
                (poses[b][0] - bowl[0], poses[b][1] - bowl[1]), slots["direction"]
            )
            scored.append((along - across, b))
        scored.sort(reverse=True)
        if scored[0][0] <= 0:
            return None, 0.0
        margin = scored[0][0] - scored[1][0] if len(scored) > 1 else math.inf
        return scored[0][1], margin
    if select == "distance_to_bowl":
        bowl = poses.get(slots["bowl1"])
        if bowl is None:
            return None, 0.0
        dists = sorted((_dist(poses[b], bowl), b) for b in blocks)
        if slots["distance"] == "farthest":
            dists.reverse()
        margin = abs(dists[0][0] - dists[1][0]) if len(dists) > 1 else math.inf
        return dists[0][1], margin
    if select == "nth_from_side":
        sx, sy = DIRECTIONS[slots["direction"]]
        order = sorted((-(poses[b][0] * sx + poses[b][1] * sy), b) for b in blocks)
        i = _NTH[slots["nth"]]
        if i >= len(order):
            return None, 0.0
        gaps = [abs(order[i][0] - order[j][0]) for j in (i - 1, i + 1) if 0 <= j < len(order)]
        return order[i][1], min(gaps) if gaps else math.inf
    raise ValueError(f"unknown selection {select!r}")


# -- tabletop checkers -------------------------------------------------------------------------


def _on_top_of(inp: CheckInput) -> CheckResult:
    obj = inp.slots[inp.params.get("object", "block1")]
    target = inp.slots[inp.params.get("target", "target")]
    ok, reason = on_top_of(inp.final, obj, target)
    return CheckResult(ok, reason)


def _all_blocks_on(inp: CheckInput) -> CheckResult:
    target = inp.slots[inp.params.get("target", "location")]
    blocks = _blocks(inp.final)
    if not blocks:
        return CheckResult(False, "there are no blocks")
    missing = [b for b in blocks if not on_top_of(inp.final, b, target)[0]]
    if missing:
        why = "; ".join(on_top_of(inp.final, b, target)[1] for b in missing)
        return CheckResult(
            False, f"{len(missing)} of {len(blocks)} blocks are not on the {target}: {why}"
        )
    return CheckResult(True, f"all {len(blocks)} blocks are on the {target}")


def stack_problem(poses: Mapping[str, XYZ], blocks: Sequence[str]) -> str | None:
    """Why ``blocks`` are not one stack (None when they are)."""
    order = sorted(blocks, key=lambda b: poses[b][2])
    bottom = poses[order[0]]
    for below, above in itertools.pairwise(order):
        d = _dist(poses[above], bottom)
        if d >= ON_BLOCK_M:
            return f"the {above} is {_cm(d)} in xy from the bottom {order[0]} (limit 4 cm)"
        step = poses[above][2] - poses[below][2]
        if step < STACK_STEP_M:
            return f"the {above} is only {_cm(step)} above the {below} (needs 2 cm)"
    return None


def _stack(inp: CheckInput) -> CheckResult:
    blocks = _blocks(inp.final)
    if len(blocks) < 2:
        return CheckResult(False, f"{len(blocks)} blocks: a stack needs two")
    problem = stack_problem(inp.final, blocks)
    if problem:
        return CheckResult(False, problem)
    bottom = min(blocks, key=lambda b: inp.final[b][2])
    slot = inp.params.get("location")
    if slot:
        place = inp.slots[slot]
        ok, reason = on_top_of(inp.final, bottom, place)
        if not ok:
            return CheckResult(False, f"the stack is not on the {place}: {reason}")
        return CheckResult(True, f"{len(blocks)} blocks stacked on the {place}")
    return CheckResult(True, f"{len(blocks)} blocks stacked on the {bottom}")


def _bowl_holding(poses: Mapping[str, XYZ], block: str) -> str | None:
    for bowl in _bowls(poses):
        if on_top_of(poses, block, bowl)[0]:
            return bowl
    return None


def _matching(inp: CheckInput) -> CheckResult:
    bowls = {colour_of(b): b for b in _bowls(inp.final)}
    pairs = [(b, bowls[colour_of(b)]) for b in _blocks(inp.final) if colour_of(b) in bowls]
    if not pairs:
        return CheckResult(False, "no block has a bowl of its colour")
    wrong = [
        f"{blk} ({on_top_of(inp.final, blk, bowl)[1]})"
        for blk, bowl in pairs
        if not on_top_of(inp.final, blk, bowl)[0]
    ]
    if wrong:
        return CheckResult(False, "not in the bowl of their colour: " + "; ".join(wrong))
    return CheckResult(True, f"all {len(pairs)} blocks with a same-colour bowl are in it")


def _mismatched(inp: CheckInput) -> CheckResult:
    blocks = _blocks(inp.final)
    if not blocks or not _bowls(inp.final):
        return CheckResult(False, "the scene needs blocks and bowls")
    bad = []
    for blk in blocks:
        bowl = _bowl_holding(inp.final, blk)
        if bowl is None:
            bad.append(f"the {blk} is in no bowl")
        elif colour_of(bowl) == colour_of(blk):
            bad.append(f"the {blk} is in the same-colour {bowl}")
    if bad:
        return CheckResult(False, "; ".join(bad))
    return CheckResult(True, f"all {len(blocks)} blocks are in bowls of another colour")


def _selected_block_on(inp: CheckInput) -> CheckResult:
    select = str(inp.params["select"])
    block, _ = select_block(inp.initial, select, inp.slots)
    if block is None:
        return CheckResult(False, f"no block qualified at the start ({select})")
    place = inp.slots[inp.params.get("location", "location")]
    ok, reason = on_top_of(inp.final, block, place)
    others = [b for b in _blocks(inp.final) if b != block and on_top_of(inp.final, b, place)[0]]
    if ok and others:
        return CheckResult(
            False, f"{reason}; but so is the {', '.join(others)} (the wrong block too)"
        )
    return CheckResult(ok, f"the intended block was the {block}: {reason}")


def _different_corners(inp: CheckInput) -> CheckResult:
    blocks = _blocks(inp.final)
    if not blocks:
        return CheckResult(False, "there are no blocks")
    taken: dict[str, str] = {}
    bad = []
    for blk in blocks:
        corner = next((c for c in CORNERS if on_top_of(inp.final, blk, c)[0]), None)
        if corner is None:
            bad.append(f"the {blk} is on no corner")
        elif corner in taken:
            bad.append(f"the {blk} shares the {corner} with the {taken[corner]}")
        else:
            taken[corner] = blk
    if bad:
        return CheckResult(False, "; ".join(bad))
    return CheckResult(True, f"{len(blocks)} blocks in {len(taken)} different corners")


def _offset_from_bowl(inp: CheckInput) -> CheckResult:
    obj, bowl = (
        inp.slots[inp.params.get("object", "block1")],
        inp.slots[inp.params.get("bowl", "bowl1")],
    )
    direction, magnitude = inp.slots["direction"], inp.slots.get("magnitude", "")
    a, b = inp.final[obj], inp.final[bowl]
    along, across = offset_along((a[0] - b[0], a[1] - b[1]), direction)
    ok = along >= BESIDE_MIN_M and across < along and a[2] < TABLE_Z + ON_TABLE_Z_M
    if magnitude == "a little":
        ok = ok and along < LITTLE_MAX_M
        want = "6 to 15 cm"
    elif magnitude == "a lot":
        ok = ok and along >= LITTLE_MAX_M
        want = "at least 15 cm"
    else:
        want = "at least 6 cm"
    return CheckResult(
        ok,
        f"the {obj} is {_cm(along)} to the {direction} of the {bowl} ({magnitude or 'plain'}: "
        f"{want}) and {_cm(across)} across (must be less than along)",
    )


def corner_for(bowl_xy: Sequence[float], distance: str) -> tuple[str, float]:
    """The corner closest/farthest to a point, and the gap to the runner-up (m)."""
    ranked = sorted((_dist(xy, bowl_xy), name) for name, xy in CORNERS.items())
    if distance == "farthest":
        ranked.reverse()
    return ranked[0][1], abs(ranked[0][0] - ranked[1][0])


def _corner_by_distance(inp: CheckInput) -> CheckResult:
    obj, bowl = inp.slots["block1"], inp.slots["bowl1"]
    corner, _ = corner_for(inp.initial[bowl], inp.slots["distance"])
    ok, reason = on_top_of(inp.final, obj, corner)
    return CheckResult(
        ok, f"the corner {inp.slots['distance']} to the {bowl} is the {corner}: {reason}"
    )


def _line(inp: CheckInput) -> CheckResult:
    kind = inp.slots[inp.params.get("line", "line")]
    blocks = _blocks(inp.final)
    if len(blocks) < 2:
        return CheckResult(False, f"{len(blocks)} blocks: a line needs two")
    pts = [inp.final[b] for b in blocks]
    high = [b for b in blocks if inp.final[b][2] > TABLE_Z + ON_TABLE_Z_M]
    if high:
        return CheckResult(False, f"not on the table (stacked or held): {', '.join(high)}")
    n = len(pts)
    mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    syy = sum((p[1] - my) ** 2 for p in pts)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in pts)
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
    ux, uy = math.cos(angle), math.sin(angle)
    off = max(abs((p[1] - my) * ux - (p[0] - mx) * uy) for p in pts)
    along = sorted((p[0] - mx) * ux + (p[1] - my) * uy for p in pts)
    gap = min(b - a for a, b in itertools.pairwise(along))
    # 0 = along x (vertical), 90 = along y (horizontal); a diagonal line may lean either way.
    degrees = abs(math.degrees(angle))
    wanted = {"vertical": 0.0, "horizontal": 90.0, "diagonal": 45.0}[kind]
    ok = (
        abs(degrees - wanted) <= LINE_ANGLE_DEG and off <= LINE_OFF_AXIS_M and gap >= LINE_MIN_GAP_M
    )
    return CheckResult(
        ok,
        f"{n} blocks: axis {degrees:.0f} degrees from x ({kind} wants {wanted:.0f} +- "
        f"{LINE_ANGLE_DEG:.0f}); farthest {_cm(off)} off it (limit 3 cm); closest neighbours "
        f"{_cm(gap)} apart (need 4 cm)",
    )


# -- floor checkers ----------------------------------------------------------------------------


def _robot(inp: CheckInput) -> XYZ:
    return inp.final["robot"]


def _near(inp: CheckInput) -> CheckResult:
    name = inp.slots[inp.params.get("landmark", "landmark1")]
    reach = float(inp.params.get("reach_m", REACH_M))
    d = _dist(_robot(inp), inp.final[name])
    return CheckResult(
        d <= reach, f"the robot is {d:.2f} m from the {name}'s centre (limit {reach} m)"
    )


def _visited_in_order(inp: CheckInput) -> CheckResult:
    a, b = inp.slots["landmark1"], inp.slots["landmark2"]
    reach = float(inp.params.get("reach_m", REACH_M))
    visits = list(inp.visits)
    order_ok = a in visits and b in visits[visits.index(a) + 1 :] if a in visits else False
    d = _dist(_robot(inp), inp.final[b])
    ok = bool(order_ok) and d <= reach
    return CheckResult(
        ok,
        f"visited {visits or 'nothing'} (wanted the {a} then the {b}); the robot ends {d:.2f} m "
        f"from the {b} (limit {reach} m)",
    )


def _between(inp: CheckInput) -> CheckResult:
    a, b = inp.final[inp.slots["landmark1"]], inp.final[inp.slots["landmark2"]]
    tol = float(inp.params.get("tolerance_m", BETWEEN_M))
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    d = _dist(_robot(inp), mid)
    return CheckResult(d <= tol, f"the robot is {d:.2f} m from the midpoint (limit {tol} m)")


def _return_to_start(inp: CheckInput) -> CheckResult:
    name = inp.slots["landmark1"]
    tol = float(inp.params.get("tolerance_m", RETURN_M))
    d = _dist(_robot(inp), inp.initial["robot"])
    went = name in inp.visits
    return CheckResult(
        went and d <= tol,
        f"{'reached' if went else 'never reached'} the {name}; the robot ends {d:.2f} m from "
        f"its start (limit {tol} m)",
    )


def landmark_visits(
    track: Sequence[XY], landmarks: Mapping[str, Sequence[float]], reach_m: float = REACH_M
) -> list[str]:
    """Landmarks the robot reached, in order (consecutive repeats collapsed)."""
    out: list[str] = []
    for xy in track:
        near = [(_dist(xy, pos), name) for name, pos in landmarks.items()]
        if not near:
            break
        d, name = min(near)
        if d <= reach_m and (not out or out[-1] != name):
            out.append(name)
    return out


def goal_point(poses: Mapping[str, XYZ], target: str, offset: Sequence[float]) -> XY | None:
    """A hidden goal's xy: a named location's or an object's, plus the offset."""
    base: Sequence[float] | None = LOCATIONS.get(target) or poses.get(target)
    if base is None:
        return None
    return (base[0] + offset[0], base[1] + offset[1])


def _hidden_goal(inp: CheckInput) -> CheckResult:
    obj, target = str(inp.params["object"]), str(inp.params["target"])
    offset = tuple(inp.params.get("offset", (0.0, 0.0)))
    tol = float(inp.params.get("tolerance_m", 0.015))
    goal = goal_point(inp.final, target, offset)
    if goal is None or obj not in inp.final:
        return CheckResult(False, f"the {obj} or the {target} is not in the scene")
    d = _dist(inp.final[obj], goal)
    return CheckResult(
        d <= tol,
        f"the {obj} is {_cm(d)} from where the person wants it ({target} + "
        f"({offset[0]:+.2f}, {offset[1]:+.2f}) m; limit {_cm(tol)})",
    )


CHECKERS: Final[Mapping[str, Callable[[CheckInput], CheckResult]]] = {
    "on_top_of": _on_top_of,
    "all_blocks_on": _all_blocks_on,
    "stack": _stack,
    "matching_colors": _matching,
    "mismatched_colors": _mismatched,
    "selected_block_on": _selected_block_on,
    "different_corners": _different_corners,
    "offset_from_bowl": _offset_from_bowl,
    "corner_by_distance": _corner_by_distance,
    "line": _line,
    "near_landmark": _near,
    "visited_in_order": _visited_in_order,
    "between_landmarks": _between,
    "return_to_start": _return_to_start,
    "hidden_goal": _hidden_goal,
}


def check(name: str, inp: CheckInput) -> CheckResult:
    """Run a named checker.

    Raises:
        KeyError: no such checker (the task loader refuses unknown names first).
    """
    return CHECKERS[name](inp)
