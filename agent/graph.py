"""The task loop as a LangGraph state machine.

observe -> plan -> check -> execute -> verify -> done
              ^       |          |          |
              +-------+----------+----------+  feedback while attempts remain, else fail

Nodes read the world, planner, sandbox and registry from the run context; the state holds plain
data only. Progress goes out through the custom stream mode (``get_stream_writer``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from policywright.agent._usage import UsageMeter
from policywright.agent.host import RegistryHost
from policywright.agent.planner import PlanContext, Planner, Program, SceneObject, SessionTurn
from policywright.agent.sandbox import Sandbox, check_program
from policywright.agent.state import AttemptRecord, TaskState, VerdictRecord, add_usage
from policywright.agent.verify import Verifier
from policywright.errors import PolicywrightError
from policywright.primitives import PrimitiveContext, Registry, safe_stop

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from policywright.sim import World

__all__ = ["EngineContext", "build_graph", "compile_graph", "open_checkpointer"]

logger = logging.getLogger(__name__)

Writer = Callable[[dict[str, Any]], None]


@dataclass
class EngineContext:
    """Everything a node needs that is not state: handles, clients, the registry."""

    world: World
    planner: Planner
    sandbox: Sandbox
    registry: Registry
    prim: PrimitiveContext
    verifier: Verifier
    snapshot_dir: Path
    seed: int = 0
    meter: UsageMeter = field(default_factory=UsageMeter)


def _writer() -> Writer:
    try:
        return get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit tests of a node)
        return lambda _event: None


def _snapshot(ctx: EngineContext, state: TaskState, label: str) -> str:
    folder = ctx.snapshot_dir / state.get("thread_id", "default")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}.bullet"
    ctx.world.save_state(path)
    return str(path)


def observe(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Perceive the scene (cameras, not poses) and snapshot the world."""
    ctx = runtime.context
    ctx.prim.invalidate()
    scene = [
        SceneObject(
            name=d.name,
            kind=d.kind,
            color=d.color,
            position=(float(d.position[0]), float(d.position[1]), float(d.position[2])),
        ).model_dump(mode="json")
        for d in ctx.prim.detections().values()
    ]
    _writer()({"event": "scene", "objects": scene})
    snap = _snapshot(ctx, state, "initial")
    return {"scene": scene, "attempt": 0, "status": "running", "world_snapshots": [snap]}


