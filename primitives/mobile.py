"""Primitives of the mobile-manipulation world (a Panda on a wheeled Husky, two tables).

Each function's signature and docstring are its prompt listing. Frames: world frame, metres,
z up; the robot starts at (0, 0) facing +x. The base's pose is (x, y, heading in degrees,
0 = +x, counter-clockwise positive). Places: "table" (where the blocks are) and "user" (the
user's small table: "bring me X" means put X down on it).

The arm reaches only about 0.35-0.65 m ahead of the base, so pick up and put down after
driving to the place. Driving returns a string a program can branch on: "ok", or
"blocked: <what>" when the robot touched something or did not arrive in time (it then stands
still where it stopped).
"""

from __future__ import annotations

import math
from typing import Final

from policywright.errors import PrimitiveError, SafetyViolation
from policywright.primitives._context import PrimitiveContext, normalise_name
from policywright.primitives._registry import PrimitiveSpec, primitive
from policywright.primitives._types import Array3
from policywright.sim import MOBILE_TABLE_TOP_Z as TABLE_TOP_Z
from policywright.sim import MobileWorld
from policywright.skills import DriveResult, SkillResult, go_to_table, mobile_pick, mobile_place
from policywright.skills import drive_to as _drive_to

__all__ = ["MOBILE_PRIMITIVES", "PLACES"]

#: Place names a program uses -> the table object they stand for.
PLACES: Final = {"table": "table", "user": "user table", "user table": "user table"}
# How far inside a table's top edge a put-down target must be.
_EDGE_MARGIN: Final[float] = 0.05


def _mobile(ctx: PrimitiveContext) -> MobileWorld:
    if not isinstance(ctx.world, MobileWorld):
        raise PrimitiveError(f"this primitive needs the mobile world, not {ctx.world.kind!r}")
    return ctx.world


def _place_name(place: str) -> str:
    key = normalise_name(place)
    if key not in PLACES:
        from policywright.errors import UnknownNameError

        raise PrimitiveError(str(UnknownNameError("place", place, ["table", "user"])))
    return PLACES[key]


def _status(result: DriveResult, what: str) -> str:
    if result.status == "ok":
        return "ok"
    if result.status == "blocked":
        return f"blocked: {what} stopped early: {result.message}"
    return f"blocked: {what} did not arrive within {result.sim_time:.0f} s"


def _check(result: SkillResult, what: str) -> None:
    if result.status != "ok":
        raise PrimitiveError(f"{what} {result.status}: {result.message}")


# --------------------------------------------------------------------------- perception


@primitive(read_only=True, category="perception", worlds=("mobile",))
def get_object_names(ctx: PrimitiveContext) -> list[str]:
    """Names of the blocks the cameras detect, e.g. ["blue block", "red block"].

    Returns:
        The detected block names, sorted (the tables are places, see get_place_names).
    """
    return sorted(n for n, d in ctx.detections().items() if d.kind == "block")


@primitive(read_only=True, category="perception", worlds=("mobile",))
def get_object_position(ctx: PrimitiveContext, name: str) -> Array3:
    """Detected xyz position of a block's centre (or of a place's top centre).

    Args:
        name: a block name such as "red block", or a place ("table", "user").

    Returns:
        np.array([x, y, z]) in metres, world frame.
    """
    key = normalise_name(name)
    if key in PLACES:
        key = PLACES[key]
    return [float(v) for v in ctx.resolve(key).position]


@primitive(read_only=True, category="query", worlds=("mobile",))
def get_place_names(ctx: PrimitiveContext) -> list[str]:
    """Names of the places the robot can drive to and put things on.

    Returns:
        ["table", "user"]: the blocks' table and the user's table.
    """
    return ["table", "user"]


@primitive(read_only=True, category="perception", worlds=("mobile",))
def get_base_pose(ctx: PrimitiveContext) -> Array3:
    """The robot base's pose.

    Returns:
        np.array([x, y, heading_degrees]); heading 0 faces +x, counter-clockwise positive.
    """
    x, y, yaw = _mobile(ctx).base_pose()
    return [x, y, math.degrees(yaw)]


@primitive(read_only=True, category="perception", worlds=("mobile",))
def get_carried_object(ctx: PrimitiveContext) -> str | None:
    """The block the gripper holds, or None.

    Returns:
        The held block's name, or None when the gripper is empty.
    """
    return _mobile(ctx).arm.held_object()


