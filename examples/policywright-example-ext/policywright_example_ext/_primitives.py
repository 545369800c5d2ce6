"""A primitive a planner calls: stack several blocks, in order, on a base."""

from __future__ import annotations

from policywright.errors import PrimitiveError
from policywright.primitives import PrimitiveContext, PrimitiveSpec, Target, primitive
from policywright.sim import LOCATIONS, TABLE_Z
from policywright.skills import PickGoal, get_skill, place, run_skill

__all__ = ["PRIMITIVES", "stack_blocks"]


def _base_xy(ctx: PrimitiveContext, base: str | list[float]) -> tuple[float, float]:
    if isinstance(base, list):
        return float(base[0]), float(base[1])
    loc = LOCATIONS.get(" ".join(base.lower().split()))
    if loc is not None:
        return float(loc[0]), float(loc[1])
    pos = ctx.resolve(base).position  # raises PrimitiveError naming the objects present
    return float(pos[0]), float(pos[1])


@primitive(category="action")
def stack_blocks(ctx: PrimitiveContext, blocks: list[str], base: Target) -> int:  # noqa: D417
    """Stack blocks on top of each other on a base, first block at the bottom; blocks until done.

    Uses the grasp skill selected in the engine config (``skills.grasp``).

    Args:
        blocks: block names in stacking order, e.g. ["red block", "green block"].
        base: where the stack stands: an object ("blue bowl"), a location ("middle") or [x, y].

    Returns:
        The height of the stack built, in blocks.
    """
    if not blocks:
        raise PrimitiveError("stack_blocks(): give at least one block")
    if len(set(blocks)) != len(blocks):
        raise PrimitiveError(f"stack_blocks(): a block is named twice: {blocks}")
    world = ctx.tabletop
    x, y = _base_xy(ctx, base)
    grasp_id = ctx.skill_id("grasp", "grasp/scripted-v1")
    for name in blocks:
        obj = ctx.resolve(name)
        if obj.kind != "block":
            raise PrimitiveError(f"stack_blocks(): {name!r} is a {obj.kind}, not a block")
        bx, by, bz = (float(v) for v in obj.position)
        ctx.invalidate()
        picked = run_skill(get_skill(grasp_id), world, PickGoal((bx, by, bz)))
        if not picked.ok:
            raise PrimitiveError(
                f"stack_blocks(): picking {name!r} {picked.status}: {picked.message}"
            )
        world.safety.check_pose((x, y, TABLE_Z + 0.05))
        # place() releases just above whatever the cameras see at (x, y): the stack so far.
        placed = place(world, (x, y))
        ctx.invalidate()
        if not placed.ok:
            raise PrimitiveError(
                f"stack_blocks(): placing {name!r} {placed.status}: {placed.message}"
            )
        if world.arm.held_object() is not None:
            raise PrimitiveError(f"stack_blocks(): {name!r} is still held")
    return len(blocks)


#: Named by the entry point ``policywright.primitives: example``.
PRIMITIVES: tuple[PrimitiveSpec, ...] = (stack_blocks,)
