"""Placing resolves its target from the view before the pick (a held object hides the scene)."""

from __future__ import annotations

import numpy as np
import pytest

from policywright.primitives import PrimitiveContext
from policywright.primitives import builtin as B

pytestmark = pytest.mark.sim


def test_repeated_pick_and_place_into_the_same_bowl_stays_centred():
    from policywright.sim import TabletopWorld, sample_scene

    spec = sample_scene(0, required=["red block", "blue bowl"], n_blocks=3, n_bowls=3)
    with TabletopWorld(spec) as world:
        ctx = PrimitiveContext(world=world)
        bowl = np.asarray(world.true_poses()["blue bowl"].position[:2])
        for _ in range(4):
            # Lifting the block out of the bowl hides part of the bowl from the top camera;
            # the place must still aim at the bowl's centre.
            B.put_first_on_second.func(ctx, "red block", "blue bowl")
            pose = world.true_poses()["red block"]
            assert np.linalg.norm(np.asarray(pose.position[:2]) - bowl) < 0.02
            assert abs(pose.orientation[3]) > 0.95  # upright: it did not tumble in
        assert ctx.before_pick is None  # cleared once the object is down
