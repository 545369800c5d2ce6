"""Graph overhead per loop, excluding the planner and physics.

One loop = observe -> plan -> check -> execute -> verify -> done for one command. The world,
planner, sandbox and verifier are replaced by instant fakes so that what remains is LangGraph,
the checkpointer (SqliteSaver, durability="sync", on a file) and our node code, including the
real static check of a typical program.

    python benchmarks/bench_graph.py [--loops 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywright.agent.graph import (
    EngineContext,
    compile_graph,
    open_checkpointer,
    recursion_limit,
)
from policywright.agent.planner import PlanContext, Program
from policywright.agent.sandbox import ExecReport
from policywright.primitives import PrimitiveContext, default_registry

CODE = """\
blocks = [n for n in get_obj_names() if "block" in n]
bowls = [n for n in get_obj_names() if "bowl" in n]
for block in blocks:
    colour = block.split(" ")[0]
    target = colour + " bowl"
    if target in bowls:
        put_first_on_second(block, target)
say("done")
"""
CHECK = 'verdict(is_on("red block", "blue bowl"), "red block in blue bowl")\n'


@dataclass
class FakeDetection:
    name: str
    kind: str
    color: str
    position: tuple[float, float, float]


@dataclass
class FakeWorld:
    sim_time: float = 0.0
    objects: dict[str, FakeDetection] = field(
        default_factory=lambda: {
            "red block": FakeDetection("red block", "block", "red", (0.5, 0.1, 0.645)),
            "blue bowl": FakeDetection("blue bowl", "bowl", "blue", (0.5, -0.1, 0.63)),
        }
    )

    def detect(self) -> dict[str, FakeDetection]:
        return self.objects

    def save_state(self, path: Path) -> None:
        Path(path).write_bytes(b"snapshot")


class FakePlanner:
    name = "fake"

    def write(self, ctx: PlanContext) -> Program:
        return Program(code=CODE, check_code=CHECK, provenance="fake")


class FakeSandbox:
    def run(self, code: str, host: Any) -> ExecReport:
        return ExecReport(status="ok", message="")


class FakeVerifier:
    name = "fake"

    def verify(self, command: str, program: Program) -> dict[str, Any]:
        return {"success": True, "reason": "fake", "source": "fake"}


def bench(loops: int, checkpointer_kind: str) -> list[float]:
    tmp = Path(tempfile.mkdtemp())
    saver = open_checkpointer(tmp / "ck.sqlite") if checkpointer_kind == "sqlite" else None
    if checkpointer_kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        saver = InMemorySaver()
    graph = compile_graph(saver)
    world = FakeWorld()
    ctx = EngineContext(
        world=world,  # type: ignore[arg-type]
        planner=FakePlanner(),
        sandbox=FakeSandbox(),  # type: ignore[arg-type]
        registry=default_registry(),
        prim=PrimitiveContext(world=world),  # type: ignore[arg-type]
        verifier=FakeVerifier(),  # type: ignore[arg-type]
        snapshot_dir=tmp / "worlds",
    )
    times = []
    for i in range(loops + 3):
        cfg = {"configurable": {"thread_id": f"t{i}"}, "recursion_limit": recursion_limit(3)}
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {"context": ctx}
        if saver is not None:
            kwargs["durability"] = "sync"
        out = graph.invoke({"command": "x", "thread_id": f"t{i}", "max_attempts": 3}, cfg, **kwargs)
        dt = time.perf_counter() - t0
        assert out["status"] == "succeeded", out
        if i >= 3:  # warm-up
            times.append(dt)
    return times


LABELS = {"none": "none", "memory": "InMemorySaver", "sqlite": "SqliteSaver sync (file)"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=50)
    args = ap.parse_args()
    print(f"{'checkpointer':<28}{'median ms/loop':>16}{'p90 ms':>10}")
    for kind in ("none", "memory", "sqlite"):
        t = sorted(bench(args.loops, kind))
        label = LABELS[kind]
        print(f"{label:<28}{statistics.median(t) * 1e3:>16.2f}{t[int(0.9 * len(t))] * 1e3:>10.2f}")


if __name__ == "__main__":
    main()
