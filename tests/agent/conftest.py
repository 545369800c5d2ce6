from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from policywright.agent.planner import PlanContext, Program


@dataclass
class ScriptedPlanner:
    """A planner that returns prepared programs in order (the last one repeats)."""

    programs: list[Program]
    name: str = "scripted"
    seen: list[PlanContext] = field(default_factory=list)

    def write(self, ctx: PlanContext) -> Program:
        self.seen.append(ctx)
        return self.programs[min(len(self.seen) - 1, len(self.programs) - 1)]


def prog(code: str, check: str = 'verdict(True, "scripted")\n') -> Program:
    return Program(code=code, check_code=check, provenance="scripted")


@pytest.fixture(scope="module")
def tabletop() -> Iterator[object]:
    from policywright.sim import TabletopWorld, sample_scene

    spec = sample_scene(0, required=["red block", "blue bowl"], n_blocks=3, n_bowls=3)
    with TabletopWorld(spec) as world:
        yield world


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[object]:
    from policywright.agent.sandbox import Sandbox, SandboxLimits

    with Sandbox(SandboxLimits(wall_seconds=3.0, cpu_seconds=5, memory_mb=512)) as sb:
        yield sb
