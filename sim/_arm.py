"""The Franka Panda arm: safety-checked Cartesian commands through IK, gripper, grasp sensing."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import pybullet as p

from policywright.errors import SafetyViolation
from policywright.sim._safety import SafetyLimits
from policywright.sim._workspace import TABLE_Z

__all__ = ["GRIPPER_MAX_WIDTH", "HOME_XYZ", "PandaArm"]

#: End-effector retract pose: out of the top camera's view of the workspace.
HOME_XYZ: Final[tuple[float, float, float]] = (0.25, 0.0, TABLE_Z + 0.45)
#: Widest gripper opening (m).
GRIPPER_MAX_WIDTH: Final[float] = 0.08

_ARM_JOINTS: Final = tuple(range(7))
_FINGERS: Final = (9, 10)
_EE_LINK: Final = 11
_HOME_Q: Final = (0.0, -0.4, 0.0, -2.2, 0.0, 1.8, math.pi / 4)
_ARM_FORCES: Final = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
_POSITION_GAIN: Final = 0.1
_FINGER_FORCE: Final = 40.0


class PandaArm:
    """Cartesian control of the Panda: every command passes the safety check first.

    Created by :class:`~policywright.sim.TabletopWorld`; not meant to be built directly.
    """

    def __init__(
        self,
        client: Any,
        body: int,
        safety: SafetyLimits,
        objects: Callable[[], Mapping[int, str]],
    ) -> None:
        self._c = client
        self.body = body
        self.safety = safety
        self._objects = objects
        lower, upper, ranges = [], [], []
        for j in range(client.getNumJoints(body)):
            info = client.getJointInfo(body, j)
            if info[2] != p.JOINT_FIXED:
                lower.append(float(info[8]))
                upper.append(float(info[9]))
                ranges.append(float(info[9] - info[8]))
        self._ll, self._ul, self._jr = lower, upper, ranges
        self._rest = [*_HOME_Q, 0.04, 0.04]
        self.target_xyz: tuple[float, float, float] = HOME_XYZ
        self.target_yaw: float = 0.0
        self.gripper_target: float = GRIPPER_MAX_WIDTH
        self.q_target: list[float] = list(_HOME_Q)

    # -- setup -------------------------------------------------------------------------------
    def reset_home(self) -> None:
        """Teleport the joints to the home pose (only while building a world)."""
        for j, q in zip(_ARM_JOINTS, _HOME_Q, strict=True):
            self._c.resetJointState(self.body, j, q)
        for f in _FINGERS:
            self._c.resetJointState(self.body, f, GRIPPER_MAX_WIDTH / 2)
        # A few IK passes from the teleported pose converge to the exact home position.
        for _ in range(5):
            q_home = self._ik(HOME_XYZ, 0.0)
            for j, qj in zip(_ARM_JOINTS, q_home, strict=True):
                self._c.resetJointState(self.body, j, qj)
        self.target_xyz, self.target_yaw = HOME_XYZ, 0.0
        self.gripper_target = GRIPPER_MAX_WIDTH
        self.q_target = list(self._ik(HOME_XYZ, 0.0))
        self.apply_targets()

    def setup_gripper(self) -> None:
        """Finger friction and the finger gear (only while building a world)."""
        for f in _FINGERS:
            self._c.changeDynamics(
                self.body, f, lateralFriction=1.5, spinningFriction=0.01, frictionAnchor=True
            )
        # The gear keeps both fingers symmetric so the grasp centres the block.
        gear = self._c.createConstraint(
            self.body,
            _FINGERS[0],
            self.body,
            _FINGERS[1],
            p.JOINT_GEAR,
            [1, 0, 0],
            [0, 0, 0],
            [0, 0, 0],
        )
        self._c.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50)

    # -- sensing -----------------------------------------------------------------------------
    def ee_pos(self) -> np.ndarray:
        """Current end-effector (grasp target between the fingertips) position."""
        state = self._c.getLinkState(self.body, _EE_LINK, computeForwardKinematics=True)
        return np.asarray(state[4], dtype=float)

    def ee_yaw(self) -> float:
        """Current gripper yaw about world z (radians)."""
        state = self._c.getLinkState(self.body, _EE_LINK, computeForwardKinematics=True)
        m = np.asarray(self._c.getMatrixFromQuaternion(state[5]), dtype=float).reshape(3, 3)
        return float(math.atan2(m[1, 0], m[0, 0]))

    def gripper_width(self) -> float:
        """Current distance between the fingers (m)."""
        return float(sum(self._c.getJointState(self.body, f)[0] for f in _FINGERS))

    def held_object(self) -> str | None:
        """The object both fingers touch, or None."""
        for body, name in self._objects().items():
            if all(
                self._c.getContactPoints(bodyA=self.body, bodyB=body, linkIndexA=f)
                for f in _FINGERS
            ):
                return name
        return None

    def joint_positions(self) -> list[float]:
        """The seven arm joint angles (rad)."""
        return [float(self._c.getJointState(self.body, j)[0]) for j in _ARM_JOINTS]

    def set_joint_state(self, joints: list[float], gripper_width: float) -> None:
        """Put the arm at ``joints`` with the fingers ``gripper_width`` apart (no motion).

        For building a twin from the robot's own state (proprioception), not for control.
        """
        for joint, angle in zip(_ARM_JOINTS, joints, strict=True):
            self._c.resetJointState(self.body, joint, float(angle))
        for finger in _FINGERS:
            self._c.resetJointState(self.body, finger, float(gripper_width) / 2)

    # -- control -----------------------------------------------------------------------------
    def command(
        self, target_xyz: Any, yaw: float = 0.0, gripper_width: float | None = None
    ) -> None:
        """Drive the end effector towards a pose (top-down gripper) and set the gripper.

        The target is checked by the safety limits before anything moves; the IK is re-solved
        from the current configuration, so calling this at the control rate tracks a trajectory.

        Args:
            target_xyz: End-effector position (m, world frame).
            yaw: Gripper yaw about world z (radians).
            gripper_width: Finger opening in [0, 0.08] m; None keeps the current target.

        Raises:
            SafetyViolation: the target breaks a safety rule (nothing is commanded).
        """
        self.safety.check_pose(target_xyz)
        if not math.isfinite(yaw):
            raise SafetyViolation("non-finite", f"yaw {yaw} is not finite")
        if gripper_width is not None and not math.isfinite(gripper_width):
            raise SafetyViolation("non-finite", f"gripper width {gripper_width} is not finite")
        xyz = tuple(float(c) for c in np.asarray(target_xyz, dtype=float).reshape(3))
        self.target_xyz = (xyz[0], xyz[1], xyz[2])
        self.target_yaw = float(yaw)
        if gripper_width is not None:
            self.gripper_target = float(min(max(gripper_width, 0.0), GRIPPER_MAX_WIDTH))
        self.q_target = list(self._ik(self.target_xyz, self.target_yaw))
        self.apply_targets()

    def apply_targets(self) -> None:
        """(Re)send the stored joint and gripper targets to the motors."""
        self._c.setJointMotorControlArray(
            self.body,
            list(_ARM_JOINTS),
            p.POSITION_CONTROL,
            targetPositions=self.q_target,
            forces=list(_ARM_FORCES),
            positionGains=[_POSITION_GAIN] * 7,
        )
        half = self.gripper_target / 2
        self._c.setJointMotorControlArray(
            self.body,
            list(_FINGERS),
            p.POSITION_CONTROL,
            targetPositions=[half, half],
            forces=[_FINGER_FORCE, _FINGER_FORCE],
        )

    def controller_state(self) -> dict[str, Any]:
        """The controller's targets as JSON-able data (physics snapshots do not hold them)."""
        return {
            "target_xyz": list(self.target_xyz),
            "target_yaw": self.target_yaw,
            "gripper_target": self.gripper_target,
            "q_target": list(self.q_target),
        }

    def load_controller_state(self, state: Mapping[str, Any]) -> None:
        """Restore targets saved by :meth:`controller_state` and re-send them to the motors."""
        xyz = [float(v) for v in state["target_xyz"]]
        self.target_xyz = (xyz[0], xyz[1], xyz[2])
        self.target_yaw = float(state["target_yaw"])
        self.gripper_target = float(state["gripper_target"])
        self.q_target = [float(v) for v in state["q_target"]]
        self.apply_targets()

    def _ik(self, xyz: tuple[float, float, float], yaw: float) -> list[float]:
        orn = self._c.getQuaternionFromEuler([math.pi, 0.0, yaw])
        q = self._c.calculateInverseKinematics(
            self.body,
            _EE_LINK,
            list(xyz),
            orn,
            lowerLimits=self._ll,
            upperLimits=self._ul,
            jointRanges=self._jr,
            restPoses=self._rest,
            maxNumIterations=50,
            residualThreshold=1e-4,
        )
        return [float(v) for v in q[:7]]
