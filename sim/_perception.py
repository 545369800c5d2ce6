"""Object detection from segmentation + depth of the top camera, front camera as fallback."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from policywright.sim._bullet import CameraSpec
from policywright.sim._scene import BLOCK_SIZE, COLORS
from policywright.sim._workspace import TABLE_Z

__all__ = ["DetectedObject", "ObjectPose", "nearest_color"]

Vec3 = tuple[float, float, float]


class DetectedObject(BaseModel):
    """What the cameras perceive of one object (never a pose read).

    Attributes:
        name: The object's name (segmentation ids map to the bodies the world created).
        kind: "block", "bowl" or "shape" on the tabletop; other worlds add their own kinds
            ("landmark", "shape", "table").
        color: The colour word nearest to the mean perceived pixel colour.
        position: Estimated centre (x, y, z), metres.
        bbox: (x_min, y_min, z_min, x_max, y_max, z_max) from the deprojected points.
        pixels_top: Pixels of the object in the top camera.
        pixels_front: Pixels in the front camera (0 when it was not needed).
        stale: True when no camera sees it now and this is the last known estimate.
        yaw: Estimated rotation about z (radians) where the view allows it: a block's top face
            gives it modulo a quarter turn, in [-pi/4, pi/4); 0.0 where it is not estimated
            (bowls are round; odd shapes and blocks seen only from the front).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str
    color: str
    position: Vec3
    bbox: tuple[float, float, float, float, float, float]
    pixels_top: int
    pixels_front: int = 0
    stale: bool = False
    yaw: float = 0.0


class ObjectPose(BaseModel):
    """Ground-truth pose of an object (for reports and tests only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: Vec3
    orientation: tuple[float, float, float, float]


_COLOR_NAMES = tuple(COLORS)
_COLOR_TABLE = np.array([COLORS[n] for n in _COLOR_NAMES], dtype=float)
_COLOR_TABLE.flags.writeable = False


def nearest_color(rgb: np.ndarray) -> str:
    """The colour word nearest to an RGB (0..1) value, tolerant of shading.

    Shading scales a surface colour, so each reference colour is first scaled by the best
    least-squares brightness factor (clipped to a plausible lighting range).
    """
    c = np.asarray(rgb, dtype=float).reshape(3)
    num = _COLOR_TABLE @ c
    den = np.sum(_COLOR_TABLE**2, axis=1)
    scale = np.clip(num / den, 0.5, 1.3)
    dist = np.linalg.norm(_COLOR_TABLE * scale[:, None] - c[None, :], axis=1)
    return _COLOR_NAMES[int(np.argmin(dist))]


@dataclass
class View:
    """One rendered camera view used for detection."""

    cam: CameraSpec
    rgb: np.ndarray
    depth: np.ndarray
    seg: np.ndarray

    def points(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World points and RGB (0..1) of the pixels that belong to ``body``."""
        vs, us = np.nonzero(self.seg == body)
        h, w = self.seg.shape
        if us.size == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        pts = self.cam.deproject(us.astype(float), vs.astype(float), self.depth[vs, us], w, h)
        return pts, self.rgb[vs, us].astype(float) / 255.0


@dataclass(frozen=True)
class Estimate:
    position: Vec3
    bbox: tuple[float, float, float, float, float, float]
    color: str
    yaw: float = 0.0


# Candidate yaws for a square face, one degree apart over a quarter turn (a square repeats).
_YAW_CANDIDATES = np.radians(np.arange(-45.0, 45.0, 1.0))
_YAW_COS = np.cos(_YAW_CANDIDATES)
_YAW_SIN = np.sin(_YAW_CANDIDATES)


def square_yaw(xy: np.ndarray) -> float:
    """The yaw of a square seen from above: the rotation whose bounding box is smallest.

    Second moments cannot tell a square's orientation (they are the same in every direction),
    so the candidate rotations are scored by the area of the points' rotated bounding box.

    Args:
        xy: (N, 2) points of the face.

    Returns:
        Radians in [-pi/4, pi/4); 0.0 for fewer than 8 points.
    """
    if xy.shape[0] < 8:
        return 0.0
    c = xy - xy.mean(axis=0)
    # Rotate the points by -yaw for every candidate at once: (K, N).
    u = c[None, :, 0] * _YAW_COS[:, None] + c[None, :, 1] * _YAW_SIN[:, None]
    v = -c[None, :, 0] * _YAW_SIN[:, None] + c[None, :, 1] * _YAW_COS[:, None]
    area = (u.max(axis=1) - u.min(axis=1)) * (v.max(axis=1) - v.min(axis=1))
    return float(_YAW_CANDIDATES[int(np.argmin(area))])


def _bbox(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float, float, float, float, float]:
    return (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))


def expected_face_pixels(cam: CameraSpec, width: int, height: int, z: float) -> float:
    """Pixels a block's top face covers in a view from ``cam`` at height ``z``."""
    dist = abs(cam.eye[2] - z)
    px = 2.0 * dist * math.tan(math.radians(cam.fov) / 2.0) / height
    return (BLOCK_SIZE / px) ** 2


