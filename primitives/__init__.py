"""The primitive API: ``@primitive``, the registry, and the built-in primitives.

The built-ins come for each world: tabletop (``builtin``), floor (``locomotion``) and mobile
(``mobile``); a primitive says where it works with ``@primitive(worlds=...)``.

Register your own primitive by decorating a typed, documented function and exposing it through
the ``policywright.primitives`` entry point (see the README, "Add a primitive").
"""

from policywright.primitives._check import PrimitiveCheckError, check_primitive
from policywright.primitives._context import PrimitiveContext
from policywright.primitives._recovery import safe_stop
from policywright.primitives._registry import (
    ArrayReturn,
    ParamSpec,
    PrimitiveSpec,
    Registry,
    has_non_finite,
    primitive,
)
from policywright.primitives._types import XY, XYZ, Points, Target

__all__ = [
    "XY",
    "XYZ",
    "ArrayReturn",
    "ParamSpec",
    "Points",
    "PrimitiveCheckError",
    "PrimitiveContext",
    "PrimitiveSpec",
    "Registry",
    "Target",
    "check_primitive",
    "default_registry",
    "has_non_finite",
    "primitive",
    "resolve_target_xy",
    "safe_stop",
]


def resolve_target_xy(ctx: PrimitiveContext, target: str | list[float]) -> list[float]:
    """The xy a placing primitive aims at for ``target`` (object name, location name or xy)."""
    from policywright.primitives.builtin import resolve_target_xy as _resolve

    return _resolve(ctx, target)


def default_registry() -> Registry:
    """The registry of every installed primitive (the built-ins plus entry-point plugins)."""
    return Registry.from_entry_points()
