"""policywright.sim: the PyBullet worlds, their registry, perception and safety limits."""

from policywright.sim._arm import GRIPPER_MAX_WIDTH, HOME_XYZ, PandaArm
from policywright.sim._floor import (
    FLOOR_EXTENT_M,
    FloorSpec,
    FloorWorld,
    LandmarkSpec,
    sample_floor,
)
from policywright.sim._mobile import TABLE_TOP_Z as MOBILE_TABLE_TOP_Z
from policywright.sim._mobile import MobileSafety, MobileSpec, MobileWorld, sample_mobile
from policywright.sim._perception import DetectedObject, ObjectPose
from policywright.sim._protocol import World
from policywright.sim._registry import (
    WorldCheckError,
    WorldFactory,
    WorldRegistry,
    WorldResume,
    WorldSpec,
    check_world,
)
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
from policywright.sim._worlds import default_world_registry, mentioned_objects, scene_for_command

__all__ = [
    "BLOCK_SIZE",
    "BOWL_RADIUS",
    "COLORS",
    "CORNERS",
    "FLOOR_EXTENT_M",
    "GRIPPER_MAX_WIDTH",
    "HOME_XYZ",
    "LOCATIONS",
    "MOBILE_TABLE_TOP_Z",
    "PHYSICS_HZ",
    "SIDES",
    "TABLE_Z",
    "WORKSPACE",
    "Box",
    "CameraName",
    "DetectedObject",
    "FloorSpec",
    "FloorWorld",
    "LandmarkSpec",
    "MobileSafety",
    "MobileSpec",
    "MobileWorld",
    "ObjectPose",
    "ObjectSpec",
    "PandaArm",
    "SafetyLimits",
    "SceneSpec",
    "TabletopWorld",
    "World",
    "WorldCheckError",
    "WorldFactory",
    "WorldRegistry",
    "WorldResume",
    "WorldSpec",
    "check_world",
    "default_world_registry",
    "denormalize_xy",
    "mentioned_objects",
    "nearest_corner",
    "nearest_side",
    "normalize_xy",
    "sample_floor",
    "sample_mobile",
    "sample_scene",
    "save_gif",
    "scene_for_command",
]
