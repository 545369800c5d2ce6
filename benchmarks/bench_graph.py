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

from policywright.agent._rehearse import TwinStore
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
    def run(self, code: str, host: Any, *, seed: int = 0) -> ExecReport:
        return ExecReport(status="ok", message="")


@dataclass
class FakeVerifier:
    """Fails the first ``fail_first`` verdicts of each task, then succeeds."""

    fail_first: int = 0
    name: str = "fake"
    calls: int = 0

    def verify(self, command: str, program: Program, *, label: str = "") -> dict[str, Any]:
        self.calls += 1
        ok = self.calls > self.fail_first
        return {"success": ok, "reason": "fake", "source": "fake"}


def bench(
    loops: int,
    checkpointer_kind: str,
    attempts: int = 1,
    sync: str = "normal",
    rehearse: bool = False,
) -> list[float]:
    tmp = Path(tempfile.mkdtemp())
    saver = (
        open_checkpointer(tmp / "ck.sqlite", synchronous=sync)  # type: ignore[arg-type]
        if checkpointer_kind == "sqlite"
        else None
    )
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
        verifier=FakeVerifier(),
        snapshot_dir=tmp / "worlds",
        twins=TwinStore(factory=None),
    )
    times = []
    for i in range(loops + 3):
        cfg = {"configurable": {"thread_id": f"t{i}"}, "recursion_limit": recursion_limit(3)}
        t0 = time.perf_counter()
        ctx.verifier = FakeVerifier(fail_first=attempts - 1)
        kwargs: dict[str, Any] = {"context": ctx}
        if saver is not None:
            kwargs["durability"] = "sync"
        inputs = {
            "command": "x",
            "thread_id": f"t{i}",
            "max_attempts": attempts,
            # The rehearse node's own cost (a step and a checkpoint); the twin's run is physics
            # and the sandbox, measured in bench_twin.py and the evaluations.
            "rehearse": rehearse,
        }
        out = graph.invoke(inputs, cfg, **kwargs)
        dt = time.perf_counter() - t0
        assert out["status"] == "succeeded", out
        if i >= 3:  # warm-up
            times.append(dt)
    return times


LABELS = {"none": "none", "memory": "InMemorySaver", "sqlite": "SqliteSaver durability=sync"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=50)
    args = ap.parse_args()
    print("One task = observe, plan, check, execute, verify, done (7 checkpoints).")
    print("One re-plan loop = plan, check, execute, verify again: (T(3 attempts) - T(1)) / 2.")
    print(f"{'checkpointer':<34}{'ms per task':>12}{'ms per loop':>12}")
    rows = [("none", "normal"), ("memory", "normal"), ("sqlite", "full"), ("sqlite", "normal")]
    for kind, sync in rows:
        one = statistics.median(bench(args.loops, kind, 1, sync))
        three = statistics.median(bench(args.loops, kind, 3, sync))
        label = LABELS[kind] + (f" ({sync})" if kind == "sqlite" else "")
        print(f"{label:<34}{one * 1e3:>12.2f}{(three - one) / 2 * 1e3:>12.2f}")
    one = statistics.median(bench(args.loops, "sqlite", 1, "normal", rehearse=True))
    three = statistics.median(bench(args.loops, "sqlite", 3, "normal", rehearse=True))
    label = "SqliteSaver (normal) + rehearse"
    print(f"{label:<34}{one * 1e3:>12.2f}{(three - one) / 2 * 1e3:>12.2f}")


if __name__ == "__main__":
    main()
