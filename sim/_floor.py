"""The floor world: an A1 quadruped on a plane with coloured landmark boxes.

Frames: world frame, metres, z up; the robot starts at ``FloorSpec.robot_xy`` facing
``robot_yaw_deg`` (0 = +x). The overhead camera looks straight down with +x at the top of the
image and +y on the image's left, so the image reads like a map. The ego camera rides on the
robot's head, looking where it faces.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Final, Literal, Self

import numpy as np
import pybullet as p
from pybullet_utils import bullet_client
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policywright.sim._a1 import A1, STAND_TARGETS
from policywright.sim._bullet import CameraSpec, capture, data_path, quiet_stdout
from policywright.sim._client_world import ClientWorld
from policywright.sim._perception import DetectedObject, ObjectPose, nearest_color
from policywright.sim._scene import COLORS

__all__ = [
    "FLOOR_EXTENT_M",
    "FloorSpec",
    "FloorWorld",
    "LandmarkSpec",
    "sample_floor",
]

logger = logging.getLogger(__name__)

PHYSICS_HZ: Final[int] = 240
#: Landmarks and the robot stay within this half-width square around the origin (m).
FLOOR_EXTENT_M: Final[float] = 3.0
_SETTLE_STEPS: Final[int] = 120
_DETECT_SIZE: Final = (480, 360)
#: |roll| or |pitch| beyond this (rad) means the robot has fallen over.
FALL_TILT_RAD: Final[float] = 1.0
_CAM_FAR: Final[float] = 12.0

LandmarkKind = Literal["landmark", "box"]


class LandmarkSpec(BaseModel):
    """One static object on the floor.

    Attributes:
        name: ``"<colour> <kind>"``, unique in the world.
        kind: "landmark" (a 0.2 x 0.2 x 0.5 m post by default) or "box" (a low obstacle).
        color: One of the ten colour words.
        position: Centre xy on the floor (m), within :data:`FLOOR_EXTENT_M`.
        size: (x, y, z) edge lengths (m).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: LandmarkKind = "landmark"
    color: str
    position: tuple[float, float]
    size: tuple[float, float, float] = (0.2, 0.2, 0.5)

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        if value not in COLORS:
            raise ValueError(f"unknown colour {value!r}; known colours: {', '.join(COLORS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.name != f"{self.color} {self.kind}":
            raise ValueError(f"name {self.name!r} must be {self.color + ' ' + self.kind!r}")
        if not all(math.isfinite(v) for v in self.position):
            raise ValueError(f"{self.name}: position must be finite")
        if max(abs(v) for v in self.position) > FLOOR_EXTENT_M:
            raise ValueError(f"{self.name}: position {self.position} is off the floor area")
        if not all(math.isfinite(v) and 0.02 <= v <= 1.0 for v in self.size):
            raise ValueError(f"{self.name}: size edges must be in [0.02, 1.0] m")
        return self


class FloorSpec(BaseModel):
    """A floor scene: the landmarks and the robot's start pose.

    Attributes:
        landmarks: The static objects, names unique.
        robot_xy: Start position of the robot's base.
        robot_yaw_deg: Start heading (degrees; 0 faces +x, 90 faces +y).
        seed: The seed it was sampled from (None for hand-written scenes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    landmarks: list[LandmarkSpec] = Field(default_factory=list)
    robot_xy: tuple[float, float] = (0.0, 0.0)
    robot_yaw_deg: float = 0.0
    seed: int | None = None

    @model_validator(mode="after")
    def _valid(self) -> Self:
        names = [lm.name for lm in self.landmarks]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate landmark names {sorted(dup)}")
        if not (math.isfinite(self.robot_yaw_deg) and all(map(math.isfinite, self.robot_xy))):
            raise ValueError("the robot's start pose must be finite")
        for lm in self.landmarks:
            clear = math.dist(lm.position, self.robot_xy) - max(lm.size[:2]) / 2
            if clear < 0.4:
                raise ValueError(f"{lm.name} is too close to the robot's start (< 0.4 m)")
        return self

    @property
    def names(self) -> list[str]:
        """Landmark names in spec order."""
        return [lm.name for lm in self.landmarks]


def sample_floor(seed: int, n_landmarks: int = 4) -> FloorSpec:
    """A seeded floor scene: the robot at the origin facing +x, landmarks 1-3 m away.

    Landmarks have distinct colours and stand at least 0.9 m apart, so the robot fits between
    them. The same seed gives the same scene.

    Args:
        seed: The random seed.
        n_landmarks: How many landmarks (1-10).

    Returns:
        The scene.

    Raises:
        ValueError: ``n_landmarks`` out of range.
    """
    if not 1 <= n_landmarks <= len(COLORS):
        raise ValueError(f"n_landmarks must be in [1, {len(COLORS)}], got {n_landmarks}")
    rng = np.random.default_rng(seed)
    colors = [str(c) for c in rng.choice(list(COLORS), size=n_landmarks, replace=False)]
    placed: list[tuple[float, float]] = []
    while len(placed) < n_landmarks:
        r = float(rng.uniform(1.0, 2.6))
        a = float(rng.uniform(-math.pi, math.pi))
        xy = (round(r * math.cos(a), 3), round(r * math.sin(a), 3))
        if all(math.dist(xy, q) >= 0.9 for q in placed):
            placed.append(xy)
    return FloorSpec(
        landmarks=[
            LandmarkSpec(name=f"{c} landmark", color=c, position=xy)
            for c, xy in zip(colors, placed, strict=True)
        ],
        seed=seed,
    )


@dataclass(frozen=True)
class _FarCamera(CameraSpec):
    """A camera whose far plane reaches across the floor (the tabletop's ends at 3 m).

    A near plane far from the eye keeps depth precise at long range (the overhead camera).
    """

    near: float = 0.05

    def matrices(self, width: int, height: int) -> tuple[list[float], list[float]]:
        view = p.computeViewMatrix(self.eye, self.target, self.up)
        proj = p.computeProjectionMatrixFOV(self.fov, width / height, self.near, _CAM_FAR)
        return list(view), list(proj)


#: Straight down from 7.5 m: +x at the top of the image, +y on its left; covers about +-3.5 m.
OVERHEAD: Final = _FarCamera(
    eye=(0.0, 0.0, 7.5), target=(0.0, 0.0, 0.0), up=(1.0, 0.0, 0.0), fov=50.0, near=5.0
)


class FloorWorld(ClientWorld[FloorSpec]):
    """An A1 quadruped and landmarks on a flat floor, in a private PyBullet client.

    Args:
        spec: The scene (see :func:`sample_floor`).
        gui: Open the PyBullet GUI instead of a headless client.

    Attributes:
        spec: The scene the world was built from.
        robot: The :class:`~policywright.sim._a1.A1` with its gait controller.
    """

    kind: str = "floor"
    cameras: tuple[str, ...] = ("overhead", "ego")

    def __init__(self, spec: FloorSpec, *, gui: bool = False) -> None:
        with quiet_stdout():
            self._c: Any = bullet_client.BulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        self._closed = False
        self.spec = spec
        self._bodies: dict[int, LandmarkSpec] = {}
        self._steps = 0
        self._last_detect: dict[str, DetectedObject] = {}
        self.robot: A1
        self._ground = -1
        self._build(spec)

    def _build(self, spec: FloorSpec) -> None:
        c = self._c
        c.resetSimulation()
        c.setTimeStep(1.0 / PHYSICS_HZ)
        c.setGravity(0, 0, -9.81)
        c.setAdditionalSearchPath(data_path())
        with quiet_stdout():
            self._ground = int(c.loadURDF("plane.urdf"))
        c.changeDynamics(self._ground, -1, lateralFriction=1.0)
        self._bodies = {}
        for lm in spec.landmarks:
            half = [s / 2 for s in lm.size]
            rgb = COLORS[lm.color]
            col = c.createCollisionShape(p.GEOM_BOX, halfExtents=half)
            vis = c.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=[*rgb, 1.0])
            body = c.createMultiBody(
                baseMass=0.0,
                baseCollisionShapeIndex=col,
                baseVisualShapeIndex=vis,
                basePosition=[lm.position[0], lm.position[1], half[2]],
            )
            self._bodies[int(body)] = lm
        self.robot = A1(c, data_path(), spec.robot_xy, math.radians(spec.robot_yaw_deg))
        for _ in range(_SETTLE_STEPS):
            c.stepSimulation()
        self._steps = 0
        self._last_detect = {}
        self.spec = spec

    def reset(self, spec: FloorSpec | None = None) -> None:
        """Rebuild the world in place (same spec unless a new one is given)."""
        self._build(spec if spec is not None else self.spec)

    @property
    def ground(self) -> int:
        """Body id of the floor plane."""
        return self._ground

    @property
    def landmark_names(self) -> list[str]:
        """Names of the objects in the scene, in spec order."""
        return [lm.name for lm in self._bodies.values()]

    def body_name(self, body: int) -> str:
        """Name of a landmark body, or a description for other bodies."""
        lm = self._bodies.get(body)
        return lm.name if lm is not None else f"body {body}"

    # -- time ------------------------------------------------------------------------------------
    @property
    def sim_time(self) -> float:
        """Simulated seconds since the world was built."""
        return self._steps / PHYSICS_HZ

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps; the gait controller runs every step."""
        dt = 1.0 / PHYSICS_HZ
        for _ in range(n):
            self.robot.control_step(dt)
            self._c.stepSimulation()
            self._steps += 1

    # -- robot state ---------------------------------------------------------------------------
    def robot_pose(self) -> tuple[float, float, float]:
        """The robot's odometry: base (x, y, yaw in rad)."""
        return self.robot.pose()

    @property
    def fallen(self) -> bool:
        """True when the robot's base is tilted past :data:`FALL_TILT_RAD` or lies on the floor."""
        roll, pitch = self.robot.roll_pitch()
        return max(abs(roll), abs(pitch)) > FALL_TILT_RAD or self.robot.base_position()[2] < 0.12

    def foreign_contacts(self) -> list[str]:
        """Names of what the robot touches other than the floor."""
        return [self.body_name(b) for b in self.robot.foreign_contacts(self._ground)]

    def safe_stop(self) -> str:
        """Stop trotting and stand; a fallen robot is set back upright where it lies.

        Returns:
            What was done, or "" if the robot was already standing still.
        """
        self.robot.driver = None
        if self.fallen:
            x, y, yaw = self.robot_pose()
            self._c.resetBasePositionAndOrientation(
                self.robot.body,
                [x, y, 0.32],
                self._c.getQuaternionFromEuler([0.0, 0.0, yaw]),
            )
            self._c.resetBaseVelocity(self.robot.body, [0, 0, 0], [0, 0, 0])
            for j, q in zip(self.robot.joints, STAND_TARGETS, strict=True):
                self._c.resetJointState(self.robot.body, j, float(q))
            self.robot.stand()
            self.step(_SETTLE_STEPS)
            return f"the robot had fallen; it was set upright at ({x:.2f}, {y:.2f})"
        if self.robot.walking:
            self.robot.stand()
            self.step(PHYSICS_HZ // 4)
            return "stopped walking and stood still"
        return ""

    # -- cameras ---------------------------------------------------------------------------------
    def _camera(self, camera: str) -> CameraSpec:
        if camera == "overhead":
            return OVERHEAD
        if camera == "ego":
            x, y, yaw = self.robot_pose()
            z = self.robot.base_position()[2]
            fx, fy = math.cos(yaw), math.sin(yaw)
            eye = (x + 0.28 * fx, y + 0.28 * fy, z + 0.05)
            target = (eye[0] + fx, eye[1] + fy, eye[2] - 0.15)
            return _FarCamera(eye=eye, target=target, up=(0.0, 0.0, 1.0), fov=70.0)
        raise ValueError(f"unknown camera {camera!r}; use one of {list(self.cameras)}")

    def render(self, camera: str = "overhead", width: int = 320, height: int = 240) -> np.ndarray:
        """Render an RGB image.

        Args:
            camera: "overhead" (a map view: +x up, +y left) or "ego" (the robot's head camera).
            width: Image width in pixels.
            height: Image height in pixels.

        Returns:
            An (height, width, 3) uint8 array.
        """
        rgb, _, _ = capture(self._c, self._camera(camera), width, height, seg=False)
        return rgb

    def detect(self) -> dict[str, DetectedObject]:
        """Perceive the landmarks from the overhead camera's segmentation + depth.

        Each landmark's centre comes from its top face (the pixels near its highest point);
        its height from the depth, so the centre is (x, y, top / 2). Landmarks hidden now keep
        their last estimate, marked ``stale``.

        Returns:
            Name -> :class:`DetectedObject` (kind "landmark" or "box").
        """
        w, h = _DETECT_SIZE
        rgb, depth, seg = capture(self._c, OVERHEAD, w, h, seg=True)
        assert seg is not None
        out: dict[str, DetectedObject] = {}
        for body, lm in self._bodies.items():
            vs, us = np.nonzero(seg == body)
            if us.size >= 6:
                # CameraSpec.deproject follows TinyRenderer's pixel convention (the half-pixel
                # shift it needs took this world's error from 14 to 6 mm).
                pts = OVERHEAD.deproject(us, vs, depth[vs, us], w, h)
                top = float(np.max(pts[:, 2]))
                band = pts[:, 2] >= top - 0.005
                face = pts[band]
                cx, cy = (float(v) for v in face[:, :2].mean(axis=0))
                lo, hi = np.min(pts, axis=0), np.max(pts, axis=0)
                colour = nearest_color(rgb[vs[band], us[band]].astype(float).mean(axis=0) / 255.0)
                out[lm.name] = DetectedObject(
                    name=lm.name,
                    kind=lm.kind,
                    color=colour,
                    position=(cx, cy, top / 2),
                    bbox=(
                        float(lo[0]),
                        float(lo[1]),
                        0.0,
                        float(hi[0]),
                        float(hi[1]),
                        top,
                    ),
                    pixels_top=int(us.size),
                )
            elif lm.name in self._last_detect:
                out[lm.name] = self._last_detect[lm.name].model_copy(
                    update={"pixels_top": int(us.size), "stale": True}
                )
        self._last_detect = dict(out)
        return out

    def true_poses(self) -> dict[str, ObjectPose]:
        """Ground-truth poses of the landmarks and of the robot ("robot"), for reports only."""
        out: dict[str, ObjectPose] = {}
        bodies = [(b, lm.name) for b, lm in self._bodies.items()] + [(self.robot.body, "robot")]
        for body, name in bodies:
            pos, orn = self._c.getBasePositionAndOrientation(body)
            out[name] = ObjectPose(
                position=(float(pos[0]), float(pos[1]), float(pos[2])),
                orientation=(float(orn[0]), float(orn[1]), float(orn[2]), float(orn[3])),
            )
        return out

    # -- state -----------------------------------------------------------------------------------
    def _controller_state(self) -> dict[str, Any]:
        return {"robot": self.robot.controller_state()}

    def _load_controller_state(self, sidecar: dict[str, Any]) -> None:
        self.robot.driver = None
        self.robot.load_controller_state(sidecar["robot"])