@primitive(read_only=True, category="perception", worlds=("mobile",))
def is_object_on(ctx: PrimitiveContext, name: str, place: str) -> bool:
    """Whether a block rests on a place's top ("table" or "user").

    Args:
        name: the block, e.g. "red block".
        place: "table" or "user".

    Returns:
        True if the block's detected centre is over that table's top and resting on it.
    """
    obj = ctx.resolve(name)
    table = ctx.resolve(_place_name(place))
    x0, y0, _, x1, y1, _ = table.bbox
    x, y, z = obj.position
    return bool(x0 <= x <= x1 and y0 <= y <= y1 and abs(z - TABLE_TOP_Z - 0.02) < 0.015)


# --------------------------------------------------------------------------- actions


@primitive(category="action", worlds=("mobile",))
def drive_to_place(ctx: PrimitiveContext, place: str) -> str:
    """Drive the base to a place and park facing it, close enough for the arm to work there.

    Args:
        place: "table" or "user".

    Returns:
        "ok", or "blocked: <reason>" if the robot touched something or did not arrive.
    """
    world = _mobile(ctx)
    name = _place_name(place)
    ctx.resolve(name)  # the cameras must see it
    ctx.invalidate()
    try:
        result = go_to_table(world, name)
    finally:
        ctx.invalidate()
    return _status(result, f"drive_to_place({place!r})")


@primitive(category="action", worlds=("mobile",))
def drive_to(ctx: PrimitiveContext, x: float, y: float) -> str:
    """Drive the base's centre to a floor position (it arrives facing the way it drove).

    Args:
        x: target x in metres (world frame).
        y: target y in metres (world frame).

    Returns:
        "ok", or "blocked: <reason>" if the robot touched something or did not arrive.
    """
    world = _mobile(ctx)
    world.safety.check_base_target(x, y)
    ctx.invalidate()
    try:
        result = _drive_to(world, x, y)
    finally:
        ctx.invalidate()
    return _status(result, f"drive_to({x:.2f}, {y:.2f})")


@primitive(category="action", worlds=("mobile",))
def pick_up(ctx: PrimitiveContext, name: str) -> None:
    """Grasp a block from above and lift it; the base must be parked at its table first.

    Args:
        name: the block, e.g. "red block".
    """
    world = _mobile(ctx)
    obj = ctx.resolve(name)
    if obj.kind != "block":
        raise PrimitiveError(f"pick_up(): {name!r} is a place, not a block")
    held = world.arm.held_object()
    if held == obj.name:
        return
    if held is not None:
        raise PrimitiveError(f"pick_up(): already holding the {held}; put it down first")
    ctx.invalidate()
    try:
        result = mobile_pick(world, obj.position)
    except SafetyViolation as exc:
        if exc.rule == "workspace":
            raise PrimitiveError(
                f"pick_up({name!r}): the {obj.name} is out of the arm's reach from here; "
                "drive_to_place() its table first"
            ) from None
        raise
    finally:
        ctx.invalidate()
    _check(result, f"pick_up({name!r})")


@primitive(category="action", worlds=("mobile",))
def put_down_on(ctx: PrimitiveContext, place: str) -> None:
    """Put the held block down on a place's top, in front of the robot; park there first.

    Args:
        place: "table" or "user" ("user" delivers to the user: "bring me X").
    """
    world = _mobile(ctx)
    held = world.arm.held_object()
    if held is None:
        raise PrimitiveError("put_down_on(): the gripper holds nothing (pick_up something first)")
    table = ctx.resolve(_place_name(place))
    x0, y0, _, x1, y1, _ = table.bbox
    # The point straight ahead of the arm, kept inside the top's edges.
    ax, ay, _ = world.arm.from_arm_frame((0.5, 0.0, 0.0))
    m = _EDGE_MARGIN
    if x1 - x0 < 2 * m or y1 - y0 < 2 * m:
        raise PrimitiveError(f"put_down_on({place!r}): the {table.name} is too small")
    tx = min(max(ax, x0 + m), x1 - m)
    ty = min(max(ay, y0 + m), y1 - m)
    ctx.invalidate()
    try:
        result = mobile_place(world, (tx, ty))
    except SafetyViolation as exc:
        if exc.rule == "workspace":
            raise PrimitiveError(
                f"put_down_on({place!r}): the {table.name} is out of the arm's reach from "
                f"here; drive_to_place({place!r}) first"
            ) from None
        raise
    finally:
        ctx.invalidate()
    _check(result, f"put_down_on({place!r})")


MOBILE_PRIMITIVES: tuple[PrimitiveSpec, ...] = (
    get_object_names,
    get_object_position,
    get_place_names,
    get_base_pose,
    get_carried_object,
    is_object_on,
    drive_to_place,
    drive_to,
    pick_up,
    put_down_on,
)
