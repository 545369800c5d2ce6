"""The mobile-manipulation world: a Panda on a Husky, a table with blocks, and the user's table.

Layout (world frame, metres, z up; the robot starts at the origin facing +x):

* ``"table"``: a solid table (cabinet style: collision all the way to the floor, so the base
  can never slide under it) about 1.7-2.0 m in front of the start. Its top is at
  :data:`TABLE_TOP_Z`, the height of the arm's mount, so a pick on it looks to the arm exactly
  like a tabletop pick. The blocks stand near its edge facing the start.
* ``"user table"``: a small table behind the start, 1.3-1.5 m away: where "bring me" delivers
  (the primitives call it ``"user"``).
* The Husky (skid steer, wheel joints 2-5) carries the Panda on its top plate,
  :data:`ARM_MOUNT` ahead of the base centre, held by a fixed constraint.

Cameras: ``"overhead"`` is fixed above the arena (the planner's overview: both tables and the
robot); ``"head"`` is a boom camera carried by the robot, 1.1 m above the arm's mount looking
straight down at the area the arm reaches (the tabletop "top" camera, carried along). Blocks are
detected from the head camera when it sees them and from the overhead camera otherwise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
import pybullet as p
from pybullet_utils import bullet_client
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from policywright.errors import SafetyViolation
from policywright.sim._arm import GRIPPER_MAX_WIDTH, PandaArm
from policywright.sim._bullet import (
    CameraSpec,
    capture,
    data_path,
    make_block,
    panda_urdf,
    quiet_stdout,
)
from policywright.sim._client_world import ClientWorld
from policywright.sim._perception import (
    DetectedObject,
    ObjectPose,
    View,
    block_from_top,
    expected_face_pixels,
)
from policywright.sim._safety import Box, SafetyLimits
from policywright.sim._scene import BLOCK_SIZE, COLORS

__all__ = [
    "ARM_MOUNT",
    "BASE_FRONT",
    "BASE_HALF_WIDTH",
    "DOCK_GAP",
    "TABLE_TOP_Z",
    "MobileArm",
    "MobileBlockSpec",
    "MobileSafety",
    "MobileSpec",
    "MobileWorld",
    "TableSpec",
    "dock_pose",
    "sample_mobile",
]

logger = logging.getLogger(__name__)

PHYSICS_HZ: Final[int] = 240
#: Arm mount in the Husky's base frame: on the top plate, ahead of the centre.
ARM_MOUNT: Final[tuple[float, float, float]] = (0.25, 0.0, 0.407)
#: Height of both table tops: the arm's mount height (the Husky's base origin sits 2 cm up).
TABLE_TOP_Z: Final[float] = 0.405
#: Front of the chassis (bumper) ahead of the base centre, and half the width over the wheels.
BASE_FRONT: Final[float] = 0.505
BASE_HALF_WIDTH: Final[float] = 0.346
#: Gap between the bumper and the table edge when docked (the overhead camera places a table
#: edge to about 2 cm).
DOCK_GAP: Final[float] = 0.08
#: End-effector rest pose in the arm's frame: out of the head camera's view (as on the tabletop).
HOME_REL: Final[tuple[float, float, float]] = (0.25, 0.0, 0.45)
WHEEL_JOINTS: Final = (2, 3, 4, 5)  # FL, FR, RL, RR
WHEEL_RADIUS: Final[float] = 0.165
#: Effective track for the skid-steer mapping (wider than the wheel track: skid losses).
EFFECTIVE_TRACK: Final[float] = 1.9
WHEEL_FORCE: Final[float] = 50.0
#: Mass of the rear bumper link with its ballast (kg), tuned so the loaded base turns in place.
BALLAST_KG: Final[float] = 3.7
_REAR_BUMPER_LINK: Final = 9
_DETECT_SIZE: Final = (320, 240)
_SETTLE_STEPS: Final = 60
_HEAD_REL_EYE: Final = (0.525, 0.0, 1.1)


# ----------------------------------------------------------------------------------- spec


class TableSpec(BaseModel):
    """An axis-aligned solid table; its top is at :data:`TABLE_TOP_Z`.

    Attributes:
        center: World xy of the top's centre.
        size: Extent along x and y.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    center: tuple[float, float]
    size: tuple[float, float] = Field(default=(0.6, 0.9))

    @field_validator("center", "size")
    @classmethod
    def _finite(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(c) for c in v):
            raise ValueError("must be finite")
        return v

    def rect(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the top."""
        hx, hy = self.size[0] / 2, self.size[1] / 2
        return (self.center[0] - hx, self.center[1] - hy, self.center[0] + hx, self.center[1] + hy)


class MobileBlockSpec(BaseModel):
    """A 4 cm block standing on the main table.

    Attributes:
        color: One of the ten colours; the block is called ``"<color> block"``.
        position: World xy of its centre (on the table top).
        yaw: Rotation about z (radians).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    color: str
    position: tuple[float, float]
    yaw: float = 0.0

    @field_validator("color")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in COLORS:
            raise ValueError(f"unknown colour {v!r}; known: {', '.join(COLORS)}")
        return v

    @property
    def name(self) -> str:
        """``"<color> block"``."""
        return f"{self.color} block"


class MobileSpec(BaseModel):
    """A mobile-manipulation scene.

    Attributes:
        table: The main table (the blocks stand on it).
        user_table: The user's table, where "bring me" delivers.
        blocks: The blocks (unique colours), each on the main table's top.
        start: The base's start pose ``(x, y, yaw)``.
        panda_lite: Use the Panda's collision meshes as visuals (renders 2-4x faster).
        seed: The seed it was sampled from (informative).
    """

    model_config = ConfigDict(extra="forbid")

    table: TableSpec
    user_table: TableSpec
    blocks: list[MobileBlockSpec]
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    panda_lite: bool = True
    seed: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MobileSpec:
        names = [b.name for b in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"block colours must be unique, got {names}")
        x0, y0, x1, y1 = self.table.rect()
        half = BLOCK_SIZE / 2
        for b in self.blocks:
            x, y = b.position
            if not (x0 + half <= x <= x1 - half and y0 + half <= y <= y1 - half):
                raise ValueError(f"{b.name} at ({x:.3f}, {y:.3f}) is not on the table")
        return self

    @property
    def names(self) -> list[str]:
        """Every object name: the blocks, then "table" and "user table"."""
        return [*(b.name for b in self.blocks), "table", "user table"]


def sample_mobile(
    seed: int, *, n_blocks: int = 3, required: Sequence[str] = ("red block",)
) -> MobileSpec:
    """A random but reproducible scene: same seed, same scene.

    The blocks stand where the arm reaches them from the table's docking pose (see
    :func:`dock_pose`): 0.12-0.30 m in from the edge facing the start, within 0.18 m of the
    table's centre line, at least 7 cm apart.

    Args:
        seed: The seed.
        n_blocks: How many blocks (1-6).
        required: Block names that must be present, e.g. ``("red block",)``.

    Returns:
        The scene.
    """
    if not 1 <= n_blocks <= 6:
        raise ValueError(f"n_blocks must be in 1..6, got {n_blocks}")
    rng = np.random.default_rng(seed)
    table = TableSpec(
        center=(float(rng.uniform(1.75, 2.05)), float(rng.uniform(-0.4, 0.4))), size=(0.6, 0.9)
    )
    user = TableSpec(
        center=(float(rng.uniform(-1.5, -1.3)), float(rng.uniform(-0.5, 0.5))), size=(0.4, 0.4)
    )
    colors = [r.split()[0] for r in required]
    for c in colors:
        if c not in COLORS:
            raise ValueError(f"unknown required block {c!r}")
    others = [c for c in COLORS if c not in colors]
    rng.shuffle(others)
    colors = (colors + others)[:n_blocks]
    x_edge = table.rect()[0]
    placed: list[tuple[float, float]] = []
    blocks: list[MobileBlockSpec] = []
    for color in colors:
        for _ in range(500):
            xy = (
                float(x_edge + rng.uniform(0.12, 0.30)),
                float(table.center[1] + rng.uniform(-0.18, 0.18)),
            )
            if all(math.hypot(xy[0] - q[0], xy[1] - q[1]) >= 0.07 for q in placed):
                break
        else:
            raise ValueError(f"could not place {n_blocks} blocks")
        placed.append(xy)
        yaw = float(rng.uniform(-math.pi / 4, math.pi / 4))
        blocks.append(MobileBlockSpec(color=color, position=xy, yaw=yaw))
    return MobileSpec(table=table, user_table=user, blocks=blocks, seed=seed)


def dock_pose(
    rect: tuple[float, float, float, float], from_xy: Sequence[float]
) -> tuple[float, float, float]:
    """Where the base parks to work on a table: bumper :data:`DOCK_GAP` from the nearest side.

    The side faced is the one towards ``from_xy`` (snapped to the table's axes); the base is
    centred on that side and heads into the table.

    Args:
        rect: The table top ``(x_min, y_min, x_max, y_max)``.
        from_xy: Where the robot comes from (its current xy).

    Returns:
        The base pose ``(x, y, yaw)``.
    """
    x0, y0, x1, y1 = rect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dx, dy = float(from_xy[0]) - cx, float(from_xy[1]) - cy
    # Compare in units of the table's half sizes, so a long table is approached on its long side.
    reach = BASE_FRONT + DOCK_GAP
    if abs(dx) / max(x1 - x0, 1e-6) >= abs(dy) / max(y1 - y0, 1e-6):
        if dx < 0:
            return (x0 - reach, cy, 0.0)
        return (x1 + reach, cy, math.pi)
    if dy < 0:
        return (cx, y0 - reach, math.pi / 2)
    return (cx, y1 + reach, -math.pi / 2)


# ----------------------------------------------------------------------------------- safety


def _arm_workspace() -> Box:
    # In the arm's frame: the tabletop workspace, relative to the mount (the table top is at
    # the mount's height, as on the tabletop).
    return Box(
        x_min=0.15, x_max=0.85, y_min=-0.45, y_max=0.45, z_min=0.005, z_max=0.65, name="arm reach"
    )


def _arm_keep_out() -> list[Box]:
    # The arm's own column and the Husky's deck behind it, in the arm's frame.
    return [
        Box(
            x_min=-1.0, x_max=0.2, y_min=-0.15, y_max=0.15, z_min=-1.0, z_max=0.3, name="robot base"
        )
    ]


def _arena() -> Box:
    return Box(x_min=-2.5, x_max=3.0, y_min=-2.0, y_max=2.0, z_min=-1.0, z_max=3.0, name="arena")


class MobileSafety(SafetyLimits):
    """Safety limits of the mobile robot.

    The end-effector limits (``workspace`` = reach box, ``keep_out``) are expressed in the arm's
    frame (origin at the mount, x forward along the base's heading), because they move with the
    base; every commanded world position is transformed before the check. The base must stay
    inside ``arena`` (world frame, xy) and under the speed limits.

    Attributes:
        arena: World-frame box the base (and the end effector) must stay in.
        max_base_speed: Largest commanded base speed (m/s).
        max_yaw_rate: Largest commanded base turn rate (rad/s).
    """

    workspace: Box = Field(default_factory=_arm_workspace)
    keep_out: list[Box] = Field(default_factory=_arm_keep_out)
    arena: Box = Field(default_factory=_arena)
    max_base_speed: float = Field(default=0.6, gt=0)
    max_yaw_rate: float = Field(default=1.5, gt=0)
    _frame: Callable[[], tuple[np.ndarray, float]] | None = PrivateAttr(default=None)

    def bind(self, frame: Callable[[], tuple[np.ndarray, float]]) -> None:
        """Attach the arm-frame source: ``frame() -> (origin xyz, yaw)`` in the world."""
        self._frame = frame

    def to_arm_frame(self, xyz: Sequence[float] | np.ndarray) -> np.ndarray:
        """A world point in the arm's frame (the identity until :meth:`bind`)."""
        arr = np.asarray(xyz, dtype=float).reshape(3)
        if self._frame is None:
            return arr
        origin, yaw = self._frame()
        d = arr - origin
        c, s = math.cos(yaw), math.sin(yaw)
        return np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])

    def check_pose(self, xyz: Sequence[float] | np.ndarray) -> None:
        """Check one commanded end-effector position (world frame).

        Raises:
            SafetyViolation: rule "non-finite", "arena", "workspace" (out of the arm's reach)
                or "keep-out".
        """
        arr = np.asarray(xyz, dtype=float).reshape(-1)
        if arr.shape != (3,):
            raise SafetyViolation("non-finite", f"expected an (x, y, z) position, got {xyz!r}")
        if not np.all(np.isfinite(arr)):
            raise SafetyViolation("non-finite", f"position {arr.tolist()} is not finite")
        if not self.arena.contains(arr):
            raise SafetyViolation(
                "arena", f"position {np.round(arr, 3).tolist()} is outside the arena"
            )
        rel = self.to_arm_frame(arr)
        if not self.workspace.contains(rel):
            raise SafetyViolation(
                "workspace",
                f"position {np.round(arr, 3).tolist()} is out of the arm's reach from where the "
                f"base stands (arm frame {np.round(rel, 3).tolist()}; reach "
                f"{self.workspace.describe()}); move the base first",
            )
        for box in self.keep_out:
            if box.contains(rel):
                raise SafetyViolation(
                    "keep-out",
                    f"position {np.round(arr, 3).tolist()} is inside the keep-out zone "
                    f"'{box.name}' (arm frame {np.round(rel, 3).tolist()})",
                )

    def check_base_target(self, x: float, y: float, yaw: float | None = None) -> None:
        """Check a base goal: finite and inside the arena (the footprint included).

        Raises:
            SafetyViolation: rule "non-finite" or "arena".
        """
        values = [x, y] + ([] if yaw is None else [yaw])
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise SafetyViolation("non-finite", f"base target {values} is not finite")
        a = self.arena
        m = BASE_FRONT
        if not (a.x_min + m <= x <= a.x_max - m and a.y_min + m <= y <= a.y_max - m):
            raise SafetyViolation(
                "arena",
                f"base target ({x:.3f}, {y:.3f}) is outside the arena "
                f"x [{a.x_min + m:.2f}, {a.x_max - m:.2f}], y [{a.y_min + m:.2f}, "
                f"{a.y_max - m:.2f}] (the base's footprint must fit)",
            )

    def check_base_command(self, v: float, w: float) -> None:
        """Check one base velocity command.

        Raises:
            SafetyViolation: rule "non-finite" or "speed".
        """
        if not (math.isfinite(v) and math.isfinite(w)):
            raise SafetyViolation("non-finite", f"base command ({v}, {w}) is not finite")
        if abs(v) > self.max_base_speed * 1.001 or abs(w) > self.max_yaw_rate * 1.001:
            raise SafetyViolation(
                "speed",
                f"base command v={v:.3f} m/s, w={w:.3f} rad/s exceeds the limits "
                f"{self.max_base_speed} m/s, {self.max_yaw_rate} rad/s",
            )


