"""Scene description: object specs, colours, YAML I/O and seeded scene sampling."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, Self

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policywright.sim._workspace import LOCATIONS, WORKSPACE

__all__ = [
    "BLOCK_SIZE",
    "BOWL_RADIUS",
    "COLORS",
    "ObjectSpec",
    "SceneSpec",
    "sample_scene",
]

#: The ten Code-as-Policies colours, RGB in [0, 1].
COLORS: Final = MappingProxyType(
    {
        name: (r / 255.0, g / 255.0, b / 255.0)
        for name, (r, g, b) in {
            "blue": (78, 121, 167),
            "red": (255, 87, 89),
            "green": (89, 169, 79),
            "orange": (242, 142, 43),
            "yellow": (237, 201, 72),
            "purple": (176, 122, 161),
            "pink": (255, 157, 167),
            "cyan": (118, 183, 178),
            "brown": (156, 117, 95),
            "gray": (186, 176, 172),
        }.items()
    }
)

#: Edge length of a block (metres).
BLOCK_SIZE: Final[float] = 0.04
#: Outer radius of a bowl (metres).
BOWL_RADIUS: Final[float] = 0.075

Kind = Literal["block", "bowl", "shape"]

# Clearances between object centres when sampling; bowls need room for the fingers around them.
_MIN_BLOCK_BLOCK: Final[float] = 0.08
_MIN_BOWL_ANY: Final[float] = BOWL_RADIUS + 0.07
_MIN_BOWL_BOWL: Final[float] = 2 * BOWL_RADIUS + 0.03
_MIN_LOCATION: Final[float] = 0.08
# A block placed at a named location must not land on a bowl's rim.
_MIN_LOCATION_BOWL: Final[float] = BOWL_RADIUS + 0.03
# The sampling region is inset so that objects (and the fingers around them) stay inside.
_SAMPLE_INSET: Final[float] = 0.02
_MAX_TRIES: Final[int] = 300
_RESTARTS: Final[int] = 40


def _check_color(color: str) -> str:
    if color not in COLORS:
        raise ValueError(f"unknown colour {color!r}; known colours: {', '.join(COLORS)}")
    return color


class ObjectSpec(BaseModel):
    """One object of a scene.

    Attributes:
        name: ``"<colour> <kind>"``, unique in the scene (``"<colour> <kind> 2"`` for a
            second object of the same colour and kind).
        kind: ``"block"`` (4 cm cube, graspable), ``"bowl"`` (static) or ``"shape"`` (an odd
            graspable object from ``pybullet_data/random_urdfs``, see ``policywright.sim._shapes``).
        color: One of :data:`COLORS`.
        position: World xy of the object's centre, inside the workspace; None lets the world
            builder refuse (a scene must be placed before it is built, see :func:`sample_scene`).
        yaw: Rotation about z (radians).
        urdf: For kind ``"shape"`` only (and required there): the ``random_urdfs`` index 0..999.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind
    color: str
    position: tuple[float, float] | None = None
    yaw: float = 0.0
    urdf: int | None = None

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        return _check_color(value)

    @field_validator("yaw")
    @classmethod
    def _finite_yaw(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"yaw must be finite, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        expected = f"{self.color} {self.kind}"
        # A second object of the same colour and kind is "<colour> <kind> 2" (up to 9).
        if self.name != expected and not (
            self.name.startswith(expected + " ")
            and self.name[len(expected) + 1 :] in "23456789"
            and len(self.name) == len(expected) + 2
        ):
            raise ValueError(
                f"object name {self.name!r} must be {expected!r} (colour + kind), or "
                f"'{expected} N' with N in 2..9 for another of the same colour"
            )
        if (self.kind == "shape") != (self.urdf is not None):
            raise ValueError(f"{self.name}: 'urdf' (a random_urdfs index) is set for shapes only")
        if self.urdf is not None and not 0 <= self.urdf < 1000:
            raise ValueError(f"{self.name}: urdf index must be in 0..999, got {self.urdf}")
        if self.position is not None:
            x, y = self.position
            x0, y0, x1, y1 = WORKSPACE
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError(f"{self.name}: position must be finite, got {self.position}")
            if not (x0 <= x <= x1 and y0 <= y <= y1):
                raise ValueError(
                    f"{self.name}: position ({x:.3f}, {y:.3f}) is outside the workspace "
                    f"x in [{x0}, {x1}], y in [{y0}, {y1}]"
                )
        return self


class SceneSpec(BaseModel):
    """A tabletop scene: the objects, the robot variant and the seed it was sampled from.

    Attributes:
        objects: The objects, names unique.
        panda_lite: Use the Panda with collision meshes as visuals (renders 2-4x faster).
        seed: The seed the scene was sampled from (None for hand-written scenes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    objects: list[ObjectSpec] = Field(default_factory=list)
    panda_lite: bool = True
    seed: int | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: set[str] = set()
        for obj in self.objects:
            if obj.name in seen:
                raise ValueError(f"duplicate object name {obj.name!r}; names must be unique")
            seen.add(obj.name)
        return self

    @property
    def names(self) -> list[str]:
        """Object names in spec order."""
        return [o.name for o in self.objects]

    def get(self, name: str) -> ObjectSpec:
        """Return the object called ``name``.

        Raises:
            KeyError: No such object.
        """
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise KeyError(name)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SceneSpec:
        """Load and validate a scene from a YAML file."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)

    def to_yaml(self, path: str | Path) -> None:
        """Write the scene as YAML (lists instead of tuples, so it stays safe_load-able)."""
        data = self.model_dump(mode="json")
        Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _parse_name(name: str) -> tuple[str, Kind]:
    parts = name.split()
    if len(parts) != 2 or parts[1] not in ("block", "bowl"):
        raise ValueError(f"object name {name!r} must be '<colour> block' or '<colour> bowl'")
    color = _check_color(parts[0])
    kind: Kind = "block" if parts[1] == "block" else "bowl"
    return color, kind


def _choose_colors(
    rng: np.random.Generator,
    required_blocks: list[str],
    required_bowls: list[str],
    n_blocks: int,
    n_bowls: int,
) -> tuple[list[str], list[str]]:
    palette = list(COLORS)
    blocks = list(required_blocks)
    bowls = list(required_bowls)
    n_blocks = max(n_blocks, len(blocks))
    n_bowls = max(n_bowls, len(bowls))

    def pick(pool: list[str], exclude: list[str]) -> str:
        choices = [c for c in pool if c not in exclude]
        return choices[int(rng.integers(len(choices)))]

    while len(blocks) < n_blocks:
        blocks.append(pick(palette, blocks))
    # Matching colours make "put the blocks in the bowls with matching colours" meaningful.
    want_overlap = min(2, n_blocks, n_bowls)
    while len(bowls) < n_bowls and len(set(bowls) & set(blocks)) < want_overlap:
        candidates = [c for c in blocks if c not in bowls]
        if not candidates:
            break
        bowls.append(candidates[int(rng.integers(len(candidates)))])
    while len(bowls) < n_bowls:
        bowls.append(pick(palette, bowls))
    return blocks, bowls


def sample_scene(
    seed: int,
    required: Sequence[str] = (),
    n_blocks: int = 3,
    n_bowls: int = 3,
) -> SceneSpec:
    """Sample a random scene; the same arguments always give the same scene.

    Args:
        seed: Seed for ``numpy.random.default_rng``.
        required: Object names that must be present (e.g. ``"red block"``).
        n_blocks: Blocks in total (raised if ``required`` names more).
        n_bowls: Bowls in total (raised if ``required`` names more).

    Returns:
        A placed scene with clearance between objects and from every named location.

    Raises:
        ValueError: A required name is malformed or repeated, or the objects cannot be fitted.
    """
    if n_blocks < 0 or n_bowls < 0:
        raise ValueError("n_blocks and n_bowls must be >= 0")
    if len(set(required)) != len(required):
        raise ValueError(f"required names repeat: {list(required)}")
    req_blocks: list[str] = []
    req_bowls: list[str] = []
    for name in required:
        color, kind = _parse_name(name)
        (req_blocks if kind == "block" else req_bowls).append(color)
    if max(n_blocks, len(req_blocks)) > len(COLORS) or max(n_bowls, len(req_bowls)) > len(COLORS):
        raise ValueError(f"at most {len(COLORS)} blocks and {len(COLORS)} bowls (one per colour)")

    rng = np.random.default_rng(seed)
    blocks, bowls = _choose_colors(rng, req_blocks, req_bowls, n_blocks, n_bowls)

    x0, y0, x1, y1 = WORKSPACE
    inset_bowl = BOWL_RADIUS + _SAMPLE_INSET - 0.05  # bowls may reach a little past the frame
    inset_block = _SAMPLE_INSET
    locations = np.array(list(LOCATIONS.values()))
    placed: list[tuple[str, np.ndarray]] = []

    def fits(kind: Kind, xy: np.ndarray) -> bool:
        need_loc = _MIN_LOCATION_BOWL if kind == "bowl" else _MIN_LOCATION
        if np.min(np.linalg.norm(locations - xy, axis=1)) < need_loc:
            return False
        for other_kind, other in placed:
            dist = float(np.linalg.norm(other - xy))
            if kind == "bowl" and other_kind == "bowl":
                need = _MIN_BOWL_BOWL
            elif "bowl" in (kind, other_kind):
                need = _MIN_BOWL_ANY
            else:
                need = _MIN_BLOCK_BLOCK
            if dist < need:
                return False
        return True

    # Bowls first: they are the largest, so they are the hardest to fit late.
    order: list[tuple[str, Kind]] = [(c, "bowl") for c in bowls] + [(c, "block") for c in blocks]
    objects: list[ObjectSpec] = []
    # Greedy placement can paint itself into a corner; restarting (same rng stream) keeps the
    # result deterministic while making dense scenes feasible.
    for _restart in range(_RESTARTS):
        placed.clear()
        objects.clear()
        for color, kind in order:
            inset = inset_bowl if kind == "bowl" else inset_block
            for _ in range(_MAX_TRIES):
                # Round first so the stored (rounded) position is the one that was checked.
                xy = np.round(
                    [rng.uniform(x0 + inset, x1 - inset), rng.uniform(y0 + inset, y1 - inset)], 4
                )
                if fits(kind, xy):
                    break
            else:
                break
            placed.append((kind, xy))
            yaw = float(rng.uniform(-math.pi / 4, math.pi / 4)) if kind == "block" else 0.0
            objects.append(
                ObjectSpec(
                    name=f"{color} {kind}",
                    kind=kind,
                    color=color,
                    position=(float(xy[0]), float(xy[1])),
                    yaw=round(yaw, 4),
                )
            )
        if len(objects) == len(order):
            break
    else:
        raise ValueError(
            f"cannot fit {len(blocks)} blocks and {len(bowls)} bowls into the workspace "
            f"with the required clearances (seed {seed}); ask for fewer objects"
        )
    return SceneSpec(objects=objects, seed=seed)
