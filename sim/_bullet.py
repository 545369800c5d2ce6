"""Low-level PyBullet helpers: quiet loading, panda_lite, object bodies, cameras."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data

from policywright.sim._scene import BLOCK_SIZE, BOWL_RADIUS
from policywright.sim._workspace import TABLE_Z

NEAR, FAR = 0.05, 3.0
BOWL_WALL_HEIGHT = 0.04
BOWL_WALL_THICKNESS = 0.008
BOWL_FLOOR = 0.004
BOWL_SEGMENTS = 12
BLOCK_MASS = 0.05


def _flush_c_stdout() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C-level writes to fd 1 (pybullet's b3Warning chatter) for the block's duration."""
    # C code writes to fd 1 whatever Python's sys.stdout currently is.
    fd = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        # C stdio buffers its output when fd 1 is not a tty: flush it into /dev/null first.
        _flush_c_stdout()
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def data_path() -> str:
    return str(pybullet_data.getDataPath())


def panda_urdf(lite: bool) -> str:
    """Path of the Panda URDF; for lite, generate (once, atomically) a copy with hull visuals."""
    base = Path(data_path()) / "franka_panda"
    src = base / "panda.urdf"
    if not lite:
        return str(src)
    text = src.read_text(encoding="utf-8")
    collision = (base / "meshes" / "collision").as_posix() + "/"
    # Absolute mesh paths let the generated file live outside pybullet_data.
    lite_text = text.replace("package://meshes/visual/", collision).replace(
        "package://meshes/collision/", collision
    )
    digest = hashlib.sha1(lite_text.encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"policywright-{os.getuid()}"
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"panda_lite-{digest}.urdf"
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(lite_text, encoding="utf-8")
        os.replace(tmp, out)
    return str(out)


def make_block(client: Any, xy: tuple[float, float], yaw: float, rgb: tuple[float, ...]) -> int:
    half = BLOCK_SIZE / 2
    col = client.createCollisionShape(p.GEOM_BOX, halfExtents=[half] * 3)
    vis = client.createVisualShape(p.GEOM_BOX, halfExtents=[half] * 3, rgbaColor=[*rgb, 1.0])
    body = client.createMultiBody(
        baseMass=BLOCK_MASS,
        baseCollisionShapeIndex=col,
        baseVisualShapeIndex=vis,
        basePosition=[xy[0], xy[1], TABLE_Z + half + 0.0005],
        baseOrientation=client.getQuaternionFromEuler([0.0, 0.0, yaw]),
    )
    client.changeDynamics(
        body, -1, lateralFriction=1.0, spinningFriction=0.001, rollingFriction=1e-4
    )
    return int(body)


def make_bowl(client: Any, xy: tuple[float, float], rgb: tuple[float, ...]) -> int:
    """A static bowl: one disc plus wall boxes in a single compound shape."""
    types = [p.GEOM_CYLINDER] + [p.GEOM_BOX] * BOWL_SEGMENTS
    radii = [BOWL_RADIUS] + [0.0] * BOWL_SEGMENTS
    lengths = [BOWL_FLOOR] + [0.0] * BOWL_SEGMENTS
    half_exts: list[list[float]] = [[0.0, 0.0, 0.0]]
    poss: list[list[float]] = [[0.0, 0.0, BOWL_FLOOR / 2]]
    orns: list[list[float]] = [[0.0, 0.0, 0.0, 1.0]]
    r_mid = BOWL_RADIUS - BOWL_WALL_THICKNESS / 2
    # Slightly longer than the chord so neighbouring wall boxes overlap and leave no gaps.
    chord = 2 * BOWL_RADIUS * math.tan(math.pi / BOWL_SEGMENTS) + 0.002
    for i in range(BOWL_SEGMENTS):
        a = 2 * math.pi * i / BOWL_SEGMENTS
        half_exts.append([BOWL_WALL_THICKNESS / 2, chord / 2, BOWL_WALL_HEIGHT / 2])
        poss.append([r_mid * math.cos(a), r_mid * math.sin(a), BOWL_WALL_HEIGHT / 2])
        orns.append(list(client.getQuaternionFromEuler([0.0, 0.0, a])))
    col = client.createCollisionShapeArray(
        shapeTypes=types,
        radii=radii,
        halfExtents=half_exts,
        lengths=lengths,
        collisionFramePositions=poss,
        collisionFrameOrientations=orns,
    )
    vis = client.createVisualShapeArray(
        shapeTypes=types,
        radii=radii,
        halfExtents=half_exts,
        lengths=lengths,
        rgbaColors=[[*rgb, 1.0]] * len(types),
        visualFramePositions=poss,
        visualFrameOrientations=orns,
    )
    body = client.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=col,
        baseVisualShapeIndex=vis,
        basePosition=[xy[0], xy[1], TABLE_Z],
    )
    client.changeDynamics(body, -1, lateralFriction=1.0)
    return int(body)


