"""Path utilities shared by the path-tracking skills and the ``follow_path`` primitive.

A coarse 2D path (a few points, as a VLM would draw it on the top camera image) becomes a dense
3D path in four steps:

1. :func:`image_to_table` casts each pixel's ray through the top camera and intersects it with
   the horizontal plane at the travel height (pure geometry, never the depth buffer, so a path
   over empty table works and the end effector passes exactly under the drawn pixels).
2. :func:`chaikin` rounds the corners of the polyline (endpoints kept), so a coarse path can be
   tracked at speed without cutting corners.
3. :func:`resample` spaces the points evenly by arc length.
4. :func:`build_path_3d` adds the height profile: constant travel height, optionally with
   smooth takeoff/landing ramps (the end effector starts and ends ``ramp_height`` higher and
   descends/climbs over the first/last ``ramp_length`` metres of the path).

Orientation: the path skills keep the gripper pointing down with a *fixed* yaw (the yaw the arm
already has). A yaw that follows the tangent would spin the wrist through up to 180 degrees at
sharp turns and cusps, which the cross-track error does not reward and which would swing a held
object; :func:`tangent_yaw` is provided for callers that want it.

:class:`PathTracker` is the arc-length geometry of a dense polyline (point at a length,
monotone projection, lookahead window) used by the learned tracking policy and its expert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from policywright.sim import TABLE_Z

if TYPE_CHECKING:
    from policywright.sim import TabletopWorld

__all__ = [
    "IMAGE_HEIGHT",
    "IMAGE_WIDTH",
    "LOOKAHEAD_OFFSETS",
    "TABLE_TOP_XY",
    "PathTracker",
    "build_path_3d",
    "chaikin",
    "image_to_table",
    "path_length",
    "resample",
    "tangent_yaw",
]

#: The top camera image the planner sees (pixels; u to the right, v down).
IMAGE_WIDTH: Final[int] = 320
IMAGE_HEIGHT: Final[int] = 240
#: The table top's extent (x_min, y_min, x_max, y_max) in the world: ``table/table.urdf`` is a
#: 1.5 x 1.0 m top centred at (0.5, 0).
TABLE_TOP_XY: Final[tuple[float, float, float, float]] = (-0.25, -0.5, 1.25, 0.5)
#: Arc-length offsets (m) ahead of the projection at which the policy sees the path.
LOOKAHEAD_OFFSETS: Final[tuple[float, ...]] = (
    0.002,
    0.004,
    0.006,
    0.008,
    0.010,
    0.013,
    0.016,
    0.020,
    0.030,
)
# Projection search window behind/ahead of the last projection (m): monotone progress, so a
# path that crosses itself is followed in order.
_BACK: Final[float] = 0.01
_AHEAD: Final[float] = 0.06


def path_length(points: np.ndarray) -> float:
    """Total length of a polyline (N, D)."""
    pts = np.asarray(points, dtype=float)
    if pts.shape[0] < 2:
        return 0.0
    return float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))


def _finite_polyline(points: Sequence[Sequence[float]] | np.ndarray, dims: int) -> np.ndarray:
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[0] < 1 or pts.shape[1] != dims:
        raise ValueError(f"expected an (N, {dims}) array of points, got shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("path points must be finite numbers (got NaN or inf)")
    return pts


def _dedupe(pts: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    keep = [0]
    for i in range(1, len(pts)):
        if np.linalg.norm(pts[i] - pts[keep[-1]]) > tol:
            keep.append(i)
    return pts[keep]


def resample(points: Sequence[Sequence[float]] | np.ndarray, spacing: float) -> np.ndarray:
    """Resample a polyline at (nearly) equal arc-length spacing, endpoints kept.

    Args:
        points: (N, D) polyline.
        spacing: Target distance between consecutive points (m); the actual spacing is
            ``length / ceil(length / spacing)``.

    Returns:
        (M, D) points; a zero-length path returns its first point twice.
    """
    pts = np.asarray(points, dtype=float)
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    pts = _dedupe(pts)
    if len(pts) < 2:
        return np.vstack([pts[:1], pts[:1]])
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    n = max(1, math.ceil(cum[-1] / spacing))
    s = np.linspace(0.0, cum[-1], n + 1)
    return np.stack([np.interp(s, cum, pts[:, d]) for d in range(pts.shape[1])], axis=1)


def chaikin(points: Sequence[Sequence[float]] | np.ndarray, iterations: int = 3) -> np.ndarray:
    """Chaikin corner cutting (quadratic B-spline limit), keeping both endpoints.

    Args:
        points: (N, D) polyline.
        iterations: Rounds of cutting; each replaces a corner by two points at 1/4 and 3/4.

    Returns:
        The smoothed polyline; paths of fewer than 3 points are returned unchanged.
    """
    pts = _dedupe(np.asarray(points, dtype=float))
    for _ in range(iterations):
        if len(pts) < 3:
            break
        a, b = pts[:-1], pts[1:]
        q = 0.75 * a + 0.25 * b
        r = 0.25 * a + 0.75 * b
        inner = np.empty((2 * len(a), pts.shape[1]))
        inner[0::2], inner[1::2] = q, r
        # Keep the endpoints exactly where the user put them (the first and last cut points
        # next to them are dropped so the path still starts along its first segment).
        pts = np.vstack([pts[:1], inner[1:-1], pts[-1:]])
    return pts


def image_to_table(
    world: TabletopWorld,
    uv: Sequence[Sequence[float]] | np.ndarray,
    z: float | Sequence[float] | np.ndarray,
    *,
    width: int = IMAGE_WIDTH,
    height: int = IMAGE_HEIGHT,
) -> np.ndarray:
    """Map top-camera pixels to world xy on the horizontal plane at height ``z``.

    Each pixel's camera ray is intersected with the plane ``z`` (ray-plane geometry, not the
    depth buffer): the end effector at that point is seen exactly at the pixel.

    Args:
        world: The tabletop world (its top camera).
        uv: (N, 2) pixel coordinates, u to the right in [0, width), v down in [0, height);
            fractional values allowed.
        z: World height of the plane (m), e.g. ``TABLE_Z + 0.1``; or one height per pixel.
        width: Image width the pixels refer to.
        height: Image height the pixels refer to.

    Returns:
        (N, 2) world xy.

    Raises:
        ValueError: a pixel is not finite, lies outside the image, or its ray meets the plane
            off the table top (the message names the first bad point).
    """
    pix = _finite_polyline(uv, 2)
    zs = np.broadcast_to(np.asarray(z, dtype=float), (len(pix),))
    if not np.all(np.isfinite(zs)):
        raise ValueError("plane heights must be finite")
    out = np.empty((len(pix), 2))
    x0, y0, x1, y1 = TABLE_TOP_XY
    for i, (u, v) in enumerate(pix):
        # Pixel centres are at integer coordinates; a pixel covers [-0.5, w - 0.5).
        if not (-0.5 <= u <= width - 0.5 and -0.5 <= v <= height - 0.5):
            raise ValueError(
                f"point {i} ({u:g}, {v:g}) is outside the {width}x{height} image "
                f"(u in [0, {width - 1}], v in [0, {height - 1}])"
            )
        p = world.pixel_to_world(
            float(u), float(v), "top", z=float(zs[i]), width=width, height=height
        )
        if not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
            raise ValueError(
                f"point {i} ({u:g}, {v:g}) maps to ({p[0]:.3f}, {p[1]:.3f}), off the table"
            )
        out[i] = p[:2]
    return out


def build_path_3d(
    xy: Sequence[Sequence[float]] | np.ndarray,
    travel_z: float,
    *,
    ramp_height: float = 0.0,
    ramp_length: float = 0.05,
    smooth: int = 0,
    spacing: float | None = 0.005,
) -> np.ndarray:
    """Lift an xy polyline to 3D with a height profile.

    Args:
        xy: (N, 2) world xy points.
        travel_z: World height of the constant travel segment (m).
        ramp_height: Extra height at the start and the end; 0 means no ramps.
        ramp_length: Arc length (m) over which each ramp blends (smoothstep) into the travel
            height; shortened to a third of the path if the path is short.
        smooth: Chaikin iterations applied to the xy path first (0 = keep the polyline).
        spacing: Resampling distance (m) along the path; None keeps the given vertices (then a
            ramp only changes the heights of existing vertices).

    Returns:
        (M, 3) world points.
    """
    pts = _finite_polyline(xy, 2)
    if not (math.isfinite(travel_z) and math.isfinite(ramp_height) and ramp_length > 0):
        raise ValueError("travel_z, ramp_height and ramp_length must be finite (ramp_length > 0)")
    if smooth > 0:
        pts = chaikin(pts, smooth)
    if spacing is not None:
        pts = resample(pts, spacing)
    z = np.full(len(pts), float(travel_z))
    if ramp_height != 0.0 and len(pts) > 1:
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        length = float(cum[-1])
        ramp = min(ramp_length, length / 3.0) if length > 0 else 1.0
        a = np.clip(cum / ramp, 0.0, 1.0)
        b = np.clip((length - cum) / ramp, 0.0, 1.0)
        up = (1.0 - a * a * (3 - 2 * a)) + (1.0 - b * b * (3 - 2 * b))
        z = z + ramp_height * np.minimum(up, 1.0)
    return np.column_stack([pts, z])


def tangent_yaw(points: np.ndarray) -> np.ndarray:
    """Gripper yaw along the xy tangent at each point, wrapped to [-pi/2, pi/2).

    The parallel gripper is symmetric, so a yaw and yaw + pi are the same grasp; wrapping keeps
    the wrist from turning half a revolution when the path reverses.
    """
    pts = np.asarray(points, dtype=float)
    d = np.gradient(pts[:, :2], axis=0) if len(pts) > 1 else np.array([[1.0, 0.0]])
    yaw = np.arctan2(d[:, 1], d[:, 0])
    return np.asarray((yaw + math.pi / 2) % math.pi - math.pi / 2, dtype=float)


class PathTracker:
    """Arc-length geometry of a dense 3D polyline for tracking policies.

    Args:
        points: (N, 3) polyline (N >= 1).
    """

    def __init__(self, points: np.ndarray) -> None:
        pts = _dedupe(np.asarray(points, dtype=float).reshape(-1, 3))
        if len(pts) == 1:
            pts = np.vstack([pts, pts])
        self.points = pts
        self.seg = np.diff(pts, axis=0)
        self.seg_len = np.linalg.norm(self.seg, axis=1)
        self.cum = np.concatenate([[0.0], np.cumsum(self.seg_len)])
        self.length = float(self.cum[-1])

    def at(self, s: float | np.ndarray) -> np.ndarray:
        """Points at arc lengths ``s`` (clamped to the path); shape (3,) or (K, 3)."""
        ss = np.clip(np.asarray(s, dtype=float), 0.0, self.length)
        out = np.stack([np.interp(ss, self.cum, self.points[:, d]) for d in range(3)], axis=-1)
        return np.asarray(out, dtype=float)

    def tangent(self, s: float) -> np.ndarray:
        """Unit xy direction of the path at ``s`` (3,), z = 0; x axis for a vertical path."""
        i = int(np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.seg) - 1))
        # Vertical segments (ramps in place) have no xy direction: use the nearest one that has.
        order = sorted(range(len(self.seg)), key=lambda j: abs(j - i))
        for j in order[:50]:
            d = self.seg[j, :2]
            n = float(np.hypot(d[0], d[1]))
            if n > 1e-9:
                return np.array([d[0] / n, d[1] / n, 0.0])
        return np.array([1.0, 0.0, 0.0])

    def project(self, p: np.ndarray, s_prev: float) -> float:
        """Arc length of the point nearest to ``p`` within a window around ``s_prev``.

        The window (1 cm back, 6 cm ahead) makes progress monotone in practice, so a path that
        crosses or doubles back on itself is followed in order.
        """
        lo = max(int(np.searchsorted(self.cum, s_prev - _BACK, side="right")) - 1, 0)
        hi = min(int(np.searchsorted(self.cum, s_prev + _AHEAD, side="left")) + 1, len(self.seg))
        a = self.points[lo:hi]
        ab = self.seg[lo:hi]
        denom = np.maximum(self.seg_len[lo:hi] ** 2, 1e-18)
        t = np.clip(np.sum((p - a) * ab, axis=1) / denom, 0.0, 1.0)
        closest = a + t[:, None] * ab
        k = int(np.argmin(np.linalg.norm(closest - p, axis=1)))
        return float(self.cum[lo + k] + t[k] * self.seg_len[lo + k])

    def frame(self, s: float) -> np.ndarray:
        """Rotation (3, 3) whose rows are the local axes at ``s``: tangent, left normal, z."""
        t = self.tangent(s)
        return np.array([[t[0], t[1], 0.0], [-t[1], t[0], 0.0], [0.0, 0.0, 1.0]])

    def features(self, c: np.ndarray, s: float, speed: float, dt: float) -> np.ndarray:
        """The tracking policy's observation, in the path frame at ``s``.

        Layout: the setpoint's offset from the path point at ``s`` (3), the lookahead points at
        :data:`LOOKAHEAD_OFFSETS` beyond ``s`` relative to the setpoint (3 each; clamped at the
        path's end, which is how the policy sees the end coming), the step length
        ``speed * dt`` in mm, and the remaining arc length in cm (clipped at 5).
        All distances in mm except the last, so the inputs are O(1).
        """
        rot = self.frame(s)
        base = rot @ (c - self.at(s)) * 1000.0
        ahead = self.at(s + np.asarray(LOOKAHEAD_OFFSETS))
        rel = (ahead - c) @ rot.T * 1000.0
        remaining = min((self.length - s) * 100.0, 5.0)
        return np.concatenate([base, rel.reshape(-1), [speed * dt * 1000.0, remaining]])

    def expert_step(self, c: np.ndarray, s: float, speed: float, dt: float) -> np.ndarray:
        """The reference controller's next setpoint delta (world frame, m), clipped.

        On the path this is exactly ``path/scripted-v1``'s carrot: the point ``speed * dt``
        further along the path. Off the path (noise-injected training states) the same carrot
        pulls the setpoint back; the step is clipped to :func:`step_limit`.
        """
        return clip_step(self.at(s + speed * dt) - c, step_limit(speed, dt))


#: A tracking step may exceed ``speed * dt`` by this factor (returning to the path).
STEP_SLACK: Final[float] = 1.25


def step_limit(speed: float, dt: float, max_speed: float = math.inf) -> float:
    """Largest setpoint step (m) per control step at ``speed``, never over ``max_speed``."""
    return min(STEP_SLACK * speed, max_speed) * dt


def clip_step(delta: np.ndarray, limit: float) -> np.ndarray:
    """Scale ``delta`` down to norm ``limit`` if longer."""
    n = float(np.linalg.norm(delta))
    if n > limit > 0:
        return np.asarray(delta * (limit / n), dtype=float)
    return np.asarray(delta, dtype=float)


def default_travel_z(height: float) -> float:
    """World z of a travel height given above the table."""
    return TABLE_Z + float(height)
