"""The built-in worlds, registered as :class:`WorldSpec` (tabletop, floor, mobile).

Each factory builds its world from a command, a seed and the engine settings; each resumer
rebuilds it from the spec a snapshot's sidecar holds. The tabletop world is the only one that
reads the command: its sampled scene holds every object the command mentions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from policywright.errors import UserError
from policywright.sim._floor import FloorSpec, FloorWorld, sample_floor
from policywright.sim._mobile import MobileSpec, MobileWorld, sample_mobile
from policywright.sim._registry import WorldRegistry, WorldSpec
from policywright.sim._scene import COLORS, SceneSpec, sample_scene
from policywright.sim._world import TabletopWorld

if TYPE_CHECKING:
    # Types only: the config module sits above the agent layer, which sits above sim.
    from policywright.config import EngineConfig

__all__ = ["WORLD_SPECS", "default_world_registry", "mentioned_objects", "scene_for_command"]

_MENTION = re.compile(r"\b(" + "|".join(COLORS) + r")\s+(block|bowl)s?\b", re.IGNORECASE)


def mentioned_objects(command: str) -> list[str]:
    """Object names a command mentions ("red block", "blue bowl"), in order, once each."""
    seen: list[str] = []
    for colour, kind in _MENTION.findall(command):
        name = f"{colour.lower()} {kind.lower()}"
        if name not in seen:
            seen.append(name)
    return seen


def scene_for_command(
    command: str,
    *,
    seed: int = 0,
    objects: Sequence[str] | None = None,
    scene_file: Path | None = None,
) -> SceneSpec:
    """The scene to run a command in.

    A scene file wins; else an explicit object list; else a sampled scene holding every object
    the command mentions plus distractors, so that a first command just works.

    Raises:
        UserError: the file or the object list is invalid.
    """
    if scene_file is not None:
        import pydantic
        import yaml

        try:
            return SceneSpec.from_yaml(scene_file)
        except yaml.YAMLError as exc:
            # One line naming the file and the line, not the parser's traceback.
            mark = getattr(exc, "problem_mark", None)
            where = f"{scene_file}:{mark.line + 1}" if mark is not None else str(scene_file)
            what = str(getattr(exc, "problem", None) or exc).strip()
            context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context and start is not None:
                what += f" ({context} started at line {start.line + 1})"
            raise UserError(f"{where}: not valid YAML: {what}") from exc
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'scene'}: {e['msg']}" for e in exc.errors()
            )
            raise UserError(f"{scene_file}: not a valid scene: {problems}") from exc
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load scene file {str(scene_file)!r}: {exc}") from exc
    required = list(objects) if objects else mentioned_objects(command)
    names = [" ".join(n.lower().split()) for n in required]
    for name in names:
        parts = name.split()
        if len(parts) != 2 or parts[0] not in COLORS or parts[1] not in ("block", "bowl"):
            raise UserError(
                f"unknown object {name!r}: objects are '<colour> block' or '<colour> bowl' "
                f"with a colour from {', '.join(COLORS)}"
            )
    n_blocks = max(3, sum(n.endswith("block") for n in names)) if not objects else 0
    n_bowls = max(3, sum(n.endswith("bowl") for n in names)) if not objects else 0
    try:
        return sample_scene(seed, required=names, n_blocks=n_blocks, n_bowls=n_bowls)
    except ValueError as exc:
        raise UserError(f"cannot build a scene: {exc}") from exc


def make_tabletop(
    command: str,
    *,
    seed: int,
    objects: Sequence[str] | None,
    scene_file: Path | None,
    gui: bool,
    config: EngineConfig | None,
) -> TabletopWorld:
    """A Panda on a table, with the objects the command mentions (or ``objects``, or a file)."""
    spec = scene_for_command(command, seed=seed, objects=objects, scene_file=scene_file)
    safety = config.safety if config is not None else None
    return TabletopWorld(spec, gui=gui, safety=safety)


def resume_tabletop(
    spec: Mapping[str, Any], *, gui: bool, config: EngineConfig | None
) -> TabletopWorld:
    """The tabletop world a snapshot was taken in."""
    safety = config.safety if config is not None else None
    return TabletopWorld(SceneSpec.model_validate(spec), gui=gui, safety=safety)


def make_floor(
    command: str,
    *,
    seed: int,
    objects: Sequence[str] | None,
    scene_file: Path | None,
    gui: bool,
    config: EngineConfig | None,
) -> FloorWorld:
    """An A1 quadruped on a floor with landmarks sampled from the seed."""
    return FloorWorld(sample_floor(seed), gui=gui)


def resume_floor(spec: Mapping[str, Any], *, gui: bool, config: EngineConfig | None) -> FloorWorld:
    """The floor world a snapshot was taken in."""
    return FloorWorld(FloorSpec.model_validate(spec), gui=gui)


def make_mobile(
    command: str,
    *,
    seed: int,
    objects: Sequence[str] | None,
    scene_file: Path | None,
    gui: bool,
    config: EngineConfig | None,
) -> MobileWorld:
    """A Panda on a Husky base, with tables and blocks sampled from the seed."""
    return MobileWorld(sample_mobile(seed), gui=gui)


def resume_mobile(
    spec: Mapping[str, Any], *, gui: bool, config: EngineConfig | None
) -> MobileWorld:
    """The mobile world a snapshot was taken in."""
    return MobileWorld(MobileSpec.model_validate(spec), gui=gui)


#: The built-in worlds, in the order listings show them (also the ``policywright.worlds``
#: entry point ``builtin``).
WORLD_SPECS: Final[tuple[WorldSpec, ...]] = (
    WorldSpec(
        id="tabletop",
        entry_point=make_tabletop,
        resume=resume_tabletop,
        skills=("grasp", "place", "path", "move"),
        summary="a Panda arm on a table with blocks and bowls",
        takes_objects=True,
    ),
    WorldSpec(
        id="floor",
        entry_point=make_floor,
        resume=resume_floor,
        skills=("locomotion",),
        summary="an A1 quadruped on a floor with landmarks",
    ),
    WorldSpec(
        id="mobile",
        entry_point=make_mobile,
        resume=resume_mobile,
        skills=("drive", "fetch"),
        summary="a Panda arm on a Husky base, with tables and blocks",
    ),
)


@functools.cache
def default_world_registry() -> WorldRegistry:
    """The registry of every installed world: the built-ins, then the entry points' worlds.

    Built once per process; a broken plugin is skipped (see :class:`WorldRegistry`).
    """
    return WorldRegistry.from_entry_points(builtins=WORLD_SPECS)
