"""Measure learning from corrections: one correction fixes a task; does the repeat need none?

Each case: a command, a person's hidden goal the offline plan misses, and the one correction that
fixes it. Run the command, correct it once, check the goal; then, in a fresh world from the same
scene and the same state folder, run the command again with no correction and check the goal.

    python benchmarks/learn_from_corrections.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import LOCATIONS, TabletopWorld, sample_scene

CASES = [
    # command, the one correction, the person's goal: (object, target, xy offset from target)
    (
        "put the red block in the blue bowl",
        "a bit more to the left",
        ("red block", "blue bowl", (0, 0.02)),
    ),
    (
        "put the red block in the blue bowl",
        "no, the green bowl",
        ("red block", "green bowl", (0, 0)),
    ),
    (
        "put the yellow block on the top left corner",
        "3 cm closer",
        ("yellow block", "top left corner", (-0.03, 0)),
    ),
    (
        "put the green block in the blue bowl",
        "a bit to the right",
        ("green block", "blue bowl", (0, -0.02)),
    ),
    (
        "put the yellow block in the green bowl",
        "put it in the other bowl",
        ("yellow block", "blue bowl", (0, 0)),
    ),
    (
        "put the red block on the bottom side",
        "a bit further back",
        ("red block", "bottom side", (0.02, 0)),
    ),
]
#: How close to the goal counts (the nudges are 2-3 cm: a looser bound could not tell them apart).
TOLERANCE_M = 0.012


def _goal_met(world: TabletopWorld, goal: tuple[str, str, tuple[float, float]]) -> bool:
    obj, target, (dx, dy) = goal
    poses = world.true_poses()
    p = np.asarray(poses[obj].position[:2])
    t = np.asarray(LOCATIONS[target] if target in LOCATIONS else poses[target].position[:2])
    return float(np.linalg.norm(p - (t + np.array([dx, dy])))) < TOLERANCE_M


def main() -> None:
    rows = []
    for i, (command, correction, goal) in enumerate(CASES):
        # The two bowls are always there, so "the other bowl" has exactly one answer.
        names = {goal[0], "blue bowl", "green bowl"}
        names |= {goal[1]} if goal[1] not in LOCATIONS else set()
        spec = sample_scene(i, required=sorted(names), n_blocks=0, n_bowls=0)
        state = Path(tempfile.mkdtemp())
        with TabletopWorld(spec) as world, Engine(world, EngineConfig(state_dir=state)) as eng:
            first = eng.run(command)
            before = _goal_met(world, goal)
            fixed = eng.correct(first.thread_id, correction)
            after = _goal_met(world, goal) and fixed.status == "succeeded"
        with TabletopWorld(spec) as world, Engine(world, EngineConfig(state_dir=state)) as eng:
            again = eng.run(command)
            repeat = _goal_met(world, goal) and again.status == "succeeded"
            repeat = repeat and not again.corrections
            prov = again.attempts[-1]["program"]["provenance"] if again.attempts else ""
        rows.append((before, after, repeat))
        print(
            f"{command!r:48} + {correction!r:28} goal met first: {before!s:5} "
            f"after one correction: {after!s:5} repeat, no correction: {repeat!s:5} "
            f"({prov.split(' ')[0]})",
            flush=True,
        )
    n = len(rows)
    print(
        f"first attempt met the goal: {sum(r[0] for r in rows)}/{n}; fixed by one correction: "
        f"{sum(r[1] for r in rows)}/{n}; repeat met it with no correction: "
        f"{sum(r[2] for r in rows)}/{n}"
    )


if __name__ == "__main__":
    main()
