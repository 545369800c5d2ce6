"""Safety limits every commanded end-effector pose and motion is checked against."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from policywright.errors import SafetyViolation
from policywright.sim._workspace import TABLE_Z

__all__ = ["Box", "SafetyLimits"]


class Box(BaseModel):
    """An axis-aligned box in the world frame (metres)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    z_min: float
    z_max: float
    name: str = "box"

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        for axis in "xyz":
            lo, hi = getattr(self, f"{axis}_min"), getattr(self, f"{axis}_max")
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError(f"{self.name}: need finite {axis}_min <= {axis}_max")
        return self

    def contains(self, xyz: Sequence[float] | np.ndarray) -> bool:
        """Whether the point lies inside the box (bounds included)."""
        x, y, z = (float(c) for c in xyz)
        return (
            self.x_min <= x <= self.x_max
            and self.y_min <= y <= self.y_max
            and self.z_min <= z <= self.z_max
        )

    def describe(self) -> str:
        """A short human-readable description of the bounds."""
        return (
            f"x [{self.x_min:.3f}, {self.x_max:.3f}], y [{self.y_min:.3f}, {self.y_max:.3f}], "
            f"z [{self.z_min:.3f}, {self.z_max:.3f}]"
        )


def _default_workspace() -> Box:
    return Box(
        x_min=0.15,
        x_max=0.85,
        y_min=-0.45,
        y_max=0.45,
        z_min=TABLE_Z + 0.005,
        z_max=TABLE_Z + 0.65,
        name="workspace",
    )


def _default_keep_out() -> list[Box]:
    # The robot's base and first links: the gripper must never be driven into its own column.
    return [
        Box(
            x_min=-1.0,
            x_max=0.2,
            y_min=-0.15,
            y_max=0.15,
            z_min=-1.0,
            z_max=TABLE_Z + 0.3,
            name="robot base",
        )
    ]


class SafetyLimits(BaseModel):
    """Limits on the commanded end-effector pose and motion.

    Attributes:
        workspace: The box the end effector must stay in.
        keep_out: Boxes the end effector must never enter.
        max_speed: Largest commanded end-effector speed (m/s).
        max_path_length: Longest single commanded path (m).
    """

    model_config = ConfigDict(extra="forbid")

    workspace: Box = Field(default_factory=_default_workspace)
    keep_out: list[Box] = Field(default_factory=_default_keep_out)
    max_speed: float = Field(default=1.0, gt=0)
    max_path_length: float = Field(default=5.0, gt=0)

    def check_pose(self, xyz: Sequence[float] | np.ndarray) -> None:
        """Check one commanded end-effector position.

        Raises:
            SafetyViolation: rule "non-finite", "workspace" or "keep-out".
        """
        arr = np.asarray(xyz, dtype=float).reshape(-1)
        if arr.shape != (3,):
            raise SafetyViolation("non-finite", f"expected an (x, y, z) position, got {xyz!r}")
        if not np.all(np.isfinite(arr)):
            raise SafetyViolation("non-finite", f"position {arr.tolist()} is not finite")
        if not self.workspace.contains(arr):
            raise SafetyViolation(
                "workspace",
                f"position ({arr[0]:.3f}, {arr[1]:.3f}, {arr[2]:.3f}) is outside the end-effector "
                f"workspace {self.workspace.describe()}",
            )
        for box in self.keep_out:
            if box.contains(arr):
                raise SafetyViolation(
                    "keep-out",
                    f"position ({arr[0]:.3f}, {arr[1]:.3f}, {arr[2]:.3f}) is inside the keep-out "
                    f"zone '{box.name}' ({box.describe()})",
                )

    def check_speed(self, speed: float) -> None:
        """Check a commanded end-effector speed (m/s).

        Raises:
            SafetyViolation: rule "non-finite" or "speed".
        """
        if not math.isfinite(speed):
            raise SafetyViolation("non-finite", f"speed {speed} is not finite")
        if speed > self.max_speed:
            raise SafetyViolation(
                "speed", f"speed {speed:.3f} m/s exceeds the limit of {self.max_speed:.3f} m/s"
            )

    def check_path(self, points: Sequence[Sequence[float]] | np.ndarray) -> float:
        """Check every point of a path and its total length.

        Args:
            points: An (N, 3) array of positions.

        Returns:
            The path length (m).

        Raises:
            SafetyViolation: any rule of :meth:`check_pose`, or "path-length".
        """
        arr = np.asarray(points, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
            raise SafetyViolation(
                "non-finite", f"expected an (N, 3) array of points, got shape {arr.shape}"
            )
        for point in arr:
            self.check_pose(point)
        length = float(np.sum(np.linalg.norm(np.diff(arr, axis=0), axis=1)))
        if length > self.max_path_length:
            raise SafetyViolation(
                "path-length",
                f"path length {length:.3f} m exceeds the limit of {self.max_path_length:.3f} m",
            )
        return length