@dataclass(frozen=True)
class CameraSpec:
    """A pinhole camera fixed in the world."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    fov: float

    def matrices(self, width: int, height: int) -> tuple[list[float], list[float]]:
        view = p.computeViewMatrix(self.eye, self.target, self.up)
        proj = p.computeProjectionMatrixFOV(self.fov, width / height, NEAR, FAR)
        return list(view), list(proj)

    def clip_matrix(self, width: int, height: int) -> np.ndarray:
        view, proj = self.matrices(width, height)
        v = np.asarray(view, dtype=float).reshape(4, 4, order="F")
        pr = np.asarray(proj, dtype=float).reshape(4, 4, order="F")
        return np.asarray(pr @ v, dtype=float)

    def deproject(
        self, us: np.ndarray, vs: np.ndarray, depth: np.ndarray, width: int, height: int
    ) -> np.ndarray:
        """Pixels (u right, v down) with depth-buffer values in [0, 1] -> (N, 3) world points.

        TinyRenderer's pixel (u, v) holds the scene at NDC (2u/w - 1, 1 - 2(v + 1)/h), half a
        pixel off the usual pixel-centre convention: measured over 32 blocks, that convention
        put detections 2.3 mm (median) off and this one 0.4 mm.
        """
        inv = np.linalg.inv(self.clip_matrix(width, height))
        x = 2.0 * us / width - 1.0
        y = 1.0 - 2.0 * (vs + 1.0) / height
        ndc = np.stack([x, y, 2.0 * depth - 1.0, np.ones_like(x)], axis=0)
        pw = inv @ ndc
        return np.asarray((pw[:3] / pw[3]).T, dtype=float)

    def project(self, xyz: np.ndarray, width: int, height: int) -> np.ndarray:
        """World points (N, 3) -> pixel coordinates (N, 2) as floats (u right, v down)."""
        pts = np.atleast_2d(np.asarray(xyz, dtype=float))
        hom = np.concatenate([pts, np.ones((pts.shape[0], 1))], axis=1)
        clip = (self.clip_matrix(width, height) @ hom.T).T
        ndc = clip[:, :3] / clip[:, 3:4]
        u = (ndc[:, 0] + 1.0) / 2.0 * width
        v = (1.0 - ndc[:, 1]) / 2.0 * height - 1.0
        return np.stack([u, v], axis=1)


def _front_eye() -> tuple[float, float, float]:
    a = math.radians(35.0)
    return (0.5 + 0.9 * math.cos(a), 0.0, TABLE_Z + 0.9 * math.sin(a))


CAMERAS: Mapping[str, CameraSpec] = MappingProxyType(
    {
        # up = +x keeps the robot at the bottom of the image and its left on the image's left.
        "top": CameraSpec(
            eye=(0.525, 0.0, TABLE_Z + 1.1),
            target=(0.525, 0.0, TABLE_Z),
            up=(1.0, 0.0, 0.0),
            fov=40.0,
        ),
        # Looks back at the robot from the far side, so left and right are mirrored in the image.
        "front": CameraSpec(
            eye=_front_eye(), target=(0.5, 0.0, TABLE_Z), up=(0.0, 0.0, 1.0), fov=50.0
        ),
    }
)


def capture(
    client: Any, cam: CameraSpec, width: int, height: int, *, seg: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Render RGB (H, W, 3) uint8, the depth buffer (H, W) and optionally the segmentation."""
    view, proj = cam.matrices(width, height)
    flags = 0 if seg else p.ER_NO_SEGMENTATION_MASK
    _, _, rgba, depth, segm = client.getCameraImage(
        width,
        height,
        viewMatrix=view,
        projectionMatrix=proj,
        renderer=p.ER_TINY_RENDERER,
        flags=flags,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()
    dep = np.asarray(depth, dtype=float).reshape(height, width)
    mask = np.asarray(segm, dtype=np.int64).reshape(height, width) if seg else None
    return rgb, dep, mask
