"""Many seeded pick-and-place trials: the scripted grasp must be dependable (>= 98/100)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np
import pytest

from policywright.sim import TABLE_Z, TabletopWorld, sample_scene
from policywright.skills import pick, place

pytestmark = [pytest.mark.sim, pytest.mark.slow]

log = logging.getLogger(__name__)
N_TRIALS = 100
REQUIRED = 98


@pytest.fixture(scope="module")
def world() -> Iterator[TabletopWorld]:
    with TabletopWorld(sample_scene(0)) as w:
        yield w


def _trial(world: TabletopWorld, seed: int, target_kind: str) -> tuple[bool, str]:
    spec = sample_scene(seed, n_blocks=3, n_bowls=3)
    world.reset(spec)
    rng = np.random.default_rng(10_000 + seed)
    blocks = [o.name for o in spec.objects if o.kind == "block"]
    bowls = [o.name for o in spec.objects if o.kind == "bowl"]
    block = blocks[int(rng.integers(len(blocks)))]
    if target_kind == "bowl":
        target = bowls[int(rng.integers(len(bowls)))]
    else:
        others = [b for b in blocks if b != block]
        target = others[int(rng.integers(len(others)))]
    det = world.detect()
    res = pick(world, det[block].position)
    if not res.ok:
        return False, f"pick: {res.message}"
    res = place(world, det[target].position[:2])
    if not res.ok:
        return False, f"place: {res.message}"
    truth = world.true_poses()
    b = np.asarray(truth[block].position)
    t = np.asarray(truth[target].position)
    dxy = math.hypot(b[0] - t[0], b[1] - t[1])
    # in a bowl: on its floor, not on the rim; on a block: one block height above it
    in_bowl = b[2] < TABLE_Z + 0.04
    on_block = abs((b[2] - t[2]) - 0.04) < 0.01
    resting = in_bowl if target_kind == "bowl" else on_block
    return dxy < 0.03 and resting, f"dxy={dxy * 1000:.1f} mm dz={(b[2] - t[2]) * 1000:.1f} mm"


@pytest.mark.parametrize("target_kind", ["bowl", "block"])
def test_grasp_trials(world: TabletopWorld, target_kind: str) -> None:
    failures = []
    for seed in range(N_TRIALS):
        ok, detail = _trial(world, seed, target_kind)
        if not ok:
            failures.append((seed, detail))
    successes = N_TRIALS - len(failures)
    log.warning(
        "block->%s: %d/%d succeeded; failures: %s", target_kind, successes, N_TRIALS, failures
    )
    assert successes >= REQUIRED, f"{successes}/{N_TRIALS} succeeded; failures: {failures}"
