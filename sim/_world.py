"""The tabletop world: a Panda, a table, blocks and bowls in a private PyBullet client."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pybullet as p
from PIL import Image
from pybullet_utils import bullet_client

from policywright.errors import ConfigError
from policywright.sim._arm import PandaArm
from policywright.sim._bullet import (
    CAMERAS,
    CameraSpec,
    capture,
    data_path,
    make_block,
    make_bowl,
    panda_urdf,
    quiet_stdout,
)
from policywright.sim._client_world import ClientWorld
from policywright.sim._perception import DetectedObject, ObjectPose, View, detect_all
from policywright.sim._safety import SafetyLimits
from policywright.sim._scene import COLORS, Kind, SceneSpec
from policywright.sim._shapes import make_shape
from policywright.sim._workspace import TABLE_Z

__all__ = ["PHYSICS_HZ", "CameraName", "Pacer", "TabletopWorld", "save_gif"]

logger = logging.getLogger(__name__)

#: Physics rate (Hz).
PHYSICS_HZ: Final[int] = 240
CameraName = Literal["top", "front"]
_DETECT_SIZE: Final = (320, 240)
_SETTLE_STEPS: Final = 60
# Odd shapes may rock or roll onto a stable face: they get a longer settle (1 s more).
_SHAPE_SETTLE_STEPS: Final = 240


def save_gif(frames: list[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Write RGB frames (H, W, 3) uint8 as an animated GIF.

    Args:
        frames: The frames, e.g. from :meth:`TabletopWorld.stop_recording`.
        path: Output file.
        fps: Playback rate.

    Returns:
        The path written.

    Raises:
        ValueError: No frames.
    """
    if not frames:
        raise ValueError("no frames to save")
    out = Path(path)
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    images[0].save(
        out,
        save_all=True,
        append_images=images[1:],
        duration=max(1, round(1000.0 / fps)),
        loop=0,
    )
    return out


class Pacer:
    """Keeps a world's sim clock at or behind the wall clock times ``speed`` (human pace).

    The world calls it after every physics step with its sim time; it sleeps while the sim is
    ahead. It never races to catch up: when the sim falls behind by more than ``max_lag_s``
    (an idle gap between tasks, a slow render, an ``undo`` that set the clock back) the pacing
    starts afresh from where the sim is. It also runs periodic wall-clock ticks (the web UI's
    camera frames), from the stepping thread: the only thread that may use the PyBullet client
    while the robot moves.

    Args:
        speed: Sim seconds per wall second (1.0 = real time); None = as fast as possible.
        max_lag_s: How far behind the sim may fall before pacing re-anchors, wall seconds.
        clock: The wall clock (tests pass a fake one).
        sleep: How to wait (tests pass a fake one).
    """

    #: The slowest and fastest pace a person can set ("much slower", "much faster").
    MIN_SPEED: Final = 0.1
    MAX_SPEED: Final = 20.0

    def __init__(
        self,
        speed: float | None = 1.0,
        *,
        max_lag_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self.max_lag_s = max_lag_s
        self._anchor: tuple[float, float] | None = None
        self._ticks: list[list[Any]] = []
        self._speed: float | None = None
        self.speed = speed
        #: Wall seconds slept so far (the benchmark reads it).
        self.slept_s = 0.0

    @property
    def speed(self) -> float | None:
        """Sim seconds per wall second; None when the world runs as fast as it can."""
        return self._speed

    @speed.setter
    def speed(self, value: float | None) -> None:
        if value is not None:
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"a pace must be a positive number of times real time: {value}")
            value = min(self.MAX_SPEED, max(self.MIN_SPEED, float(value)))
        self._speed = value
        self._anchor = None  # the new pace counts from the next step

    def every(self, period_s: float, tick: Callable[[], None]) -> None:
        """Call ``tick`` at most every ``period_s`` wall seconds while the world steps."""
        self._ticks.append([float(period_s), 0.0, tick])

    def __call__(self, sim_time: float) -> None:
        """After a physics step: wait while the sim is ahead, then run the ticks that are due."""
        now = self._clock()
        speed = self._speed
        if speed is not None:
            anchor = self._anchor
            if anchor is None or sim_time < anchor[1]:
                self._anchor = anchor = (now, sim_time)
            ahead = anchor[0] + (sim_time - anchor[1]) / speed - now
            if ahead > 0.001:
                self._sleep(ahead)
                self.slept_s += ahead
                now = self._clock()
            elif ahead < -self.max_lag_s:
                self._anchor = (now, sim_time)
        for tick in self._ticks:
            if now >= tick[1]:
                try:
                    tick[2]()
                except Exception:  # a frame for a viewer must never stop the robot
                    logger.exception("a pacing tick failed")
                # Steady while ticks are quick; a slow one (a render on a loaded machine)
                # still leaves a quarter period of stepping before the next, never starving
                # the motion it shows.
                tick[1] = max(tick[1] + tick[0], self._clock() + tick[0] / 4)


