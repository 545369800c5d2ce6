"""Collects the usage of model calls made during one graph node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policywright.agent.llm import Usage

__all__ = ["UsageMeter"]


@dataclass
class UsageMeter:
    """A sink for per-call usage; a node takes what accumulated and puts it into state."""

    pending: Usage = field(default_factory=Usage)

    def add(self, usage: Usage) -> None:
        """Add one call's usage."""
        self.pending = self.pending + usage

    def take(self) -> dict[str, Any]:
        """What accumulated since the last take, as a plain dict ({} when nothing did)."""
        usage, self.pending = self.pending, Usage()
        return usage.model_dump() if usage.calls else {}
