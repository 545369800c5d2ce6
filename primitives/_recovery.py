"""Bring the robot back to a state the next command can start from, after a failed program."""

from __future__ import annotations

import logging

import numpy as np

from policywright.errors import SafetyViolation
from policywright.primitives._context import PrimitiveContext
from policywright.sim import HOME_XYZ, WORKSPACE
from policywright.skills import go_home, place

__all__ = ["safe_stop"]

logger = logging.getLogger(__name__)


def safe_stop(ctx: PrimitiveContext) -> str:
    """Put down whatever the gripper holds (straight below, clamped to the workspace) and go home.

    A program that fails between a pick and a place would otherwise leave a block in the air,
    and the next command's first pick would fail for a reason the planner cannot see.

    Args:
        ctx: the engine-side primitive context.

    Returns:
        What was done, for the task's record ("" when nothing was needed).
    """
    if ctx.world.kind != "tabletop":
        # Other worlds know their own robot: stop the base, put the arm at rest.
        stop = getattr(ctx.world, "safe_stop", None)
        text = str(stop()) if callable(stop) else ""
        ctx.invalidate()
        return text
    world = ctx.tabletop
    done: list[str] = []
    held = world.arm.held_object()
    if held is not None:
        x, y = (float(v) for v in world.arm.ee_pos()[:2])
        x = float(np.clip(x, WORKSPACE[0], WORKSPACE[2]))
        y = float(np.clip(y, WORKSPACE[1], WORKSPACE[3]))
        try:
            result = place(world, [x, y])
            done.append(
                f"put the {held} down at ({x:.3f}, {y:.3f})"
                if result.ok
                else f"could not put the {held} down: {result.message}"
            )
        except SafetyViolation as exc:
            done.append(f"could not put the {held} down: {exc}")
    ee = np.asarray(world.arm.ee_pos(), dtype=float)
    if held is not None or np.linalg.norm(ee[:2] - np.asarray(HOME_XYZ[:2], dtype=float)) > 0.05:
        try:
            result = go_home(world)
            done.append(
                "moved the arm home" if result.ok else f"could not go home: {result.message}"
            )
        except SafetyViolation as exc:
            done.append(f"could not go home: {exc}")
    ctx.invalidate()
    ctx.before_pick = None
    if done:
        logger.info("safe stop: %s", "; ".join(done))
    return "; ".join(done)
