"""policywright.sim: the PyBullet tabletop world, its perception and its safety limits."""

from policywright.sim._arm import GRIPPER_MAX_WIDTH, HOME_XYZ, PandaArm
from policywright.sim._perception import DetectedObject, ObjectPose
from policywright.sim._protocol import World
from policywright.sim._safety import Box, SafetyLimits
from policywright.sim._scene import (
    BLOCK_SIZE,
    BOWL_RADIUS,
    COLORS,
    ObjectSpec,
    SceneSpec,
    sample_scene,
)
from policywright.sim._workspace import (
    CORNERS,
    LOCATIONS,
    SIDES,
    TABLE_Z,
    WORKSPACE,
    denormalize_xy,
    nearest_corner,
    nearest_side,
    normalize_xy,
)
from policywright.sim._world import PHYSICS_HZ, CameraName, TabletopWorld, save_gif

__all__ = [
    "BLOCK_SIZE",
    "BOWL_RADIUS",
    "COLORS",
    "CORNERS",
    "GRIPPER_MAX_WIDTH",
    "HOME_XYZ",
    "LOCATIONS",
    "PHYSICS_HZ",
    "SIDES",
    "TABLE_Z",
    "WORKSPACE",
    "Box",
    "CameraName",
    "DetectedObject",
    "ObjectPose",
    "ObjectSpec",
    "PandaArm",
    "SafetyLimits",
    "SceneSpec",
    "TabletopWorld",
    "World",
    "denormalize_xy",
    "nearest_corner",
    "nearest_side",
    "normalize_xy",
    "sample_scene",
    "save_gif",
]
