"""The world registry, Gymnasium-style: ``register``, ``make``, ``spec`` and ``check_world``.

A package adds a world through the entry point group ``policywright.worlds``::

    [project.entry-points."policywright.worlds"]
    tray = "my_pkg:WORLD_SPECS"   # a WorldSpec or a list of them

or, in a script, with :func:`register` (the process's default registry)::

    from policywright.worlds import register, make

    register("my_pkg/tray", entry_point="my_pkg.worlds:make_tray", kind="tabletop")
    world = make("my_pkg/tray", "put the red block in the bowl", seed=3)

A world's factory receives the command, the seed, the object list and scene file (only for
worlds with ``takes_objects``), ``gui`` and the engine config; see :class:`WorldFactory`. Its
``kind`` selects the primitives and skills that apply (``@primitive(worlds=...)``,
``SkillInfo.world``); the built-in worlds are ``tabletop``, ``floor`` and ``mobile``.

The registry lives in :mod:`policywright.sim` (the bottom layer, so that the primitive, skill
and suite checks can read the world kinds); this module is its public face.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from policywright.sim import (
    World,
    WorldCheckError,
    WorldFactory,
    WorldRegistry,
    WorldResume,
    WorldSpec,
    check_world,
    default_world_registry,
)

if TYPE_CHECKING:
    from policywright.config import EngineConfig

__all__ = [
    "World",
    "WorldCheckError",
    "WorldFactory",
    "WorldRegistry",
    "WorldResume",
    "WorldSpec",
    "check_world",
    "default_world_registry",
    "make",
    "register",
    "spec",
    "world_ids",
]


def register(
    id: str,
    entry_point: WorldFactory | str,
    *,
    resume: WorldResume | str | None = None,
    kind: str = "",
    skills: Sequence[str] = (),
    summary: str = "",
    takes_objects: bool = False,
) -> WorldSpec:
    """Register a world in the process's default registry (see :class:`WorldSpec`).

    Args:
        id: The world's id (``"my_pkg/tray"``).
        entry_point: Its factory, or ``"module:attr"`` naming it.
        resume: Rebuilds it from a snapshot's spec, or None.
        kind: Its ``World.kind`` (default: the id).
        skills: The skill families its primitives run.
        summary: One line for listings.
        takes_objects: Whether it accepts ``objects`` and ``scene_file``.

    Returns:
        The registered spec.

    Raises:
        RegistrationError: a malformed id or kind, or the id is taken.
    """
    world = WorldSpec(
        id=id,
        entry_point=entry_point,
        resume=resume,
        kind=kind,
        skills=tuple(skills),
        summary=summary,
        takes_objects=takes_objects,
    )
    default_world_registry().add(world)
    return world


def spec(world_id: str) -> WorldSpec:
    """The registered world ``world_id``.

    Raises:
        UnknownNameError: no such world (the message suggests close ids).
    """
    return default_world_registry().get(world_id)


def world_ids() -> list[str]:
    """Every registered world id, the built-ins first."""
    return default_world_registry().ids()


def make(
    world_id: str,
    command: str = "",
    *,
    seed: int = 0,
    objects: Sequence[str] | None = None,
    scene_file: Path | None = None,
    gui: bool = False,
    config: EngineConfig | None = None,
) -> World:
    """Build the registered world ``world_id`` for ``command``.

    Raises:
        UnknownNameError: no such world.
        UserError: the scene cannot be built from these inputs.
    """
    return default_world_registry().make(
        world_id, command, seed=seed, objects=objects, scene_file=scene_file, gui=gui, config=config
    )
