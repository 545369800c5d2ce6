"""The API listing a planner sees: the primitives plus what programs may use without import."""

from __future__ import annotations

from typing import Literal

from policywright.agent.sandbox import BUILTIN_NAMES, FACADE_MEMBERS
from policywright.primitives import Registry

__all__ = ["api_listing"]


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
