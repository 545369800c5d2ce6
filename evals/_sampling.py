"""Feasible episode sampling: slot values, then a scene that makes the command meaningful.

One numpy stream seeded by the episode seed draws the slot values, the object counts, the
distractor colours and the scene's own seed; a scene that breaks one of the task's
constraints is thrown away and the next draw from the same stream is tried, so the same seed
always gives the same episode.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from policywright.errors import ConfigError
from policywright.evals._checkers import (
    DIRECTIONS,
    CheckInput,
    check,
    colour_of,
    corner_for,
    offset_along,
    select_block,
)
from policywright.evals._schema import Suite, TaskSpec
from policywright.sim import (
    BLOCK_SIZE,
    BOWL_RADIUS,
    COLORS,
    TABLE_Z,
    WORKSPACE,
    FloorSpec,
    SceneSpec,
    sample_floor,
    sample_scene,
)

__all__ = ["OFFSETS", "SampledEpisode", "feasibility_problem", "sample_episode"]

#: Centre-to-centre offsets the commands mean ("a little" / "a lot" / plain), as in the
#: offline planner's memory (agent/planner/examples.yaml).
OFFSETS: Final[Mapping[str, float]] = {"a little": 0.10, "a lot": 0.20, "": 0.12}
#: A relational choice ("the block closest to ...") must win by this much, so that perception
#: noise of a few millimetres cannot change which block is meant.
MARGIN_M: Final = 0.04
#: Floor: landmarks must stay this far from a straight path the robot walks (m).
PATH_CLEAR_M: Final = 0.5
_MAX_TRIES: Final = 200
_NTH_MIN_BLOCKS: Final = {"first": 1, "second": 2, "third": 3, "fourth": 4}


@dataclass(frozen=True)
class SampledEpisode:
    """A command with its scene.

    Attributes:
        command: The filled template.
        slots: Slot name -> value.
        scene: The tabletop SceneSpec or the floor FloorSpec.
        tries: How many draws it took to find a feasible one.
    """

    command: str
    slots: dict[str, str]
    scene: SceneSpec | FloorSpec
    tries: int = 1
    notes: dict[str, str] = field(default_factory=dict)


def _pick(rng: np.random.Generator, values: Sequence[str]) -> str:
    return str(values[int(rng.integers(len(values)))])


def _draw_slots(
    rng: np.random.Generator,
    suite: Suite,
    task: TaskSpec,
    attribute_set: str,
    scene_names: Sequence[str] = (),
) -> dict[str, str]:
    slots: dict[str, str] = {}
    for name, spec in task.slots.items():
        if spec.from_scene is not None:
            values = [n for n in scene_names if n.endswith(" " + spec.from_scene)]
        else:
            values = suite.slot_values(task, name, attribute_set)
        taken = {slots[o] for o in spec.distinct_from if o in slots}
        values = [v for v in values if v not in taken]
        if not values:
            raise ConfigError(
                f"task {task.id!r}: slot {name!r} has no value in attribute set "
                f"{attribute_set!r} (after distinct_from)"
            )
        slots[name] = _pick(rng, values)
    return slots


def _pool(suite: Suite, table: str, attribute_set: str, kind: str) -> list[str]:
    """Colours scene objects of a kind may have: the split's attribute values, else all ten."""
    values = suite.attributes.get(table, {})
    names = values.get(attribute_set, values.get("default", []))
    colours = [colour_of(n) for n in names if n.endswith(" " + kind)]
    return colours or list(COLORS)


def _positions(scene: SceneSpec) -> dict[str, tuple[float, float, float]]:
    """Object positions as the world will hold them (blocks rest on the table, bowls at it)."""
    out: dict[str, tuple[float, float, float]] = {}
    for obj in scene.objects:
        assert obj.position is not None
        z = TABLE_Z + BLOCK_SIZE / 2 if obj.kind == "block" else TABLE_Z
        out[obj.name] = (obj.position[0], obj.position[1], z)
    return out


def _floor_positions(scene: FloorSpec) -> dict[str, tuple[float, float, float]]:
    out = {lm.name: (lm.position[0], lm.position[1], lm.size[2] / 2) for lm in scene.landmarks}
    out["robot"] = (scene.robot_xy[0], scene.robot_xy[1], 0.3)
    return out