class TabletopWorld(ClientWorld[SceneSpec]):
    """A Panda on a table with blocks and bowls, built from a :class:`SceneSpec`.

    Each world owns its own PyBullet client, so several worlds can coexist in one process
    (pybullet is not thread-safe: use one thread per process).

    Args:
        spec: The scene; every object needs a position.
        gui: Open the PyBullet GUI instead of a headless client.
        safety: Limits for the arm; defaults to :class:`SafetyLimits()`.
        placements: Object name -> (centre xyz, yaw) to put the object at before the world
            settles, instead of resting on the table at its spec's xy (a twin built from
            perception places a block seen on another block at its perceived height).

    Attributes:
        spec: The scene the world was built from.
        safety: The safety limits every arm command is checked against.
        arm: The :class:`PandaArm`.
    """

    #: World kind (selects the primitives that apply).
    kind: str = "tabletop"
    #: Cameras ``render`` accepts; the first is the planner's overview.
    cameras: tuple[str, ...] = ("top", "front")
    #: Called with the sim time after every physics step (a :class:`Pacer` in ``chat`` and
    #: ``serve``); None runs as fast as possible (``run``, evaluations, the rehearsal twin).
    pace: Callable[[float], None] | None = None

    def __init__(
        self,
        spec: SceneSpec,
        *,
        gui: bool = False,
        safety: SafetyLimits | None = None,
        placements: Mapping[str, tuple[tuple[float, float, float], float]] | None = None,
    ) -> None:
        self._placements = dict(placements or {})
        self.safety = safety if safety is not None else SafetyLimits()
        if gui and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
            # Without an X server pybullet calls exit() itself; fail with a reason instead.
            raise ConfigError(
                "--gui needs a display, and DISPLAY is not set: run without --gui "
                "(the default is headless), or under a virtual display such as xvfb-run"
            )
        with quiet_stdout():
            self._c: Any = bullet_client.BulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        self._closed = False
        self.spec = spec
        self._bodies: dict[int, tuple[str, Kind]] = {}
        self._names: dict[str, int] = {}
        self._steps = 0
        self._last_detect: dict[str, DetectedObject] = {}
        self._recording: dict[str, Any] | None = None
        self.arm: PandaArm
        self._build(spec)

    # -- construction --------------------------------------------------------------------------
    def _build(self, spec: SceneSpec) -> None:
        for obj in spec.objects:
            if obj.position is None:
                raise ValueError(f"{obj.name}: the world needs a position for every object")
        c = self._c
        c.resetSimulation()
        c.setTimeStep(1.0 / PHYSICS_HZ)
        c.setGravity(0, 0, -9.81)
        c.setAdditionalSearchPath(data_path())
        with quiet_stdout():
            c.loadURDF("plane.urdf")
            self._table = c.loadURDF("table/table.urdf", basePosition=[0.5, 0.0, 0.0])
            panda = c.loadURDF(
                panda_urdf(spec.panda_lite),
                basePosition=[0.0, 0.0, TABLE_Z],
                useFixedBase=True,
                flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
            )
        self._bodies = {}
        for obj in spec.objects:
            assert obj.position is not None
            rgb = COLORS[obj.color]
            if obj.kind == "block":
                body = make_block(c, obj.position, obj.yaw, rgb)
            elif obj.kind == "shape":
                assert obj.urdf is not None  # ObjectSpec guarantees it for shapes
                body = make_shape(c, obj.urdf, obj.position, obj.yaw, rgb)
            else:
                body = make_bowl(c, obj.position, rgb)
            self._bodies[body] = (obj.name, obj.kind)
        self._names = {name: body for body, (name, _) in self._bodies.items()}
        for name, (xyz, yaw) in self._placements.items():
            if name in self._names:
                c.resetBasePositionAndOrientation(
                    self._names[name], list(xyz), c.getQuaternionFromEuler([0.0, 0.0, yaw])
                )
        self.arm = PandaArm(c, panda, self.safety, self._object_names)
        self.arm.setup_gripper()
        self.arm.reset_home()
        settle = _SETTLE_STEPS
        if any(o.kind == "shape" for o in spec.objects):
            settle += _SHAPE_SETTLE_STEPS
        for _ in range(settle):
            c.stepSimulation()
        self._steps = 0
        self._last_detect = {}
        self.spec = spec

    def reset(self, spec: SceneSpec | None = None) -> None:
        """Rebuild the world in place (cheaper than a new world: meshes stay cached).

        Args:
            spec: A new scene, or None to rebuild the current one.
        """
        if spec is not None:
            self._placements = {}
        self._build(spec if spec is not None else self.spec)

    def _object_names(self) -> dict[int, str]:
        return {body: name for body, (name, _) in self._bodies.items()}

    @property
    def object_names(self) -> list[str]:
        """Names of the objects in the scene, in spec order."""
        return [name for name, _ in self._bodies.values()]

    def body_id(self, name: str) -> int:
        """The PyBullet body id of a named object.

        Raises:
            KeyError: No such object.
        """
        return self._names[name]

    # -- time ------------------------------------------------------------------------------------
    @property
    def sim_time(self) -> float:
        """Simulated seconds since the world was built."""
        return self._steps / PHYSICS_HZ

    def step(self, n: int = 1) -> None:
        """Advance the physics by ``n`` steps of 1/240 s (recording frames when due).

        With a ``pace`` hook each step is paced: every skill's motion runs at the pace a person
        set, since all motion goes through this method.
        """
        for _ in range(n):
            self._c.stepSimulation()
            self._steps += 1
            rec = self._recording
            if rec is not None and self._steps >= rec["next"]:
                rec["frames"].append(self.render(rec["camera"], rec["width"], rec["height"]))
                rec["next"] += rec["every"]
            pace = self.pace
            if pace is not None:
                pace(self._steps / PHYSICS_HZ)

    # -- cameras ---------------------------------------------------------------------------------
    def render(self, camera: CameraName = "top", width: int = 320, height: int = 240) -> np.ndarray:
        """Render an RGB image.

        Args:
            camera: "top" (robot at the bottom, its left on the image's left) or "front"
                (looks back at the robot from the far side: left and right are mirrored).
            width: Image width in pixels.
            height: Image height in pixels.

        Returns:
            An (height, width, 3) uint8 array.
        """
        rgb, _, _ = capture(self._c, self._camera(camera), width, height, seg=False)
        return rgb

    def _camera(self, camera: str) -> CameraSpec:
        try:
            return CAMERAS[camera]
        except KeyError:
            raise ValueError(f"unknown camera {camera!r}; use one of {sorted(CAMERAS)}") from None

    def world_to_pixel(
        self, xyz: Any, camera: CameraName = "top", *, width: int = 320, height: int = 240
    ) -> np.ndarray:
        """Project world points to pixel coordinates.

        Args:
            xyz: A point (3,) or points (N, 3).
            camera: Which camera.
            width: Image width the pixels refer to.
            height: Image height the pixels refer to.

        Returns:
            (u, v) floats for one point, else (N, 2); u to the right, v down.
        """
        arr = np.asarray(xyz, dtype=float)
        uv = self._camera(camera).project(arr.reshape(-1, 3), width, height)
        return uv[0] if arr.ndim == 1 else uv

    def pixel_to_world(
        self,
        u: float,
        v: float,
        camera: CameraName = "top",
        z: float | None = None,
        *,
        width: int = 320,
        height: int = 240,
    ) -> np.ndarray:
        """Cast a pixel's ray into the world.

        Args:
            u: Column (to the right), may be fractional.
            v: Row (down), may be fractional.
            camera: Which camera.
            z: Height of the plane the ray is intersected with; None uses the surface seen at
                that pixel (a depth render).
            width: Image width the pixel refers to.
            height: Image height the pixel refers to.

        Returns:
            The world point (3,).

        Raises:
            ValueError: The ray is parallel to the plane.
        """
        cam = self._camera(camera)
        us, vs = np.array([float(u)]), np.array([float(v)])
        if z is None:
            _, depth, _ = capture(self._c, cam, width, height, seg=False)
            iu = int(np.clip(round(u), 0, width - 1))
            iv = int(np.clip(round(v), 0, height - 1))
            return np.asarray(cam.deproject(us, vs, np.array([depth[iv, iu]]), width, height)[0])
        near = cam.deproject(us, vs, np.array([0.0]), width, height)[0]
        far = cam.deproject(us, vs, np.array([1.0]), width, height)[0]
        dz = far[2] - near[2]
        if abs(dz) < 1e-12:
            raise ValueError("the pixel ray is parallel to the plane")
        t = (float(z) - near[2]) / dz
        return np.asarray(near + t * (far - near), dtype=float)

    # -- perception ------------------------------------------------------------------------------
    def _view(self, camera: str) -> View:
        w, h = _DETECT_SIZE
        rgb, depth, seg = capture(self._c, self._camera(camera), w, h, seg=True)
        assert seg is not None
        return View(self._camera(camera), rgb, depth, seg)

    def detect(self) -> dict[str, DetectedObject]:
        """Perceive the objects from segmentation + depth (never a pose read).

        The top camera is used first; objects it cannot see well enough (e.g. a block under
        another block) come from the front camera; objects neither sees keep their last
        estimate, marked ``stale``; objects never seen are absent.

        Returns:
            Name -> :class:`DetectedObject`.
        """
        result = detect_all(
            self._bodies, self._view("top"), lambda: self._view("front"), self._last_detect
        )
        self._last_detect = dict(result)
        return result

    def object_points(self, name: str, camera: CameraName = "top") -> np.ndarray:
        """World points of the pixels a camera sees of one object (segmentation + depth).

        This is perception (what a grasp planner may use), not a pose read.

        Args:
            name: The object.
            camera: Which camera.

        Returns:
            (N, 3) points; N is 0 when the object is not visible.

        Raises:
            KeyError: No such object.
        """
        body = self._names[name]
        pts, _ = self._view(camera).points(body)
        return pts

    def true_poses(self) -> dict[str, ObjectPose]:
        """Ground-truth object poses (for reports and tests only; programs never see these)."""
        out: dict[str, ObjectPose] = {}
        for body, (name, _) in self._bodies.items():
            pos, orn = self._c.getBasePositionAndOrientation(body)
            out[name] = ObjectPose(
                position=(float(pos[0]), float(pos[1]), float(pos[2])),
                orientation=(float(orn[0]), float(orn[1]), float(orn[2]), float(orn[3])),
            )
        return out

    # -- state -----------------------------------------------------------------------------------
    def _controller_state(self) -> dict[str, Any]:
        return {"arm": self.arm.controller_state()}

    def _load_controller_state(self, sidecar: dict[str, Any]) -> None:
        self.arm.load_controller_state(sidecar["arm"])

    # -- recording -------------------------------------------------------------------------------
    def start_recording(
        self,
        every_s: float = 0.1,
        width: int = 160,
        height: int = 120,
        camera: CameraName = "top",
    ) -> None:
        """Render a frame every ``every_s`` simulated seconds until :meth:`stop_recording`."""
        if not (math.isfinite(every_s) and every_s > 0):
            raise ValueError(f"every_s must be positive, got {every_s}")
        self._camera(camera)
        every = max(1, round(every_s * PHYSICS_HZ))
        self._recording = {
            "every": every,
            "next": self._steps + every,
            "width": width,
            "height": height,
            "camera": camera,
            "frames": [self.render(camera, width, height)],
        }

    def stop_recording(self) -> list[np.ndarray]:
        """Stop recording and return the frames (empty if not recording)."""
        rec, self._recording = self._recording, None
        return list(rec["frames"]) if rec is not None else []

    # -- lifetime --------------------------------------------------------------------------------
