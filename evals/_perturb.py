"""Perturbations injected mid-task (the recovery suite).

A :class:`Perturber` is an ``on_event`` hook: it runs in the engine's thread, so it may act on
the PyBullet world. "move_object" and "knock_over" act right after a primitive call finishes;
"slip" watches the physics while the carrying primitive runs (it wraps the world's ``step``)
and, once the held object has been lifted and carried a few centimetres, takes it out of the
fingers and drops it straight down, as a grasp that slips would.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Final

from policywright.evals._schema import PerturbationSpec
from policywright.sim import TABLE_Z, WORKSPACE

__all__ = ["Perturber"]

logger = logging.getLogger(__name__)

_BLOCK_REST_Z: Final = TABLE_Z + 0.021
_SETTLE_STEPS: Final = 60
#: The slip fires once the held object is this high above the table and this far from where
#: it was lifted (mid-carry, not during the grasp).
_SLIP_HEIGHT_M: Final = 0.08
_SLIP_CARRIED_M: Final = 0.05
_SLIP_CHECK_EVERY: Final = 12


def _clamp(xy: Sequence[float], inset: float = 0.04) -> tuple[float, float]:
    x0, y0, x1, y1 = WORKSPACE
    return (min(max(xy[0], x0 + inset), x1 - inset), min(max(xy[1], y0 + inset), y1 - inset))


class Perturber:
    """Fires each perturbation once, at its trigger.

    Args:
        engine: The engine (its primitive context's detection cache is dropped after a change).
        world: The tabletop world.
        specs: The perturbations.

    Attributes:
        fired: One record per perturbation that happened (kind, object, where).
    """

    def __init__(self, engine: Any, world: Any, specs: Sequence[PerturbationSpec]) -> None:
        self.engine = engine
        self.world = world
        self.specs = list(specs)
        self.fired: list[dict[str, Any]] = []
        self._done: set[int] = set()
        self._counts: dict[tuple[str, str], int] = {}
        self._slip: dict[str, Any] | None = None

    # -- triggers ------------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind not in ("call", "call_start"):
            return
        name = str(event.get("name", ""))
        key = (str(kind), name)
        self._counts[key] = self._counts.get(key, 0) + 1
        for i, spec in enumerate(self.specs):
            if i in self._done or spec.after_call != name:
                continue
            if self._counts[key] != spec.index:
                continue
            if spec.kind == "slip" and kind == "call_start":
                self._done.add(i)
                self._arm_slip(spec)
            elif spec.kind != "slip" and kind == "call":
                self._done.add(i)
                self._act(spec, event)

    def close(self) -> None:
        """Remove the physics hook if a slip never fired."""
        self._disarm()

    # -- move / knock over ---------------------------------------------------------------------
    def _target_of(self, spec: PerturbationSpec, event: dict[str, Any]) -> str | None:
        if spec.object:
            return spec.object
        args = event.get("args") or []
        first = args[0] if args else None
        return first if isinstance(first, str) and first in self.world.object_names else None

    def _act(self, spec: PerturbationSpec, event: dict[str, Any]) -> None:
        name = self._target_of(spec, event)
        if name is None:
            logger.info("perturbation %s: no object to act on", spec.kind)
            return
        c = self.world.client
        body = self.world.body_id(name)
        pos, orn = c.getBasePositionAndOrientation(body)
        xy = _clamp((pos[0] + spec.offset[0], pos[1] + spec.offset[1]))
        if math.dist(xy, pos[:2]) < 0.6 * math.hypot(*spec.offset):
            # The table edge swallowed most of the shift: move it the other way instead.
            xy = _clamp((pos[0] - spec.offset[0], pos[1] - spec.offset[1]))
        if spec.kind == "knock_over":
            # On its side: a quarter turn about the x axis, next to where it stood.
            orn = c.getQuaternionFromEuler([math.pi / 2, 0.0, 0.0])
        c.resetBasePositionAndOrientation(body, [xy[0], xy[1], _BLOCK_REST_Z], orn)
        c.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
        self.world.step(_SETTLE_STEPS)
        self.engine.prim.invalidate()
        self.fired.append(
            {"kind": spec.kind, "object": name, "from": [pos[0], pos[1]], "to": list(xy)}
        )

    # -- slip ----------------------------------------------------------------------------------
    def _arm_slip(self, spec: PerturbationSpec) -> None:
        world = self.world
        original = world.step
        state: dict[str, Any] = {"spec": spec, "lifted_at": None, "since": 0}
        self._slip = state

        def step(n: int = 1) -> None:
            left = n
            while left > 0:
                chunk = min(left, _SLIP_CHECK_EVERY)
                original(chunk)
                left -= chunk
                if self._slip is not None:
                    self._check_slip(state)

        world.step = step  # the world's own physics loop now passes through the check

    def _check_slip(self, state: dict[str, Any]) -> None:
        arm = self.world.arm
        held = arm.held_object()
        spec: PerturbationSpec = state["spec"]
        if held is None or (spec.object and held != spec.object):
            return
        ee = arm.ee_pos()
        if state["lifted_at"] is None:
            if ee[2] > TABLE_Z + _SLIP_HEIGHT_M:
                state["lifted_at"] = (float(ee[0]), float(ee[1]))
            return
        moved = math.dist(state["lifted_at"], (float(ee[0]), float(ee[1])))
        if moved < _SLIP_CARRIED_M:
            return
        c = self.world.client
        body = self.world.body_id(held)
        _, orn = c.getBasePositionAndOrientation(body)
        xy = _clamp((float(ee[0]), float(ee[1])))
        c.resetBasePositionAndOrientation(body, [xy[0], xy[1], _BLOCK_REST_Z], orn)
        c.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
        self.fired.append({"kind": "slip", "object": held, "to": list(xy)})
        self._disarm()

    def _disarm(self) -> None:
        if self._slip is not None:
            self._slip = None
            if "step" in vars(self.world):
                del self.world.step