def plan(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Ask the planner for a program (with the feedback of earlier attempts)."""
    ctx = runtime.context
    attempt = state.get("attempt", 0) + 1
    pctx = _plan_context(state, attempt)
    try:
        program = ctx.planner.write(pctx)
    except PolicywrightError as exc:
        usage = ctx.meter.take()
        _writer()({"event": "plan_failed", "attempt": attempt, "error": str(exc)})
        failed = AttemptRecord(attempt=attempt, outcome="failed", feedback=str(exc), usage=usage)
        if exc.actor == "llm" and attempt < state.get("max_attempts", 1):
            # A malformed reply (no code, truncated): the model gets another try with the
            # message as feedback, within the same attempt budget.
            feedback = f"your reply could not be used: {exc}"
            return {
                "attempt": attempt,
                "current": failed,
                "attempts": [failed],
                "feedback": [feedback],
                "usage": usage,
            }
        # The planner cannot act on this command: the user (or a stronger planner) must.
        return {
            "attempt": attempt,
            "status": "failed",
            "reason": str(exc),
            "actor": exc.actor,
            "attempts": [failed],
            "usage": usage,
        }
    usage = ctx.meter.take()
    event = {"event": "program", "attempt": attempt, **program.model_dump(mode="json")}
    if usage:
        event["usage"] = usage
    _writer()(event)
    record = AttemptRecord(attempt=attempt, program=program.model_dump(mode="json"), usage=usage)
    return {"attempt": attempt, "program": record["program"], "current": record, "usage": usage}


def _plan_context(state: TaskState, attempt: int) -> PlanContext:
    program = state.get("program", {}) if attempt > 1 else {}
    return PlanContext(
        command=state["command"],
        scene=[SceneObject.model_validate(o) for o in state.get("scene", [])],
        attempt=attempt,
        feedback=list(state.get("feedback", [])),
        history=[SessionTurn.model_validate(t) for t in state.get("history", [])],
        previous_program=program.get("code"),
        previous_check=program.get("check_code"),
    )


def check(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Static checks of the program and its check code, before any process starts."""
    ctx = runtime.context
    program = Program.model_validate(state["program"])
    act_names = RegistryHost(ctx.registry, ctx.prim, mode="act").names()
    check_names = RegistryHost(ctx.registry, ctx.prim, mode="check").names()
    reports = {
        "program": check_program(program.code, primitive_names=act_names),
        "check": check_program(program.check_code, primitive_names=check_names),
    }
    static = {k: r.model_dump(mode="json") for k, r in reports.items()}
    current = AttemptRecord(**state["current"], static=static)
    bad = [(k, v) for k, r in reports.items() if not r.ok for v in r.violations]
    if not bad:
        return {"current": current}
    lines = [f"{k} line {v.line}: [{v.rule}] {v.message}" for k, v in bad[:8]]
    feedback = "the program was refused by the static checks:\n" + "\n".join(lines)
    _writer()({"event": "refused", "attempt": state["attempt"], "violations": lines})
    current["outcome"], current["feedback"] = "refused", feedback
    return {"current": current, "attempts": [current], "feedback": [feedback]}


def execute(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Run the program in the sandbox; every primitive call is validated and safety-checked."""
    ctx = runtime.context
    write = _writer()
    program = Program.model_validate(state["program"])
    write({"event": "execute", "attempt": state["attempt"]})

    def on_call(event: dict[str, Any]) -> None:
        write({"event": "call", **event})

    ctx.prim.say_sink = lambda msg: write({"event": "say", "message": msg})
    host = RegistryHost(ctx.registry, ctx.prim, mode="act", on_call=on_call)
    report = ctx.sandbox.run(program.code, host, seed=ctx.seed)
    ctx.prim.invalidate()
    recovery = safe_stop(ctx.prim) if report.status != "ok" else ""
    if recovery:
        write({"event": "recovery", "attempt": state["attempt"], "actions": recovery})
    snap = _snapshot(ctx, state, f"attempt{state['attempt']}-executed")
    execution = report.model_dump(mode="json")
    current = AttemptRecord(**state["current"], execution=execution, world_snapshot=snap)
    if recovery:
        current["recovery"] = recovery
    write({"event": "executed", "attempt": state["attempt"], "report": execution})
    if report.status == "ok":
        return {"current": current, "world_snapshots": [snap]}
    where = f" at line {report.line}" if report.line else ""
    text = f": {report.source_line.strip()!r}" if report.source_line else ""
    kind = f"{report.error_type}: " if report.error_type else ""
    feedback = (
        f"the program ended with status '{report.status}'{where}{text}: {kind}{report.message}"
    )
    if report.rule:
        feedback += f" (rule {report.rule})"
    current["outcome"], current["feedback"] = report.status, feedback
    return {
        "current": current,
        "attempts": [current],
        "feedback": [feedback],
        "world_snapshots": [snap],
    }


def verify(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Ask the verifier whether the command was achieved."""
    ctx = runtime.context
    program = Program.model_validate(state["program"])
    label = f"{state.get('thread_id', 'task')}-attempt{state['attempt']}"
    verdict: VerdictRecord = ctx.verifier.verify(state["command"], program, label=label)
    usage = ctx.meter.take()
    _writer()({"event": "verdict", "attempt": state["attempt"], **verdict})
    current = AttemptRecord(**state["current"], verdict=verdict)
    if usage:
        current["usage"] = add_usage(current.get("usage"), usage)
    if verdict["success"]:
        current["outcome"] = "succeeded"
        record = getattr(ctx.planner, "record_success", None)
        if callable(record):
            try:
                record(_plan_context(state, state["attempt"]), program)
            except Exception:  # learning is best effort; the task itself succeeded
                logger.exception("the planner could not record a success")
        return {"current": current, "attempts": [current], "verdict": verdict, "usage": usage}
    feedback = f"the program ran but the command was not achieved: {verdict['reason']}"
    current["outcome"], current["feedback"] = "unverified", feedback
    return {
        "current": current,
        "attempts": [current],
        "verdict": verdict,
        "feedback": [feedback],
        "usage": usage,
    }


def done(state: TaskState) -> dict[str, Any]:
    """The command was achieved."""
    reason = state.get("verdict", {}).get("reason", "")
    _writer()({"event": "done", "status": "succeeded", "reason": reason})
    return {"status": "succeeded", "reason": reason, "actor": ""}


def fail(state: TaskState) -> dict[str, Any]:
    """The attempt budget is spent."""
    last = state.get("feedback", ["no attempt was made"])[-1]
    reason = f"gave up after {state.get('attempt', 0)} attempt(s); last: {last}"
    _writer()({"event": "done", "status": "failed", "reason": reason})
    return {"status": "failed", "reason": reason, "actor": "llm"}


def _retry_or_fail(state: TaskState) -> Literal["plan", "fail"]:
    return "plan" if state.get("attempt", 0) < state.get("max_attempts", 1) else "fail"


def _after_plan(state: TaskState) -> Literal["check", "plan", "fail", "__end__"]:
    if state.get("status") == "failed":
        return "__end__"
    if state.get("current", {}).get("outcome") == "failed":
        return _retry_or_fail(state)
    return "check"


def _after_check(state: TaskState) -> Literal["execute", "plan", "fail"]:
    return _retry_or_fail(state) if state["current"].get("outcome") else "execute"


def _after_execute(state: TaskState) -> Literal["verify", "plan", "fail"]:
    return _retry_or_fail(state) if state["current"].get("outcome") else "verify"


def _after_verify(state: TaskState) -> Literal["done", "plan", "fail"]:
    return "done" if state["current"].get("outcome") == "succeeded" else _retry_or_fail(state)


def build_graph() -> StateGraph[TaskState, EngineContext, TaskState, TaskState]:
    """The uncompiled graph (compile it with a checkpointer, or without for `langgraph dev`)."""
    g: StateGraph[TaskState, EngineContext, TaskState, TaskState] = StateGraph(
        TaskState, context_schema=EngineContext
    )
    g.add_node("observe", observe)
    g.add_node("plan", plan)
    g.add_node("check", check)
    g.add_node("execute", execute)
    g.add_node("verify", verify)
    g.add_node("done", done)
    g.add_node("fail", fail)
    g.add_edge(START, "observe")
    g.add_edge("observe", "plan")
    g.add_conditional_edges("plan", _after_plan)
    g.add_conditional_edges("check", _after_check)
    g.add_conditional_edges("execute", _after_execute)
    g.add_conditional_edges("verify", _after_verify)
    g.add_edge("done", END)
    g.add_edge("fail", END)
    return g


def open_checkpointer(path: Path, *, synchronous: Literal["normal", "full"] = "normal") -> Any:
    """A SqliteSaver on ``path`` (created with its folder), in WAL mode.

    ``synchronous="normal"`` is the default: under WAL every committed step survives the
    process being killed (the crash the engine must survive); only an OS crash or power loss
    can roll back the newest commits. It halves the checkpoint cost (see BENCHMARKS.md).
    ``"full"`` also fsyncs each commit.

    Args:
        path: the SQLite file.
        synchronous: SQLite's synchronous pragma.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()  # creates the tables and switches the file to WAL
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    return saver


def compile_graph(checkpointer: Any | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph, with ``checkpointer`` (a SqliteSaver in the engine)."""
    return build_graph().compile(checkpointer=checkpointer)


def recursion_limit(max_attempts: int) -> int:
    """An explicit bound on graph steps: each attempt is at most 4 nodes, plus the ends."""
    return 4 * max_attempts + 6
