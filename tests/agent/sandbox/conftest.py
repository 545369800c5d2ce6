from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from typing import Any

import pytest

from policywright.agent.sandbox import PrimitiveCallError, Sandbox, SandboxLimits
from policywright.errors import SafetyViolation


class FakeHost:
    """A tiny primitive API: a 2D point robot in the box [-1, 1]^2."""

    def __init__(self) -> None:
        self.pos = [0.0, 0.0]
        self.seen: list[tuple[str, list[Any], dict[str, Any], int | None]] = []

    def names(self) -> Collection[str]:
        return ["move", "get_pos", "fail", "noop", "broken"]

    def array_returning(self) -> Collection[str]:
        return ["get_pos"]

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        self.seen.append((name, args, kwargs, line))
        if name == "move":
            x, y = [*args, *(kwargs[k] for k in ("x", "y") if k in kwargs)]
            for v in (x, y):
                if not isinstance(v, int | float) or isinstance(v, bool):
                    raise PrimitiveCallError(f"move(): expected numbers, got {v!r}")
                if not math.isfinite(v):
                    raise SafetyViolation("non-finite", f"move() got a non-finite value {v!r}")
            if abs(x) > 1 or abs(y) > 1:
                raise SafetyViolation("workspace", f"({x}, {y}) is outside the box")
            self.pos = [float(x), float(y)]
            return None
        if name == "get_pos":
            return list(self.pos)
        if name == "fail":
            raise PrimitiveCallError("fail() always fails")
        if name == "broken":
            raise KeyError("a bug in the host")
        return None


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(SandboxLimits(wall_seconds=2.0, cpu_seconds=4)) as sandbox:
        yield sandbox
