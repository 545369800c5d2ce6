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
from policywright.sim import TabletopWorld, sample_scene

CASES = [
    # command, correction, goal: (object, target object, offset xy) or (object, other target)
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
        "put the green block in the red bowl",
        "a bit to the right",
        ("green block", "red bowl", (0, -0.02)),
    ),
    (
        "put the blue block on the red block",
        "put it in the other bowl",
        ("blue block", None, (0, 0)),
    ),
    (
        "put the red block on the bottom side",
        "a bit further back",
        ("red block", "bottom side", (0.02, 0)),
    ),
]


def _goal_met(world: TabletopWorld, goal: tuple, start_names: list[str]) -> bool:
    from policywright.sim import LOCATIONS

    obj, target, (dx, dy) = goal
    poses = world.true_poses()
    p = np.asarray(poses[obj].position[:2])
    if target is None:
        return True
    t = np.asarray(LOCATIONS[target] if target in LOCATIONS else poses[target].position[:2])
    return float(np.linalg.norm(p - (t + np.array([dx, dy])))) < 0.012


def main() -> None:
    rows = []
    for i, (command, correction, goal) in enumerate(CASES):
        names = [
            n
            for n in (
                "red block",
                "yellow block",
                "green block",
                "blue block",
                "blue bowl",
                "green bowl",
                "red bowl",
            )
            if n in command or n in correction or n in str(goal)
        ]
        names = sorted(set(names) | {"blue bowl", "green bowl"})
        spec = sample_scene(i, required=names, n_blocks=0, n_bowls=0)
        state = Path(tempfile.mkdtemp())
        with TabletopWorld(spec) as world, Engine(world, EngineConfig(state_dir=state)) as eng:
            first = eng.run(command)
            before = _goal_met(world, goal, names)
            fixed = eng.correct(first.thread_id, correction)
            after = _goal_met(world, goal, names) and fixed.status == "succeeded"
        with TabletopWorld(spec) as world, Engine(world, EngineConfig(state_dir=state)) as eng:
            again = eng.run(command)
            repeat = (
                _goal_met(world, goal, names)
                and again.status == "succeeded"
                and not again.corrections
            )
            prov = again.attempts[-1]["program"]["provenance"] if again.attempts else ""
        rows.append((command, correction, before, after, repeat, "lesson" in prov))
        print(
            f"{command!r:48} + {correction!r:28} goal before: {before!s:5} after: {after!s:5} "
            f"repeat without correction: {repeat!s:5} (lesson used: {'lesson' in prov})",
            flush=True,
        )
    print(
        f"fixed by one correction: {sum(r[3] for r in rows)}/{len(rows)}; "
        f"repeat met the goal with no correction: {sum(r[4] for r in rows)}/{len(rows)}"
    )


if __name__ == "__main__":
    main()