# ----------------------------------------------------------------------------------- arm


class MobileArm(PandaArm):
    """The Panda on the moving base: home and stow poses follow the base."""

    def __init__(
        self,
        client: Any,
        body: int,
        safety: MobileSafety,
        objects: Callable[[], Mapping[int, str]],
        frame: Callable[[], tuple[np.ndarray, float]],
    ) -> None:
        super().__init__(client, body, safety, objects)
        self._frame = frame

    def from_arm_frame(self, rel: Sequence[float]) -> tuple[float, float, float]:
        """An arm-frame point in world coordinates."""
        origin, yaw = self._frame()
        c, s = math.cos(yaw), math.sin(yaw)
        x, y, z = (float(v) for v in rel)
        return (
            float(origin[0] + c * x - s * y),
            float(origin[1] + s * x + c * y),
            float(origin[2] + z),
        )

    def home_xyz(self) -> tuple[float, float, float]:
        """The end-effector rest pose for where the base stands now (world frame)."""
        return self.from_arm_frame(HOME_REL)

    def base_yaw(self) -> float:
        """The arm frame's heading (the base's yaw)."""
        return float(self._frame()[1])

    def reset_home(self) -> None:
        """Teleport the joints to the home pose (only while building a world)."""
        home_q = (0.0, -0.4, 0.0, -2.2, 0.0, 1.8, math.pi / 4)
        for j, q in enumerate(home_q):
            self._c.resetJointState(self.body, j, q)
        for f in (9, 10):
            self._c.resetJointState(self.body, f, GRIPPER_MAX_WIDTH / 2)
        home, yaw = self.home_xyz(), self.base_yaw()
        for _ in range(5):
            for j, qj in enumerate(self._ik(home, yaw)):
                self._c.resetJointState(self.body, j, qj)
        self.target_xyz, self.target_yaw = home, yaw
        self.gripper_target = GRIPPER_MAX_WIDTH
        self.q_target = list(self._ik(home, yaw))
        self.apply_targets()

    def sync_target(self) -> None:
        """Take the end effector's actual pose as the current target (after the base moved).

        The joint targets are kept, so the arm does not move; only the Cartesian target that
        the next skill starts from (and that the speed check compares with) is refreshed.
        """
        pos = self.ee_pos()
        self.target_xyz = (float(pos[0]), float(pos[1]), float(pos[2]))
        self.target_yaw = self.ee_yaw()


