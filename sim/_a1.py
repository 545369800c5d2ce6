"""The Unitree A1 quadruped: loading, analytic leg IK, a trot gait generator, motors, odometry.

The gait is a foot-trajectory trot (period 0.3 s, duty 0.5, diagonal pairs FR+RL and FL+RR,
stance height 0.27 m, swing lift 6 cm) with analytic 3-DoF leg IK, as measured in
``sim-notes.md`` section 3. In stance each foot sweeps backwards at the body velocity the
(filtered) command asks for; in swing it returns with a cosine profile and a sine lift.

A *driver* produces the 12 joint targets every physics step: the scripted gait by default, or a
learned policy (``A1.driver``) fed by :meth:`A1.observation`. The gait clock and the command
filter always run here, so both drivers see the same phase and command.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pybullet as p

from policywright.sim._bullet import quiet_stdout

__all__ = [
    "A1",
    "GAIT_PERIOD_S",
    "OBS_DIM",
    "STANCE_HEIGHT",
    "leg_ik",
]

#: Trot period (s); each diagonal pair is in stance for half of it.
GAIT_PERIOD_S: Final[float] = 0.3
DUTY: Final[float] = 0.5
#: Hip-to-foot height in stance (m).
STANCE_HEIGHT: Final[float] = 0.27
SWING_LIFT: Final[float] = 0.06
#: Low-pass time constant of the velocity command (s).
COMMAND_TAU_S: Final[float] = 0.2
#: Motor settings (position control) measured to give a stable trot at 240 Hz.
MOTOR_FORCE: Final[float] = 33.5
POSITION_GAIN: Final[float] = 0.3
VELOCITY_GAIN: Final[float] = 1.0
FRICTION: Final[float] = 1.0

LEGS: Final = ("FR", "FL", "RR", "RL")
# Hip (abduction joint) positions in the base link frame and the side sign (+1 = left).
_HIP_XY: Final = {
    "FR": (0.183, -0.047),
    "FL": (0.183, 0.047),
    "RR": (-0.183, -0.047),
    "RL": (-0.183, 0.047),
}
_SIDE: Final = {"FR": -1.0, "FL": 1.0, "RR": -1.0, "RL": 1.0}
# Trot: FR+RL in phase, FL+RR half a period later.
_PHASE_OFFSET: Final = {"FR": 0.0, "RL": 0.0, "FL": 0.5, "RR": 0.5}
_ABD_OFFSET: Final[float] = 0.08505
_LINK: Final[float] = 0.2
#: Observation layout for learned drivers: sin/cos phase, filtered (vx, vy, wz), walking flag,
#: roll, pitch, body angular velocity (3), 12 joint positions, 12 joint velocities.
OBS_DIM: Final[int] = 2 + 3 + 1 + 2 + 3 + 12 + 12
BASE_HEIGHT: Final[float] = 0.30

Driver = Callable[["A1"], np.ndarray]


def leg_ik(x: float, y: float, z: float, side: float) -> tuple[float, float, float]:
    """Joint angles (abduction, thigh, calf) that put a foot at (x, y, z) from its hip.

    Args:
        x: Forward offset of the foot from the hip abduction joint (body frame, m).
        y: Left offset (m); the nominal stance is ``side * 0.08505``.
        z: Vertical offset (m, negative below the hip).
        side: +1 for a left leg, -1 for a right leg.

    Returns:
        (hip, thigh, calf) angles in radians; unreachable points are clamped to the workspace.
    """
    yo = side * _ABD_OFFSET
    d = max(math.hypot(y, z), abs(yo) + 1e-3)
    hip = math.atan2(y, -z) - math.atan2(yo, math.sqrt(d * d - yo * yo))
    zl = -math.sqrt(max(d * d - yo * yo, 1e-6))
    r = min(math.hypot(x, zl), 2 * _LINK - 1e-3)
    cos_knee = (r * r - 2 * _LINK * _LINK) / (2 * _LINK * _LINK)
    calf = -math.acos(float(np.clip(cos_knee, -1.0, 1.0)))
    thigh = math.atan2(-x, -zl) - math.atan2(_LINK * math.sin(calf), _LINK + _LINK * math.cos(calf))
    return hip, thigh, calf


def _stand_targets() -> np.ndarray:
    out: list[float] = []
    for leg in LEGS:
        out.extend(leg_ik(0.0, _SIDE[leg] * _ABD_OFFSET, -STANCE_HEIGHT, _SIDE[leg]))
    return np.asarray(out, dtype=float)


#: Joint targets of the stand pose (all feet under the hips).
STAND_TARGETS: Final[np.ndarray] = _stand_targets()
STAND_TARGETS.flags.writeable = False


def wrap_angle(a: float) -> float:
    """An angle wrapped to (-pi, pi]."""
    return math.atan2(math.sin(a), math.cos(a))


class A1:
    """An A1 in a PyBullet client, with its gait clock, command filter and motor driver.

    Args:
        client: The world's BulletClient.
        data_dir: pybullet_data directory (holds ``a1/a1.urdf``).
        xy: Start position.
        yaw: Start heading (rad).

    Attributes:
        body: The PyBullet body id.
        phase: Gait phase in [0, 1).
        command: Target body velocity (vx, vy, wz) in m/s, m/s, rad/s.
        filtered: The low-pass filtered command the gait uses.
        walking: Whether the legs trot (else they hold the stand pose).
        driver: Produces joint targets each physics step; None means the scripted gait.
        targets: The joint targets last sent to the motors.
    """

    def __init__(self, client: Any, data_dir: str, xy: tuple[float, float], yaw: float) -> None:
        self._c = client
        with quiet_stdout():
            self.body = int(
                client.loadURDF(
                    f"{data_dir}/a1/a1.urdf",
                    basePosition=[xy[0], xy[1], BASE_HEIGHT + 0.02],
                    baseOrientation=client.getQuaternionFromEuler([0.0, 0.0, yaw]),
                    flags=p.URDF_USE_SELF_COLLISION_EXCLUDE_ALL_PARENTS,
                )
            )
        names = {
            client.getJointInfo(self.body, j)[1].decode(): j
            for j in range(client.getNumJoints(self.body))
        }
        self.joints = [
            names[f"{leg}_{part}_joint"] for leg in LEGS for part in ("hip", "upper", "lower")
        ]
        self.toes = [names[f"{leg}_toe_fixed"] for leg in LEGS]
        for j in range(-1, client.getNumJoints(self.body)):
            client.changeDynamics(self.body, j, lateralFriction=FRICTION)
        for j, q in zip(self.joints, STAND_TARGETS, strict=True):
            client.resetJointState(self.body, j, float(q))
        self.phase = 0.0
        self.command = np.zeros(3)
        self.filtered = np.zeros(3)
        self.walking = False
        self.driver: Driver | None = None
        self.targets = STAND_TARGETS.copy()
        self._apply(self.targets)

    # -- commands ------------------------------------------------------------------------------
    def set_command(self, vx: float, vy: float, wz: float) -> None:
        """Trot at body velocity (vx forward, vy left, wz yaw rate); the gait filters it.

        Raises:
            ValueError: a component is NaN or infinite (nothing is changed).
        """
        cmd = np.array([vx, vy, wz], dtype=float)
        if not np.all(np.isfinite(cmd)):
            raise ValueError(f"non-finite locomotion command {cmd.tolist()}")
        self.command = cmd
        self.walking = True

    def stand(self) -> None:
        """Stop trotting: hold the stand pose, reset the gait clock and the command filter."""
        self.walking = False
        self.command = np.zeros(3)
        self.filtered = np.zeros(3)
        self.phase = 0.0
        self.targets = STAND_TARGETS.copy()
        self._apply(self.targets)

    def control_step(self, dt: float) -> None:
        """Advance the gait clock and the filter by ``dt`` and send the driver's targets.

        A driver that returns a wrong shape or non-finite targets is not obeyed: the robot
        stands and the error propagates to the caller.
        """
        if not self.walking:
            return
        self.filtered += (self.command - self.filtered) * (dt / COMMAND_TAU_S)
        self.phase = (self.phase + dt / GAIT_PERIOD_S) % 1.0
        targets = self.scripted_targets() if self.driver is None else self.driver(self)
        arr = np.asarray(targets, dtype=float)
        if arr.shape != (12,) or not np.all(np.isfinite(arr)):
            self.stand()
            raise ValueError(f"the locomotion driver returned invalid joint targets: {arr!r}")
        self.targets = arr
        self._apply(arr)

    def scripted_targets(self, phase: float | None = None) -> np.ndarray:
        """The scripted trot's joint targets at ``phase`` (default: now), filtered command."""
        ph = self.phase if phase is None else phase
        if not self.walking:
            return STAND_TARGETS.copy()
        vx, vy, wz = (float(v) for v in self.filtered)
        half_t = GAIT_PERIOD_S * DUTY
        out: list[float] = []
        for leg in LEGS:
            side = _SIDE[leg]
            hx, hy = _HIP_XY[leg]
            fy = hy + side * _ABD_OFFSET
            # Foot displacement over one stance: body velocity at the foot times stance time.
            sx = (vx - wz * fy) * half_t
            sy = (vy + wz * hx) * half_t
            psi = (ph + _PHASE_OFFSET[leg]) % 1.0
            if psi < DUTY:
                s = psi / DUTY
                k = 0.5 - s
                lift = 0.0
            else:
                s = (psi - DUTY) / (1.0 - DUTY)
                k = -0.5 + (1.0 - math.cos(math.pi * s)) / 2.0
                lift = SWING_LIFT * math.sin(math.pi * s)
            out.extend(leg_ik(k * sx, side * _ABD_OFFSET + k * sy, -STANCE_HEIGHT + lift, side))
        return np.asarray(out, dtype=float)

    def _apply(self, targets: np.ndarray) -> None:
        n = len(self.joints)
        self._c.setJointMotorControlArray(
            self.body,
            self.joints,
            p.POSITION_CONTROL,
            targetPositions=[float(t) for t in targets],
            forces=[MOTOR_FORCE] * n,
            positionGains=[POSITION_GAIN] * n,
            velocityGains=[VELOCITY_GAIN] * n,
        )

    # -- reads ---------------------------------------------------------------------------------
    def pose(self) -> tuple[float, float, float]:
        """Base (x, y, yaw) in the world frame (the odometry the skills close the loop on)."""
        pos, orn = self._c.getBasePositionAndOrientation(self.body)
        yaw = self._c.getEulerFromQuaternion(orn)[2]
        return float(pos[0]), float(pos[1]), float(yaw)

    def base_position(self) -> tuple[float, float, float]:
        """Base position (x, y, z)."""
        pos, _ = self._c.getBasePositionAndOrientation(self.body)
        return float(pos[0]), float(pos[1]), float(pos[2])

    def roll_pitch(self) -> tuple[float, float]:
        """Base roll and pitch (rad)."""
        _, orn = self._c.getBasePositionAndOrientation(self.body)
        r, pt, _ = self._c.getEulerFromQuaternion(orn)
        return float(r), float(pt)

    def observation(self) -> np.ndarray:
        """The learned driver's input vector (see :data:`OBS_DIM` for the layout)."""
        c = self._c
        _, orn = c.getBasePositionAndOrientation(self.body)
        roll, pitch, _ = c.getEulerFromQuaternion(orn)
        _, ang = c.getBaseVelocity(self.body)
        rot = np.asarray(c.getMatrixFromQuaternion(orn), dtype=float).reshape(3, 3)
        ang_body = rot.T @ np.asarray(ang, dtype=float)
        states = c.getJointStates(self.body, self.joints)
        q = [s[0] for s in states]
        dq = [s[1] for s in states]
        a = 2.0 * math.pi * self.phase
        return np.asarray(
            [
                math.sin(a),
                math.cos(a),
                *self.filtered,
                1.0 if self.walking else 0.0,
                roll,
                pitch,
                *ang_body,
                *q,
                *dq,
            ],
            dtype=float,
        )

    def foreign_contacts(self, ground: int) -> list[int]:
        """Bodies other than the ground (and itself) the robot touches now."""
        seen: set[int] = set()
        for cp in self._c.getContactPoints(bodyA=self.body):
            other = int(cp[2])
            if other not in (ground, self.body):
                seen.add(other)
        return sorted(seen)

    # -- controller state (not in a bullet snapshot) ---------------------------------------------
    def controller_state(self) -> dict[str, Any]:
        """Gait phase, commands and targets as JSON-able values."""
        return {
            "phase": self.phase,
            "command": self.command.tolist(),
            "filtered": self.filtered.tolist(),
            "walking": self.walking,
            "targets": self.targets.tolist(),
        }

    def load_controller_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`controller_state` returned (and resend the motor targets)."""
        self.phase = float(state["phase"])
        self.command = np.asarray(state["command"], dtype=float)
        self.filtered = np.asarray(state["filtered"], dtype=float)
        self.walking = bool(state["walking"])
        self.targets = np.asarray(state["targets"], dtype=float)
        self._apply(self.targets)