def block_from_top(pts: np.ndarray, rgb: np.ndarray, min_face: float) -> Estimate | None:
    """Centre from the top face: the band of points near the highest z."""
    if pts.shape[0] == 0:
        return None
    z_top = float(np.max(pts[:, 2]))
    band = pts[:, 2] >= z_top - 0.006
    if int(band.sum()) < min_face:
        return None
    face = pts[band]
    top = float(np.median(face[:, 2]))
    cx, cy = (float(v) for v in np.mean(face[:, :2], axis=0))
    half = BLOCK_SIZE / 2
    lo = np.min(pts, axis=0)
    hi = np.max(pts, axis=0)
    # A view from above sees only the top: the block's known height gives the bottom.
    lo[2] = min(lo[2], top - BLOCK_SIZE)
    return Estimate(
        (cx, cy, top - half),
        _bbox(lo, hi),
        nearest_color(rgb[band].mean(axis=0)),
        square_yaw(face[:, :2]),
    )


def block_from_front(pts: np.ndarray, rgb: np.ndarray, min_pixels: int) -> Estimate | None:
    """Centre from the front camera: it sees the far (+x) face of the block, and its full height."""
    if pts.shape[0] < min_pixels:
        return None
    lo = np.min(pts, axis=0)
    hi = np.max(pts, axis=0)
    half = BLOCK_SIZE / 2
    cx = float(hi[0] - half)
    cy = float((lo[1] + hi[1]) / 2)
    cz = float((lo[2] + hi[2]) / 2)
    lo[0] = min(lo[0], cx - half)
    return Estimate((cx, cy, cz), _bbox(lo, hi), nearest_color(rgb.mean(axis=0)))


def bowl_estimate(pts: np.ndarray, rgb: np.ndarray, min_pixels: int) -> Estimate | None:
    """Centre of a bowl: the rim is visible all round, so the bbox middle is robust."""
    if pts.shape[0] < min_pixels:
        return None
    lo = np.min(pts, axis=0)
    hi = np.max(pts, axis=0)
    centre = (lo + hi) / 2
    return Estimate(
        (float(centre[0]), float(centre[1]), float(centre[2])),
        _bbox(lo, hi),
        nearest_color(rgb.mean(axis=0)),
    )


# A shape whose lowest visible point is this close to the table is taken to rest on it.
_SHAPE_ON_TABLE = 0.03


def shape_estimate(pts: np.ndarray, rgb: np.ndarray, min_pixels: int) -> Estimate | None:
    """Centre of an odd shape seen from above: mask centroid in xy, bbox middle in z.

    A view from above sees only the upper surface; a shape whose visible points reach down
    near the table is taken to rest on it, which gives its bottom.
    """
    if pts.shape[0] < min_pixels:
        return None
    lo = np.min(pts, axis=0)
    hi = np.max(pts, axis=0)
    if lo[2] - TABLE_Z < _SHAPE_ON_TABLE:
        lo[2] = min(lo[2], TABLE_Z)
    cx, cy = (float(v) for v in np.mean(pts[:, :2], axis=0))
    cz = float((lo[2] + hi[2]) / 2)
    return Estimate((cx, cy, cz), _bbox(lo, hi), nearest_color(rgb.mean(axis=0)))


def detect_all(
    objects: Mapping[int, tuple[str, str]],
    top: View,
    front_factory: Callable[[], View],
    previous: Mapping[str, DetectedObject],
) -> dict[str, DetectedObject]:
    """Detect every object; see :meth:`policywright.sim.TabletopWorld.detect`."""
    h, w = top.seg.shape
    out: dict[str, DetectedObject] = {}
    front: View | None = None
    for body, (name, kind) in objects.items():
        pts, rgb = top.points(body)
        n_top = int(pts.shape[0])
        est: Estimate | None
        if kind == "block":
            z_guess = float(np.max(pts[:, 2])) if n_top else 0.0
            min_face = 0.35 * expected_face_pixels(top.cam, w, h, z_guess)
            est = block_from_top(pts, rgb, min_face)
        elif kind == "shape":
            est = shape_estimate(pts, rgb, 20)
        else:
            est = bowl_estimate(pts, rgb, 40)
        n_front = 0
        if est is None:
            if front is None:
                front = front_factory()
            fpts, frgb = front.points(body)
            n_front = int(fpts.shape[0])
            if kind == "block":
                est = block_from_front(fpts, frgb, 12)
                if est is None and n_top >= 5:
                    # A sliver from above is better than nothing.
                    est = block_from_top(pts, rgb, 1)
            elif kind == "shape":
                est = shape_estimate(fpts, frgb, 12) or shape_estimate(pts, rgb, 5)
            else:
                est = bowl_estimate(fpts, frgb, 20) or bowl_estimate(pts, rgb, 5)
        if est is not None:
            out[name] = DetectedObject(
                name=name,
                kind=kind,
                color=est.color,
                position=est.position,
                bbox=est.bbox,
                pixels_top=n_top,
                pixels_front=n_front,
                yaw=est.yaw,
            )
        elif name in previous:
            out[name] = previous[name].model_copy(
                update={"pixels_top": n_top, "pixels_front": n_front, "stale": True}
            )
    return out
