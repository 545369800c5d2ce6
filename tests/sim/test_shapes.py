"""Odd shapes from random_urdfs: the split, the spec and perception of kind "shape"."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from policywright.sim import TABLE_Z, ObjectSpec, SceneSpec, TabletopWorld
from policywright.sim._shapes import (
    SHAPE_SIZE,
    eval_shapes,
    is_usable_shape,
    shape_scale,
    train_shapes,
)


def test_split_is_fixed_and_disjoint() -> None:
    held, train = eval_shapes(), train_shapes()
    assert held and all(i % 10 == 0 for i in held)
    assert not set(held) & set(train)
    assert len(held) + len(train) > 900
    # random_urdfs/168 has NaN vertices: unusable, in neither split.
    assert not is_usable_shape(168)
    with pytest.raises(ValueError, match="unusable"):
        shape_scale(168)


def test_spec_needs_urdf_for_shapes_only() -> None:
    ObjectSpec(name="red shape", kind="shape", color="red", position=(0.5, 0.0), urdf=10)
    with pytest.raises(ValidationError, match="urdf"):
        ObjectSpec(name="red shape", kind="shape", color="red", position=(0.5, 0.0))
    with pytest.raises(ValidationError, match="urdf"):
        ObjectSpec(name="red block", kind="block", color="red", position=(0.5, 0.0), urdf=3)
    with pytest.raises(ValidationError, match=r"0\.\.999"):
        ObjectSpec(name="red shape", kind="shape", color="red", position=(0.5, 0.0), urdf=1000)


@pytest.mark.sim
def test_shape_is_built_and_detected() -> None:
    spec = SceneSpec(
        objects=[
            ObjectSpec(
                name="green shape",
                kind="shape",
                color="green",
                position=(0.5, 0.05),
                yaw=0.7,
                urdf=20,
            ),
            ObjectSpec(name="red block", kind="block", color="red", position=(0.6, -0.1)),
        ]
    )
    with TabletopWorld(spec) as world:
        det = world.detect()
        assert set(det) == {"green shape", "red block"}
        shape = det["green shape"]
        assert shape.kind == "shape" and shape.color == "green"
        assert det["red block"].kind == "block"
        truth = world.true_poses()["green shape"].position
        # Resting on the table near where it was put; perception within 2 cm of its origin.
        assert math.hypot(shape.position[0] - 0.5, shape.position[1] - 0.05) < 0.02
        assert math.hypot(shape.position[0] - truth[0], shape.position[1] - truth[1]) < 0.02
        x0, y0, z0, x1, y1, _z1 = shape.bbox
        assert z0 == pytest.approx(TABLE_Z, abs=0.005)
        assert max(x1 - x0, y1 - y0) <= SHAPE_SIZE + 0.01
        pts = world.object_points("green shape")
        assert pts.shape[0] == shape.pixels_top and np.all(pts[:, 2] > TABLE_Z - 0.002)
        # It fits the open gripper (8 cm) when grasped across its narrowest direction.
        angles = np.linspace(0.0, math.pi, 36, endpoint=False)
        dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        proj = pts[:, :2] @ dirs.T
        assert float(np.min(proj.max(axis=0) - proj.min(axis=0))) < 0.08