def already_done(task: TaskSpec, scene: SceneSpec | FloorSpec, slots: Mapping[str, str]) -> bool:
    """Whether the task's checker already passes on the start scene (nothing to do)."""
    if task.checker.name in ("hidden_goal", "visited_in_order", "return_to_start"):
        return False
    poses = _positions(scene) if isinstance(scene, SceneSpec) else _floor_positions(scene)
    inp = CheckInput(initial=poses, final=poses, slots=slots, params=task.checker.params)
    return check(task.checker.name, inp).success


def _in_workspace(xy: Sequence[float], inset: float) -> bool:
    x0, y0, x1, y1 = WORKSPACE
    return x0 + inset <= xy[0] <= x1 - inset and y0 + inset <= xy[1] <= y1 - inset


def _tabletop_problem(name: str, scene: SceneSpec, slots: Mapping[str, str]) -> str | None:
    poses = _positions(scene)
    blocks = [n for n in poses if n.endswith(" block")]
    bowls = [n for n in poses if n.endswith(" bowl")]
    if name == "matching_pair":
        if not {colour_of(b) for b in blocks} & {colour_of(b) for b in bowls}:
            return "no block has a bowl of its colour"
    elif name == "mismatch_possible":
        for b in blocks:
            if all(colour_of(w) == colour_of(b) for w in bowls):
                return f"no bowl of another colour for the {b}"
    elif name == "unique_block_in_direction":
        bowl = poses[slots["bowl1"]]
        scores = sorted(
            (
                (lambda a: a[0] - a[1])(
                    offset_along((poses[b][0] - bowl[0], poses[b][1] - bowl[1]), slots["direction"])
                )
                for b in blocks
            ),
            reverse=True,
        )
        if not scores or scores[0] < MARGIN_M / 2:
            return "no block is clearly on that side of the bowl"
        if len(scores) > 1 and scores[1] > -MARGIN_M / 2:
            return "more than one block is on that side of the bowl"
    elif name in ("unique_block_by_distance", "nth_block_separated"):
        select = "distance_to_bowl" if name == "unique_block_by_distance" else "nth_from_side"
        chosen, margin = select_block(poses, select, slots)
        if chosen is None or margin < MARGIN_M:
            return f"the block meant is not clear ({select}, margin {margin:.3f} m)"
    elif name == "offset_target_free":
        bowl = poses[slots["bowl1"]]
        sx, sy = DIRECTIONS[slots["direction"]]
        off = OFFSETS[slots.get("magnitude", "")]
        target = (bowl[0] + off * sx, bowl[1] + off * sy)
        if not _in_workspace(target, 0.03):
            return "the target spot is outside the workspace"
        for other, pos in poses.items():
            need = BOWL_RADIUS + 0.04 if other.endswith(" bowl") else 0.07
            if math.hypot(pos[0] - target[0], pos[1] - target[1]) < need:
                return f"the {other} is at the target spot"
    elif name == "unique_corner_by_distance":
        _, gap = corner_for(poses[slots["bowl1"]], slots["distance"])
        if gap < MARGIN_M:
            return "two corners are about as close to the bowl"
    else:
        raise ConfigError(f"scene constraint {name!r} does not apply to tabletop tasks")
    return None


def _segment_dist(p: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, bx, by = a[0], a[1], b[0], b[1]
    dx, dy = bx - ax, by - ay
    den = dx * dx + dy * dy
    t = 0.0 if den == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / den))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


def _floor_problem(name: str, scene: FloorSpec, slots: Mapping[str, str]) -> str | None:
    pos = {lm.name: lm.position for lm in scene.landmarks}
    start = scene.robot_xy
    if name == "midpoint_clear":
        a, b = pos[slots["landmark1"]], pos[slots["landmark2"]]
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        if math.dist(a, b) < 1.2:
            return "the two landmarks are too close to stand between"
        for other, xy in pos.items():
            if other not in (slots["landmark1"], slots["landmark2"]) and math.dist(xy, mid) < 0.8:
                return f"the {other} stands near the midpoint"
        if _segment_dist(mid, start, start) < 0.8:
            return "the robot already stands at the midpoint"
        for other, xy in pos.items():
            if _segment_dist(xy, start, mid) < PATH_CLEAR_M and math.dist(xy, mid) >= 0.5:
                return f"the {other} stands on the way to the midpoint"
    elif name == "paths_clear":
        route = [start, *(pos[slots[s]] for s in ("landmark1", "landmark2") if s in slots)]
        for a_xy, b_xy in itertools.pairwise(route):
            for other, xy in pos.items():
                if xy in (a_xy, b_xy):
                    continue
                if _segment_dist(xy, a_xy, b_xy) < PATH_CLEAR_M:
                    return f"the {other} stands on the way"
    else:
        raise ConfigError(f"scene constraint {name!r} does not apply to floor tasks")
    return None


