from __future__ import annotations

import pytest

from policywright.agent.planner import OfflinePlanner, ProgramMemory, SceneObject

TABLE_Z = 0.625


def obj(name: str, x: float, y: float) -> SceneObject:
    colour, kind = name.split(" ")
    assert kind in ("block", "bowl")
    return SceneObject(name=name, kind=kind, color=colour, position=(x, y, TABLE_Z + 0.02))  # type: ignore[arg-type]


@pytest.fixture
def scene() -> list[SceneObject]:
    # Blocks and bowls 15+ cm apart, none on a named location, so no check passes before acting.
    return [
        obj("red block", 0.45, 0.15),
        obj("blue block", 0.60, 0.00),
        obj("green block", 0.45, -0.15),
        obj("red bowl", 0.62, 0.18),
        obj("blue bowl", 0.45, 0.00),
        obj("yellow bowl", 0.62, -0.18),
    ]


@pytest.fixture
def memory() -> ProgramMemory:
    return ProgramMemory(":memory:")


@pytest.fixture
def planner(memory: ProgramMemory) -> OfflinePlanner:
    return OfflinePlanner(memory)
