"""The twin: a second world built from what the cameras perceived, for rehearsing programs.

A program is rehearsed in the twin before the real robot moves (see ``agent/_rehearse.py``).
On a real robot the twin is all there is to rehearse in, so it is built the same way here:
from perception, never from the real world's true state.

What the twin takes from the real world, and what it does not:

* From **perception** (``World.detect``): which objects exist, their kind and colour (the
  name), their estimated centre (x, y, z) and, for blocks, their estimated yaw.
* From the **robot itself** (proprioception, which a real robot has): the arm's joint
  angles, its controller targets and the gripper opening.
* From the **object model library** (what a recogniser would match an object to): a shape's
  mesh. Blocks and bowls have one model each.
* Never: true poses, orientations other than the estimated yaw, velocities, contacts, or a
  physics snapshot of the real world.

Its fidelity limits (docs/rehearsal.md measures them): positions carry the detector's error
(a few millimetres from above; more for a block seen only by the front camera); a block's yaw
is known modulo a quarter turn and a shape's not at all; an object hidden from both cameras
and never seen is missing from the twin; tilted objects are placed upright; friction, mass
and the exact settling of a stack are the simulator's defaults, so a grasp that works in the
twin can still slip in the real world (the real world is verified again after it runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from policywright.sim._perception import DetectedObject
from policywright.sim._scene import BLOCK_SIZE, COLORS, ObjectSpec, SceneSpec
from policywright.sim._workspace import TABLE_Z, WORKSPACE
from policywright.sim._world import TabletopWorld

__all__ = ["TWIN_SETTLE_STEPS", "tabletop_twin", "twin_scene"]

#: Physics steps the twin settles for after its objects are placed (0.125 s).
TWIN_SETTLE_STEPS = 30


def twin_scene(
    real: TabletopWorld, detections: Mapping[str, DetectedObject]
) -> tuple[SceneSpec, dict[str, tuple[tuple[float, float, float], float]]]:
    """The twin's scene and its object placements, from detections.

    Args:
        real: The real world (read for its robot variant and its object models only).
        detections: What the cameras saw, name -> detection.

    Returns:
        The scene spec (xy inside the workspace) and name -> (centre xyz, yaw) placements.
    """
    x0, y0, x1, y1 = WORKSPACE
    objects: list[ObjectSpec] = []
    placements: dict[str, tuple[tuple[float, float, float], float]] = {}
    models = {o.name: o for o in real.spec.objects}
    for name, det in detections.items():
        parts = name.split()
        color = parts[0] if parts and parts[0] in COLORS else det.color
        x = min(max(float(det.position[0]), x0), x1)
        y = min(max(float(det.position[1]), y0), y1)
        yaw = float(det.yaw) if det.kind == "block" else 0.0
        urdf = None
        if det.kind == "shape":
            model = models.get(name)
            urdf = model.urdf if model is not None else None
            if urdf is None:
                continue  # an unknown mesh cannot be placed: it is missing from the twin
        objects.append(
            ObjectSpec(name=name, kind=det.kind, color=color, position=(x, y), yaw=yaw, urdf=urdf)  # type: ignore[arg-type]
        )
        if det.kind == "block":
            # Never below the table: a detection is a little noisy in z.
            z = max(float(det.position[2]), TABLE_Z + BLOCK_SIZE / 2 + 0.0005)
            placements[name] = ((x, y, z + 0.001), yaw)
    spec = SceneSpec(objects=objects, panda_lite=real.spec.panda_lite, seed=None)
    return spec, placements


def tabletop_twin(
    real: TabletopWorld, detections: Mapping[str, DetectedObject] | None = None
) -> TabletopWorld:
    """A tabletop twin of ``real`` built from its detections and its robot's own state.

    Args:
        real: The real world.
        detections: Its detections (default: detect now).

    Returns:
        A new world with its own PyBullet client (the caller closes it).
    """
    found = dict(detections) if detections is not None else real.detect()
    spec, placements = twin_scene(real, found)
    twin = TabletopWorld(spec, safety=real.safety, placements=placements)
    # Proprioception: the arm's joints and targets are the robot's own state.
    twin.arm.set_joint_state(real.arm.joint_positions(), real.arm.gripper_width())
    twin.arm.load_controller_state(real.arm.controller_state())
    twin.step(TWIN_SETTLE_STEPS)
    return twin


def yaw_error(a: float, b: float) -> float:
    """The angle between two square yaws (modulo a quarter turn), radians in [0, pi/4]."""
    d = (a - b) % (math.pi / 2)
    return min(d, math.pi / 2 - d)
