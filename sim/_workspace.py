"""Workspace frame, named locations and normalised-coordinate helpers (docs/internals.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

import numpy as np

__all__ = [
    "CORNERS",
    "LOCATIONS",
    "SIDES",
    "TABLE_Z",
    "WORKSPACE",
    "denormalize_xy",
    "nearest_corner",
    "nearest_side",
    "normalize_xy",
]

#: Height of the table top in the world frame (metres).
TABLE_Z: Final[float] = 0.625

#: The named-location frame: ``x_min, y_min, x_max, y_max`` (metres, world frame).
WORKSPACE: Final[tuple[float, float, float, float]] = (0.35, -0.28, 0.70, 0.28)

_X0, _Y0, _X1, _Y1 = WORKSPACE
_XM, _YM = (_X0 + _X1) / 2, (_Y0 + _Y1) / 2

#: Corner names -> xy.  "top" is the far side (large x), "left" the robot's left (large y).
CORNERS: Final = MappingProxyType(
    {
        "top left corner": (_X1, _Y1),
        "top right corner": (_X1, _Y0),
        "bottom left corner": (_X0, _Y1),
        "bottom right corner": (_X0, _Y0),
    }
)

#: Side names -> xy (the middle of each workspace edge).
SIDES: Final = MappingProxyType(
    {
        "top side": (_X1, _YM),
        "bottom side": (_X0, _YM),
        "left side": (_XM, _Y1),
        "right side": (_XM, _Y0),
    }
)

#: Every named location -> xy: corners, sides and "middle".
LOCATIONS: Final = MappingProxyType({**CORNERS, **SIDES, "middle": (_XM, _YM)})


def _as_xy(pos: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(pos, dtype=float).reshape(-1)
    if arr.shape[0] < 2 or not np.all(np.isfinite(arr[:2])):
        raise ValueError(f"expected a finite (x, y) position, got {pos!r}")
    return arr[:2]


def denormalize_xy(pos: Sequence[float] | np.ndarray) -> np.ndarray:
    """Map normalised workspace coordinates to world xy.

    Args:
        pos: ``(u, v)`` with u left->right and v bottom->top, both in [0, 1].

    Returns:
        The world ``(x, y)``: (0, 0) is the bottom left corner, (1, 1) the top right corner.
    """
    u, v = _as_xy(pos)
    return np.array([_X0 + v * (_X1 - _X0), _Y1 - u * (_Y1 - _Y0)])


def normalize_xy(pos: Sequence[float] | np.ndarray) -> np.ndarray:
    """Map world xy to normalised workspace coordinates (the inverse of :func:`denormalize_xy`).

    Args:
        pos: World ``(x, y)`` (extra components such as z are ignored).

    Returns:
        ``(u, v)``; inside the workspace both lie in [0, 1].
    """
    x, y = _as_xy(pos)
    return np.array([(_Y1 - y) / (_Y1 - _Y0), (x - _X0) / (_X1 - _X0)])


def _nearest(pos: Sequence[float] | np.ndarray, table: Mapping[str, tuple[float, float]]) -> str:
    x, y = _as_xy(pos)
    # Ties resolve by insertion order, which keeps the answer deterministic.
    return str(min(table, key=lambda name: math.hypot(table[name][0] - x, table[name][1] - y)))


def nearest_corner(pos: Sequence[float] | np.ndarray) -> str:
    """Name the workspace corner nearest to a world xy position."""
    return _nearest(pos, CORNERS)


def nearest_side(pos: Sequence[float] | np.ndarray) -> str:
    """Name the workspace side (edge midpoint) nearest to a world xy position."""
    return _nearest(pos, SIDES)
