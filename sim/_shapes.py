"""Odd-shaped graspable objects from ``pybullet_data/random_urdfs`` (kind ``"shape"``).

The wheel ships 1000 procedurally generated objects (``random_urdfs/000..999``), each an OBJ of
several convex pieces (a compound collision shape, so concave outlines are possible) of about
10 cm. They are loaded scaled so that their middle extent is at most :data:`SHAPE_WIDTH`
(7.5 cm, below the gripper's 8 cm opening) and their longest at most :data:`SHAPE_SIZE` (11 cm):
a shape fits the hand when grasped across its width, but not necessarily along its length,
and its mask centroid need not be a good grasp point. That is what makes them a grasp
benchmark.

Split (fixed, documented, used by the learned grasp): indices ``i % 10 == 0`` are the
**held-out evaluation** shapes and are never used for training; the rest are training shapes.
A few files are unusable (NaN vertices, or degenerate: flatter than a fifth of their length)
and are excluded from both splits.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final

import numpy as np
import pybullet_data

from policywright.sim._workspace import TABLE_Z

__all__ = [
    "N_SHAPES",
    "SHAPE_MASS",
    "SHAPE_SIZE",
    "SHAPE_WIDTH",
    "eval_shapes",
    "is_usable_shape",
    "make_shape",
    "shape_urdf",
    "train_shapes",
]

#: Number of objects in ``random_urdfs``.
N_SHAPES: Final[int] = 1000
#: Upper bound of a loaded shape's longest extent (metres).
SHAPE_SIZE: Final[float] = 0.11
#: Upper bound of a loaded shape's middle extent (metres); the gripper opens to 8 cm.
SHAPE_WIDTH: Final[float] = 0.075
#: Mass of a shape (kg), as in the URDFs.
SHAPE_MASS: Final[float] = 0.1
# The URDFs scale their meshes by this factor.
_URDF_MESH_SCALE: Final[float] = 0.015
# Shapes thinner than this fraction of their length are slivers (nothing to grasp or see).
_MIN_ASPECT: Final[float] = 0.2
_EVAL_MODULUS: Final[int] = 10


def shape_urdf(index: int) -> Path:
    """Path of ``random_urdfs/NNN/NNN.urdf``.

    Raises:
        ValueError: The index is outside 0..999.
    """
    if not 0 <= index < N_SHAPES:
        raise ValueError(f"shape index must be in 0..{N_SHAPES - 1}, got {index}")
    return Path(pybullet_data.getDataPath()) / "random_urdfs" / f"{index:03d}" / f"{index:03d}.urdf"


@functools.cache
def _mesh_extent(index: int) -> tuple[float, float, float] | None:
    """Extent (x, y, z) of the mesh as the URDF scales it, or None for a broken mesh."""
    obj = shape_urdf(index).with_suffix(".obj")
    verts: list[list[float]] = []
    with obj.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(t) for t in line.split()[1:4]])
    if not verts:
        return None
    v = np.asarray(verts, dtype=float)
    if not np.all(np.isfinite(v)):
        return None
    ext = (v.max(axis=0) - v.min(axis=0)) * _URDF_MESH_SCALE
    return (float(ext[0]), float(ext[1]), float(ext[2]))


def is_usable_shape(index: int) -> bool:
    """True if the mesh is finite and not a sliver (see the module docstring)."""
    ext = _mesh_extent(index)
    if ext is None:
        return False
    return min(ext) >= _MIN_ASPECT * max(ext)


def eval_shapes() -> list[int]:
    """The held-out evaluation split: usable indices ``i % 10 == 0`` (never trained on)."""
    return [i for i in range(0, N_SHAPES, _EVAL_MODULUS) if is_usable_shape(i)]


def train_shapes() -> list[int]:
    """The training split: every other usable index."""
    return [i for i in range(N_SHAPES) if i % _EVAL_MODULUS != 0 and is_usable_shape(i)]


def shape_scale(index: int) -> float:
    """``globalScaling`` that keeps the shape within :data:`SHAPE_SIZE` and :data:`SHAPE_WIDTH`.

    Raises:
        ValueError: The shape is unusable (see :func:`is_usable_shape`).
    """
    ext = _mesh_extent(index)
    if ext is None or not is_usable_shape(index):
        raise ValueError(f"random_urdfs shape {index} is unusable (broken or degenerate mesh)")
    longest, middle = sorted(ext)[2], sorted(ext)[1]
    return min(SHAPE_SIZE / longest, SHAPE_WIDTH / middle)


def make_shape(
    client: Any, index: int, xy: tuple[float, float], yaw: float, rgb: tuple[float, ...]
) -> int:
    """Load shape ``index`` scaled (:func:`shape_scale`), coloured, resting on the table at ``xy``.

    The mesh keeps its own "up" and is turned by ``yaw``; it is lowered until its bounding box
    touches the table, and the world's settle steps let it come to rest.

    Returns:
        The body id.
    """
    scale = shape_scale(index)
    body = int(
        client.loadURDF(
            str(shape_urdf(index)),
            basePosition=[xy[0], xy[1], TABLE_Z + SHAPE_SIZE],
            baseOrientation=client.getQuaternionFromEuler([0.0, 0.0, yaw]),
            globalScaling=scale,
        )
    )
    # Centre the bounding box on xy and put its bottom 1 mm above the table.
    lo, hi = (np.asarray(v, dtype=float) for v in client.getAABB(body))
    pos, orn = client.getBasePositionAndOrientation(body)
    shift = np.array(
        [xy[0] - (lo[0] + hi[0]) / 2, xy[1] - (lo[1] + hi[1]) / 2, TABLE_Z + 0.001 - lo[2]]
    )
    client.resetBasePositionAndOrientation(body, (np.asarray(pos) + shift).tolist(), orn)
    client.changeVisualShape(body, -1, rgbaColor=[*rgb, 1.0])
    # Same friction as the blocks (finger x object >= 1 keeps grasps reliable, sim-notes 2).
    client.changeDynamics(
        body,
        -1,
        mass=SHAPE_MASS,
        lateralFriction=1.0,
        spinningFriction=0.001,
        rollingFriction=1e-4,
    )
    return body