def feasibility_problem(
    task: TaskSpec, scene: SceneSpec | FloorSpec, slots: Mapping[str, str]
) -> str | None:
    """The first of the task's constraints the scene breaks (None when it is feasible)."""
    for name in task.scene.constraints:
        if isinstance(scene, SceneSpec):
            problem = _tabletop_problem(name, scene, slots)
        else:
            problem = _floor_problem(name, scene, slots)
        if problem:
            return f"{name}: {problem}"
    return None


def _tabletop(
    rng: np.random.Generator, suite: Suite, task: TaskSpec, attribute_set: str
) -> tuple[dict[str, str], SceneSpec] | None:
    slots = _draw_slots(rng, suite, task, attribute_set)
    required = [v for v in slots.values() if v.endswith((" block", " bowl"))]
    req_blocks = [colour_of(n) for n in required if n.endswith(" block")]
    req_bowls = [colour_of(n) for n in required if n.endswith(" bowl")]
    lo_b, hi_b = task.scene.blocks
    lo_w, hi_w = task.scene.bowls
    lo_b = max(lo_b, _NTH_MIN_BLOCKS.get(slots.get("nth", ""), 0), len(req_blocks))
    lo_w = max(lo_w, len(req_bowls))
    n_blocks = int(rng.integers(lo_b, max(lo_b, hi_b) + 1))
    n_bowls = int(rng.integers(lo_w, max(lo_w, hi_w) + 1))
    blocks = list(req_blocks)
    bowls = list(req_bowls)
    for kind, chosen, n in (("block", blocks, n_blocks), ("bowl", bowls, n_bowls)):
        pool = [c for c in _pool(suite, kind, attribute_set, kind) if c not in chosen]
        extra = min(n - len(chosen), len(pool))
        if extra > 0:
            chosen.extend(str(c) for c in rng.choice(pool, size=extra, replace=False))
    names = [f"{c} block" for c in blocks] + [f"{c} bowl" for c in bowls]
    scene_seed = int(rng.integers(2**31 - 1))
    try:
        scene = sample_scene(scene_seed, required=names, n_blocks=len(blocks), n_bowls=len(bowls))
    except ValueError:
        return None
    return slots, scene


def _floor(
    rng: np.random.Generator, suite: Suite, task: TaskSpec, attribute_set: str
) -> tuple[dict[str, str], FloorSpec]:
    lo, hi = task.scene.landmarks
    n = int(rng.integers(max(lo, 1), max(lo, hi, 1) + 1))
    spec = sample_floor(int(rng.integers(2**31 - 1)), n_landmarks=n)
    slots = _draw_slots(rng, suite, task, attribute_set, scene_names=spec.names)
    return slots, spec


def sample_episode(suite: Suite, task: TaskSpec, split: str, seed: int) -> SampledEpisode:
    """Sample a feasible command and scene for one episode.

    Args:
        suite: The suite (its attribute tables).
        task: The task.
        split: The split id (selects the attribute set).
        seed: The episode seed.

    Returns:
        The command, its slots and the scene.

    Raises:
        ConfigError: no feasible episode in many draws (the task's settings contradict each other).
    """
    attribute_set = suite.split(split).attributes
    rng = np.random.default_rng(seed)
    last = "no draw"
    for tries in range(1, _MAX_TRIES + 1):
        drawn: tuple[dict[str, str], SceneSpec | FloorSpec] | None
        if task.world == "tabletop":
            drawn = _tabletop(rng, suite, task, attribute_set)
        elif task.world == "floor":
            drawn = _floor(rng, suite, task, attribute_set)
        else:
            raise ConfigError(
                f"task {task.id!r}: the {task.world!r} world has no scene sampler yet"
            )
        if drawn is None:
            last = "the objects did not fit on the table"
            continue
        slots, scene = drawn
        problem = feasibility_problem(task, scene, slots)
        if problem is None and already_done(task, scene, slots):
            problem = "the start scene already meets the goal"
        if problem is None:
            return SampledEpisode(
                command=task.template.format(**slots), slots=slots, scene=scene, tries=tries
            )
        last = problem
    raise ConfigError(
        f"task {task.id!r} (split {split}, seed {seed}): no feasible scene in {_MAX_TRIES} "
        f"draws; last problem: {last}"
    )