# ----------------------------------------------------------------------------------- world


def _box_body(
    client: Any, center: Sequence[float], half: Sequence[float], rgba: Sequence[float]
) -> int:
    col = client.createCollisionShape(p.GEOM_BOX, halfExtents=list(half))
    vis = client.createVisualShape(p.GEOM_BOX, halfExtents=list(half), rgbaColor=list(rgba))
    body = client.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=col,
        baseVisualShapeIndex=vis,
        basePosition=list(center),
    )
    client.changeDynamics(body, -1, lateralFriction=1.0)
    return int(body)


ObjKind = Literal["block", "table"]


class _FarCamera(CameraSpec):
    """A camera whose far plane reaches the floor from high above (the overhead view)."""

    def matrices(self, width: int, height: int) -> tuple[list[float], list[float]]:
        view = p.computeViewMatrix(self.eye, self.target, self.up)
        proj = p.computeProjectionMatrixFOV(self.fov, width / height, 0.5, 8.0)
        return list(view), list(proj)


class MobileWorld(ClientWorld[MobileSpec]):
    """A Panda on a Husky, a table with blocks and the user's table (see the module docstring).

    Args:
        spec: The scene.
        gui: Open the PyBullet GUI instead of a headless client.
        safety: Limits; defaults to :class:`MobileSafety()`.

    Attributes:
        spec: The scene.
        safety: Arm reach (arm frame), arena and speed limits.
        arm: The :class:`MobileArm`.
    """

    kind: str = "mobile"
    cameras: tuple[str, ...] = ("overhead", "head")

    def __init__(
        self, spec: MobileSpec, *, gui: bool = False, safety: MobileSafety | None = None
    ) -> None:
        self.safety = safety if safety is not None else MobileSafety()
        with quiet_stdout():
            self._c: Any = bullet_client.BulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        self._closed = False
        self.spec = spec
        self._bodies: dict[int, tuple[str, ObjKind]] = {}
        self._steps = 0
        self._last_detect: dict[str, DetectedObject] = {}
        self._command = (0.0, 0.0)
        self.arm: MobileArm
        self._build(spec)

    # -- construction --------------------------------------------------------------------------
    def _build(self, spec: MobileSpec) -> None:
        c = self._c
        c.resetSimulation()
        c.setTimeStep(1.0 / PHYSICS_HZ)
        c.setGravity(0, 0, -9.81)
        c.setAdditionalSearchPath(data_path())
        sx, sy, syaw = spec.start
        start_orn = c.getQuaternionFromEuler([0.0, 0.0, syaw])
        with quiet_stdout():
            self._plane = int(c.loadURDF("plane.urdf"))
            self.husky = int(c.loadURDF("husky/husky.urdf", [sx, sy, 0.0], start_orn))
            mount = self._mount_world(sx, sy, syaw)
            self.panda = int(
                c.loadURDF(
                    panda_urdf(spec.panda_lite),
                    basePosition=mount,
                    baseOrientation=start_orn,
                    useFixedBase=False,
                    flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
                )
            )
        c.changeDynamics(self._plane, -1, lateralFriction=1.0)
        # Ballast at the rear bumper balances the arm over the wheels' centre. Skid-steer turning
        # is very sensitive to that balance: with the arm alone the base pivots about its front
        # axle (a 90-degree turn in place moves it 30 cm); balanced, about 4 cm.
        c.changeDynamics(self.husky, _REAR_BUMPER_LINK, mass=BALLAST_KG)
        for j in WHEEL_JOINTS:
            c.changeDynamics(self.husky, j, lateralFriction=1.0)
        # The arm's base sits on the deck: no contacts between the two robots' bodies.
        for la in range(-1, c.getNumJoints(self.husky)):
            for lb in (-1, 0, 1):
                c.setCollisionFilterPair(self.husky, self.panda, la, lb, 0)
        self._mount = c.createConstraint(
            self.husky,
            -1,
            self.panda,
            -1,
            p.JOINT_FIXED,
            [0, 0, 0],
            list(ARM_MOUNT),
            [0, 0, 0],
        )
        c.changeConstraint(self._mount, maxForce=5000)
        self._bodies = {}
        top = TABLE_TOP_Z
        for name, t, rgba in (
            ("table", spec.table, (0.62, 0.45, 0.30, 1.0)),
            ("user table", spec.user_table, (0.35, 0.55, 0.80, 1.0)),
        ):
            half = (t.size[0] / 2, t.size[1] / 2, top / 2)
            body = _box_body(c, (t.center[0], t.center[1], top / 2), half, rgba)
            self._bodies[body] = (name, "table")
        for b in spec.blocks:
            body = make_block(c, b.position, b.yaw, COLORS[b.color])
            # make_block stands blocks on the tabletop world's table: lower them onto ours.
            pos, orn = c.getBasePositionAndOrientation(body)
            c.resetBasePositionAndOrientation(
                body, [pos[0], pos[1], top + BLOCK_SIZE / 2 + 0.0005], orn
            )
            self._bodies[body] = (b.name, "block")
        self.safety.bind(self.arm_frame)
        self.arm = MobileArm(c, self.panda, self.safety, self._block_names, self.arm_frame)
        self.arm.setup_gripper()
        self.arm.reset_home()
        self._command = (0.0, 0.0)
        self.set_base_command(0.0, 0.0)
        for _ in range(_SETTLE_STEPS):
            c.stepSimulation()
        self.arm.sync_target()
        self._steps = 0
        self._last_detect = {}
        self.spec = spec

    def _mount_world(self, x: float, y: float, yaw: float) -> list[float]:
        c, s = math.cos(yaw), math.sin(yaw)
        mx, my, mz = ARM_MOUNT
        return [x + c * mx - s * my, y + s * mx + c * my, 0.0198 + mz]

    def reset(self, spec: MobileSpec | None = None) -> None:
        """Rebuild the world in place (meshes stay cached).

        Args:
            spec: A new scene, or None to rebuild the current one.
        """
        self._build(spec if spec is not None else self.spec)

    def _block_names(self) -> dict[int, str]:
        return {b: n for b, (n, k) in self._bodies.items() if k == "block"}

    @property
    def object_names(self) -> list[str]:
        """Names of the objects: blocks, "table", "user table"."""
        return [n for n, _ in self._bodies.values()]

    def body_id(self, name: str) -> int:
        """The PyBullet body id of a named object.

        Raises:
            KeyError: No such object.
        """
        for b, (n, _) in self._bodies.items():
            if n == name:
                return b
        raise KeyError(name)

    # -- base ------------------------------------------------------------------------------------
    def base_pose(self) -> tuple[float, float, float]:
        """The base's ``(x, y, yaw)`` (odometry; the simulator's pose stands in for it)."""
        pos, orn = self._c.getBasePositionAndOrientation(self.husky)
        yaw = self._c.getEulerFromQuaternion(orn)[2]
        return (float(pos[0]), float(pos[1]), float(yaw))

    def base_velocity(self) -> tuple[float, float]:
        """Forward speed (m/s, along the heading) and turn rate (rad/s)."""
        lin, ang = self._c.getBaseVelocity(self.husky)
        yaw = self.base_pose()[2]
        return (float(lin[0] * math.cos(yaw) + lin[1] * math.sin(yaw)), float(ang[2]))

    def base_tilt(self) -> float:
        """Largest of |roll| and |pitch| (rad)."""
        _, orn = self._c.getBasePositionAndOrientation(self.husky)
        roll, pitch, _ = self._c.getEulerFromQuaternion(orn)
        return float(max(abs(roll), abs(pitch)))

    def arm_frame(self) -> tuple[np.ndarray, float]:
        """The arm's frame in the world: mount origin xyz and heading (yaw)."""
        pos, orn = self._c.getBasePositionAndOrientation(self.panda)
        yaw = self._c.getEulerFromQuaternion(orn)[2]
        return np.asarray(pos, dtype=float), float(yaw)

    def set_base_command(self, v: float, w: float) -> None:
        """Command forward speed ``v`` (m/s) and turn rate ``w`` (rad/s); safety-checked.

        Skid steer: the wheel speeds follow the differential-drive mapping with an effective
        track; turning slips, so callers close the loop on the measured yaw.

        Raises:
            SafetyViolation: non-finite or over the speed limits (nothing is commanded).
        """
        self.safety.check_base_command(v, w)
        self._command = (float(v), float(w))
        left = (v - w * EFFECTIVE_TRACK / 2) / WHEEL_RADIUS
        right = (v + w * EFFECTIVE_TRACK / 2) / WHEEL_RADIUS
        self._c.setJointMotorControlArray(
            self.husky,
            list(WHEEL_JOINTS),
            p.VELOCITY_CONTROL,
            targetVelocities=[left, right, left, right],
            forces=[WHEEL_FORCE] * 4,
        )

    def stop_base(self) -> None:
        """Command zero wheel speeds (the motors brake)."""
        self.set_base_command(0.0, 0.0)

    def robot_contacts(self) -> list[str]:
        """What the robot (base or arm) touches besides the floor and the held block.

        Returns:
            Names of the touched objects ("table", "red block", ...), sorted; "unknown" for
            anything unnamed.
        """
        held = self.arm.held_object()
        touched: set[str] = set()
        for robot in (self.husky, self.panda):
            for cp in self._c.getContactPoints(bodyA=robot):
                other = int(cp[2])
                if other in (self._plane, self.husky, self.panda):
                    continue
                name = self._bodies.get(other, ("unknown", "block"))[0]
                if name != held:
                    touched.add(name)
        return sorted(touched)

    def table_rect(self, name: str) -> tuple[float, float, float, float]:
        """The spec's rectangle of "table" or "user table" (for sampling and tests)."""
        t = self.spec.table if name == "table" else self.spec.user_table
        return t.rect()

    # -- time ------------------------------------------------------------------------------------
    @property
    def sim_time(self) -> float:
        """Simulated seconds since the world was built."""
        return self._steps / PHYSICS_HZ

    def step(self, n: int = 1) -> None:
        """Advance the physics by ``n`` steps of 1/240 s."""
        for _ in range(n):
            self._c.stepSimulation()
            self._steps += 1

    # -- cameras ---------------------------------------------------------------------------------
    def camera(self, name: str) -> CameraSpec:
        """The camera called ``name`` as it is now (the head camera moves with the base).

        Raises:
            ValueError: unknown camera.
        """
        if name == "overhead":
            # up = +x: the start at the bottom of the image, the robot's start-left on the left.
            return _FarCamera(
                eye=(0.3, 0.0, 4.2), target=(0.3, 0.0, 0.0), up=(1.0, 0.0, 0.0), fov=60.0
            )
        if name == "head":
            eye = self.arm.from_arm_frame(_HEAD_REL_EYE)
            target = self.arm.from_arm_frame((_HEAD_REL_EYE[0], 0.0, 0.0))
            yaw = self.arm.base_yaw()
            return CameraSpec(
                eye=eye, target=target, up=(math.cos(yaw), math.sin(yaw), 0.0), fov=40.0
            )
        raise ValueError(f"unknown camera {name!r}; use one of {list(self.cameras)}")

    def render(self, camera: str = "overhead", width: int = 320, height: int = 240) -> np.ndarray:
        """Render an RGB image.

        Args:
            camera: "overhead" (fixed above the arena; +x, away from the start, is up in the
                image) or "head" (carried by the robot, looking down at what the arm reaches;
                the robot's forward is up in the image, its left on the image's left).
            width: Image width in pixels.
            height: Image height in pixels.

        Returns:
            An (height, width, 3) uint8 array.
        """
        rgb, _, _ = capture(self._c, self.camera(camera), width, height, seg=False)
        return rgb

    # -- perception ------------------------------------------------------------------------------
    def _view(self, camera: str) -> View:
        w, h = _DETECT_SIZE
        cam = self.camera(camera)
        rgb, depth, seg = capture(self._c, cam, w, h, seg=True)
        assert seg is not None
        return View(cam, rgb, depth, seg)

    def detect(self) -> dict[str, DetectedObject]:
        """Perceive blocks and tables from segmentation + depth (never a pose read).

        Tables come from the overhead camera (centre and extent of the seen top). Blocks come
        from the head camera when it sees their top face, else from the overhead camera
        (coarser, about 1.5 cm per pixel); objects no camera sees keep their last estimate,
        marked ``stale``; objects never seen are absent.

        Returns:
            Name -> :class:`DetectedObject` (kinds "block" and "table").
        """
        w, h = _DETECT_SIZE
        over = self._view("overhead")
        head: View | None = None
        out: dict[str, DetectedObject] = {}
        for body, (name, kind) in self._bodies.items():
            pts, rgb = over.points(body)
            n_over = int(pts.shape[0])
            det: DetectedObject | None = None
            if kind == "table":
                if n_over >= 20:
                    top = pts[pts[:, 2] >= float(np.max(pts[:, 2])) - 0.01]
                    lo, hi = np.min(top, axis=0), np.max(top, axis=0)
                    lo[2] = 0.0
                    det = DetectedObject(
                        name=name,
                        kind="table",
                        color="brown" if name == "table" else "blue",
                        position=(
                            float((lo[0] + hi[0]) / 2),
                            float((lo[1] + hi[1]) / 2),
                            float(hi[2]),
                        ),
                        bbox=tuple(float(v) for v in (*lo, *hi)),  # type: ignore[arg-type]
                        pixels_top=n_over,
                    )
            else:
                if head is None:
                    head = self._view("head")
                hpts, hrgb = head.points(body)
                n_head = int(hpts.shape[0])
                est = None
                if n_head:
                    z = float(np.max(hpts[:, 2]))
                    est = block_from_top(hpts, hrgb, 0.35 * expected_face_pixels(head.cam, w, h, z))
                if est is None and n_over:
                    z = float(np.max(pts[:, 2]))
                    est = block_from_top(pts, rgb, 0.3 * expected_face_pixels(over.cam, w, h, z))
                if est is not None:
                    det = DetectedObject(
                        name=name,
                        kind="block",
                        color=est.color,
                        position=est.position,
                        bbox=est.bbox,
                        pixels_top=n_head or n_over,
                    )
            if det is not None:
                out[name] = det
            elif name in self._last_detect:
                out[name] = self._last_detect[name].model_copy(update={"stale": True})
        self._last_detect = dict(out)
        return out

    def true_poses(self) -> dict[str, ObjectPose]:
        """Ground-truth poses of blocks and tables (tables: the top's centre)."""
        out: dict[str, ObjectPose] = {}
        for body, (name, kind) in self._bodies.items():
            pos, orn = self._c.getBasePositionAndOrientation(body)
            z = TABLE_TOP_Z if kind == "table" else float(pos[2])
            out[name] = ObjectPose(
                position=(float(pos[0]), float(pos[1]), z),
                orientation=(float(orn[0]), float(orn[1]), float(orn[2]), float(orn[3])),
            )
        return out

    # -- recovery --------------------------------------------------------------------------------
    def safe_stop(self) -> str:
        """Stop the wheels, put a held block down if that is safe, and put the arm at rest.

        A held block is put down only where the arm can reach a table top (then on it, straight
        ahead of the gripper); otherwise it stays in the hand: dropping it on the floor is worse.

        Returns:
            What was done ("" when nothing was needed).
        """
        done: list[str] = []
        v, w = self._command
        if v != 0.0 or w != 0.0 or abs(self.base_velocity()[0]) > 0.02:
            self.stop_base()
            self.step(PHYSICS_HZ // 2)
            done.append("stopped the base")
        held = self.arm.held_object()
        if held is not None:
            spot = self._put_down_spot()
            if spot is None:
                done.append(f"kept holding the {held}: no table top within reach to put it on")
            else:
                try:
                    release_z = TABLE_TOP_Z + BLOCK_SIZE / 2 + 0.015 - 0.005
                    self._line_to((spot[0], spot[1], release_z + 0.12))
                    self._line_to((spot[0], spot[1], release_z), speed=0.2)
                    self._hold_gripper(GRIPPER_MAX_WIDTH, 0.3)
                    self._line_to((spot[0], spot[1], release_z + 0.1), speed=0.3)
                    done.append(f"put the {held} down on the {spot[2]}")
                except SafetyViolation as exc:
                    done.append(f"could not put the {held} down: {exc}")
        home = np.asarray(self.arm.home_xyz())
        if held is not None or float(np.linalg.norm(self.arm.ee_pos() - home)) > 0.05:
            try:
                ee = self.arm.target_xyz
                self._line_to((ee[0], ee[1], max(ee[2], home[2] - 0.25)))
                self._line_to(self.arm.home_xyz())
                done.append("moved the arm to rest")
            except SafetyViolation as exc:
                done.append(f"could not move the arm to rest: {exc}")
        if done:
            logger.info("safe stop: %s", "; ".join(done))
        return "; ".join(done)

    def _put_down_spot(self) -> tuple[float, float, str] | None:
        """A reachable point on a table top ahead of the arm, or None."""
        for rel_x in (0.5, 0.45, 0.55, 0.4, 0.6):
            x, y, _ = self.arm.from_arm_frame((rel_x, 0.0, 0.0))
            for name, t in (("table", self.spec.table), ("user table", self.spec.user_table)):
                x0, y0, x1, y1 = t.rect()
                m = 0.04
                if x0 + m <= x <= x1 - m and y0 + m <= y <= y1 - m:
                    return (x, y, name)
        return None

    def _line_to(self, xyz: Sequence[float], speed: float = 0.4) -> None:
        """A safety-checked smoothstep straight-line end-effector move at 60 Hz (recovery only)."""
        dst = np.asarray(xyz, dtype=float)
        self.safety.check_pose(dst)
        src = np.asarray(self.arm.target_xyz, dtype=float)
        n = max(1, math.ceil(float(np.linalg.norm(dst - src)) / speed * 60))
        yaw = self.arm.base_yaw()
        for i in range(1, n + 1):
            s = i / n
            s = s * s * (3 - 2 * s)
            self.arm.command(src + s * (dst - src), yaw)
            self.step(4)
        self.step(60)

    def _hold_gripper(self, width: float, seconds: float) -> None:
        self.arm.command(self.arm.target_xyz, self.arm.target_yaw, width)
        self.step(int(seconds * PHYSICS_HZ))

    # -- state -----------------------------------------------------------------------------------
    def _controller_state(self) -> dict[str, Any]:
        return {"arm": self.arm.controller_state(), "base_command": list(self._command)}

    def _load_controller_state(self, sidecar: dict[str, Any]) -> None:
        self.arm.load_controller_state(sidecar["arm"])
        v, w = (float(x) for x in sidecar["base_command"])
        self.set_base_command(v, w)

    # -- lifetime --------------------------------------------------------------------------------
