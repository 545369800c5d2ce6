"""The API listing a planner sees: the primitives plus what programs may use without import."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from policywright.agent.sandbox import BUILTIN_NAMES, FACADE_MEMBERS
from policywright.primitives import Registry

__all__ = ["ALWAYS_LISTED", "api_listing", "command_listing", "stable_listing"]


def api_listing(registry: Registry, mode: Literal["act", "check"] = "act") -> str:
    """Render the full listing for ``mode`` ("check": what verification programs may call).

    Generated from the registry (signatures and docstrings) and from the sandbox's allow-lists,
    so the listing cannot drift from what the sandbox accepts.

    Args:
        registry: the primitives.
        mode: "act" for task programs, "check" for check programs.

    Returns:
        The listing text.
    """
    if mode == "check":
        text = registry.listing(read_only=True)
    else:
        text = Registry(s for s in registry if s.category != "check").listing()
    lines = [text, "", "# available without import (curated; nothing else of these modules)"]
    for path in sorted(FACADE_MEMBERS):
        lines.append(f"{path}: {', '.join(sorted(FACADE_MEMBERS[path]))}")
    lines.append(f"builtins: {', '.join(sorted(BUILTIN_NAMES))}")
    return "\n".join(lines)


#: Primitives a compact prompt always lists in its stable prefix (perception and the
#: everyday actions): what nearly every tabletop program calls.
ALWAYS_LISTED: tuple[str, ...] = (
    "get_obj_names",
    "get_obj_pos",
    "get_obj_pos3d",
    "is_on",
    "put_first_on_second",
    "say",
)

# The facade members a compact prompt names (each is checked against FACADE_MEMBERS, so the
# prompt cannot offer what the sandbox refuses); the rest stay allowed, and a member that is
# not allowed is refused with a message that names it.
_BRIEF_MEMBERS: dict[str, tuple[str, ...]] = {
    "np": (
        "array", "asarray", "mean", "abs", "sqrt", "clip", "linspace", "arange", "zeros",
        "argmin", "argmax", "argsort", "min", "max", "sum", "cos", "sin", "arctan2", "pi",
    ),
    "np.linalg": ("norm",),
    "math": ("sqrt", "cos", "sin", "atan2", "pi", "hypot", "dist"),
}  # fmt: skip


def stable_listing(registry: Registry, names: Collection[str] = ALWAYS_LISTED) -> str:
    """The compact prompt's stable listing: ``names`` in full, and a brief allow-list.

    It depends only on the registry, never on the command, so every call's prompt starts
    with the same bytes and a server's prefix cache can skip their prefill.
    """
    specs = [s for s in registry if s.name in names and s.category != "check"]
    lines = ["\n\n".join(s.listing() for s in specs), "", "# also available without import"]
    for path, members in _BRIEF_MEMBERS.items():
        allowed = [m for m in members if m in FACADE_MEMBERS.get(path, frozenset())]
        lines.append(f"{path}: {', '.join(allowed)}, ...")
    lines.append("shapely: Point, LineString, Polygon, ...; builtins: len, range, enumerate, ...")
    return "\n".join(lines)


def command_listing(registry: Registry, names: Collection[str]) -> str:
    """The listing of the primitives ``names`` (a command's extras), in registry order."""
    specs = [s for s in registry if s.name in names and s.category != "check"]
    return "\n\n".join(s.listing() for s in specs)
