"""The ``example/tray`` world: a small tabletop (two blocks and one bowl) from a seed.

It is a tabletop world (its ``kind``), so every tabletop primitive and skill works in it and its
snapshots resume as tabletop ones; what it adds is its own scene. Build it like any world::

    policywright run "put the blocks in the bowl" --world example/tray
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from policywright.sim import TabletopWorld, sample_scene
from policywright.worlds import WorldSpec

__all__ = ["WORLD_SPECS", "make_tray"]


def make_tray(
    command: str,
    *,
    seed: int,
    objects: Sequence[str] | None,
    scene_file: Path | None,
    gui: bool,
    config: Any,
) -> TabletopWorld:
    """Two blocks and one bowl, placed from ``seed`` (the command does not change the scene)."""
    spec = sample_scene(seed, n_blocks=2, n_bowls=1)
    return TabletopWorld(spec, gui=gui, safety=config.safety if config is not None else None)


#: What the ``policywright.worlds`` entry point provides. The factory is named by a string, so
#: listing the worlds does not build (or import) anything of it.
WORLD_SPECS = [
    WorldSpec(
        id="example/tray",
        entry_point="policywright_example_ext._world:make_tray",
        kind="tabletop",
        skills=("grasp", "place"),
        summary="a small tabletop: two blocks and one bowl",
    )
]
