"""What every world offers the engine, whatever the robot (tabletop arm, legged, wheeled)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from policywright.sim._perception import DetectedObject, ObjectPose

__all__ = ["World"]


@runtime_checkable
class World(Protocol):
    """The engine's view of a world. ``TabletopWorld``, ``FloorWorld`` and ``MobileWorld`` fit it.

    Worlds other than the tabletop also define ``safe_stop() -> str``: bring the robot to a safe
    rest after a failed program and say what was done ("" if nothing was needed).

    Attributes:
        kind: "tabletop", "floor" or "mobile": selects the primitives (``PrimitiveSpec.worlds``).
        cameras: Camera names ``render`` accepts; the first is the planner's overview camera.
    """

    kind: str
    cameras: tuple[str, ...]
    #: Polled by the skills every control step; True stops the motion ("stop").
    stop_check: Callable[[], bool] | None
    #: Speed factor from "slower" (0.25..1.0).
    motion_scale: float

    @property
    def sim_time(self) -> float:
        """Simulated seconds since the world was built."""
        ...

    def step(self, n: int = 1) -> None:
        """Advance physics ``n`` steps."""
        ...

    def detect(self) -> dict[str, DetectedObject]:
        """Perceive the objects (cameras, never a pose read)."""
        ...

    def true_poses(self) -> dict[str, ObjectPose]:
        """Ground truth, for reports and tests only."""
        ...

    def render(self, camera: Any = ..., width: int = 320, height: int = 240) -> np.ndarray:
        """An RGB image (H, W, 3) uint8 from a named camera."""
        ...

    def save_state(self, path: str | Path) -> Path:
        """Snapshot physics (and controller state) to a file."""
        ...

    def restore_state(self, path: str | Path) -> None:
        """Restore a snapshot written by ``save_state``."""
        ...

    def close(self) -> None:
        """Release the physics client."""
        ...
