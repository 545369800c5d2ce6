"""The task loop as a LangGraph state machine.

observe -> clarify -> plan -> check -> rehearse -> execute -> verify -> done
                        ^       |   ^      |  |        |   |       |
                        |       |   +------+  |        |   |       |  (next candidate)
                        +-------+----------+--+--------+---|-------+  feedback, else fail
                        |                                  v
                        +---------------------------- correct  <- a person's correction

``rehearse`` runs the program and its check in a twin of the scene built from perception
(``agent/_rehearse.py``); only a program the twin verified goes on to ``execute`` in the real
world. A failure caught before the real robot moves (an unusable reply, a static refusal, a
failed rehearsal) gives the attempt back to the real budget, ``rehearsal_budget`` times at most.

``clarify`` and ``fail`` may ask the person (LangGraph ``interrupt``); ``correct`` handles one
correction per step and may ask after "stop" or "undo".

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
from langgraph.types import interrupt

from policywright.agent._ambiguity import Ambiguity, find_ambiguity, resolve_answer
from policywright.agent._journal import Journal
from policywright.agent._literal_targets import check_act_program
from policywright.agent._rehearse import (
    TwinStore,
    program_digest,
    rehearse_program,
    run_feedback,
)
from policywright.agent._usage import UsageMeter
from policywright.agent.corrections import (
    Correction,
    CorrectionChannel,
    CorrectionParseError,
    parse_correction,
)
from policywright.agent.host import CallLog, RegistryHost
from policywright.agent.planner import (
    CandidatePlanner,
    LearningPlanner,
    PlanContext,
    Planner,
    Program,
    SceneObject,
    SessionTurn,
    uses_llm,
)
from policywright.agent.sandbox import Sandbox, check_program
from policywright.agent.state import (
    AttemptRecord,
    CorrectionRecord,
    TaskState,
    VerdictRecord,
    add_usage,
)
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
    channel: CorrectionChannel = field(default_factory=CorrectionChannel)
    journal: Journal | None = None
    #: Called with each "call_start" and "call" event in the graph's own thread, while the
    #: program waits for the call: the world is not moving, so a hook may read or change it.
    #: (``on_event`` consumers run in the caller's thread, beside the moving robot.)
    call_hooks: list[Writer] = field(default_factory=list)
    #: The twins programs are rehearsed in (None: no rehearsal in this world).
    twins: TwinStore | None = None


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


def _amend(current: AttemptRecord, **fields: Any) -> AttemptRecord:
    """The attempt record with ``fields`` set, replacing earlier values.

    After a correction the same attempt is executed and verified more than once.
    """
    return AttemptRecord(**{**current, **fields})  # type: ignore[typeddict-item]


def _scene(ctx: EngineContext) -> list[dict[str, Any]]:
    """The detected objects as plain data (what the planner sees)."""
    return [
        SceneObject(
            name=d.name,
            kind=d.kind,
            color=d.color,
            position=(float(d.position[0]), float(d.position[1]), float(d.position[2])),
        ).model_dump(mode="json")
        for d in ctx.prim.detections().values()
    ]


def _call_log(ctx: EngineContext, state: TaskState) -> CallLog | None:
    if ctx.journal is None:
        return None
    thread, attempt = state.get("thread_id", "default"), state["attempt"]
    adjust: dict[int, tuple[float, float, float]] = {}
    replay = ctx.journal.calls(thread, attempt)
    for key, off in state.get("adjust", {}).items():
        vec = (float(off[0]), float(off[1]), float(off[2]))
        if key == "next":
            # A nudge before any action: the first placing call not yet finished.
            done = {r.idx for r in replay if r.status == "done"}
            first = len(done)
            adjust[first] = vec  # best effort: the host applies it only to a placing call
        else:
            adjust[int(key)] = vec
    return CallLog(
        journal=ctx.journal,
        thread_id=thread,
        attempt=attempt,
        snapshot=lambda label: _snapshot(ctx, state, label),
        replay=replay,
        adjust=adjust,
    )


def observe(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Perceive the scene (cameras, not poses) and snapshot the world."""
    ctx = runtime.context
    ctx.prim.invalidate()
    scene = _scene(ctx)
    _writer()({"event": "scene", "objects": scene})
    snap = _snapshot(ctx, state, "initial")
    return {
        "scene": scene,
        "attempt": 0,
        "status": "running",
        "finished": False,
        "world_snapshots": [snap],
        "original_command": state.get("original_command") or state["command"],
        "twin_snapshot": None,
    }


def _refund(state: TaskState) -> dict[str, Any]:
    """A failure caught before the real robot moved gives its attempt back (rehearsal on).

    At most ``rehearsal_budget`` times per task; after that such failures spend the real
    budget as they do without rehearsal.
    """
    if not state.get("rehearse"):
        return {}
    used = int(state.get("rehearsal_failures", 0)) + 1
    out: dict[str, Any] = {"rehearsal_failures": used}
    if used <= int(state.get("rehearsal_budget", 0)):
        out["max_attempts"] = int(state.get("max_attempts", 1)) + 1
    return out


def clarify(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Ask the person which object they mean when the command names several."""
    names = [o["name"] for o in state.get("scene", [])]
    found = find_ambiguity(state["command"], names)
    if found is None or not state.get("ask_on_ambiguity", True):
        return {}
    question = found.question
    # Each interrupt() is answered in order on resume, so a wrong answer asks again.
    for _ in range(5):
        answer = interrupt(
            {"kind": "ambiguous", "question": question, "options": list(found.options)}
        )
        try:
            command = resolve_answer(state["command"], found, str(answer))
        except ValueError as exc:
            question = f"{exc}. {found.question}"
            continue
        _writer()({"event": "clarified", "command": command})
        return {"command": command}
    return _gave_up_clarifying(found)


def _gave_up_clarifying(found: Ambiguity) -> dict[str, Any]:
    reason = f"the command is ambiguous ({found.phrase!r} could be {', '.join(found.options)})"
    return {"status": "failed", "reason": reason, "actor": "user", "finished": True}


def plan(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Ask the planner for a program (with the feedback of earlier attempts).

    With ``candidates`` > 1 and a planner that offers several, the first is checked and
    rehearsed and the others wait in ``candidates``; programs that already failed their
    rehearsal in this task are not offered again.
    """
    ctx = runtime.context
    attempt = state.get("attempt", 0) + 1
    pctx = _plan_context(state, attempt)
    k = int(state.get("candidates_k", 1)) if state.get("rehearse") else 1
    failed_before = set(state.get("failed_programs", []))
    try:
        if k > 1 and isinstance(ctx.planner, CandidatePlanner):
            programs = ctx.planner.candidates(pctx, k)
        else:
            programs = [ctx.planner.write(pctx)]
        fresh = [p for p in programs if program_digest(p) not in failed_before]
        if not fresh:
            raise _Repeated(programs[0])
    except (PolicywrightError, _Repeated) as exc:
        usage = ctx.meter.take()
        actor = exc.actor if isinstance(exc, PolicywrightError) else "llm"
        _writer()({"event": "plan_failed", "attempt": attempt, "error": str(exc)})
        failed = AttemptRecord(
            attempt=attempt,
            outcome="failed",
            feedback=str(exc),
            usage=usage,
            actor=actor,
            error=type(exc).__name__.lstrip("_"),
        )
        refund = _refund(state) if actor == "llm" else {}
        if isinstance(exc, _Repeated) and not uses_llm(ctx.planner):
            # A retrieval planner offers the same programs again: nothing new can come.
            last = (state.get("feedback") or [str(exc)])[-1]
            return {
                "attempt": attempt,
                "status": "failed",
                "reason": f"every program the planner offers failed in rehearsal; last: {last}",
                "actor": "llm",
                "attempts": [failed],
                "usage": usage,
            }
        if actor == "llm" and attempt < refund.get("max_attempts", state.get("max_attempts", 1)):
            # A malformed reply (no code, truncated): the model gets another try with the
            # message as feedback, within the same attempt budget.
            feedback = f"your reply could not be used: {exc}"
            return {
                "attempt": attempt,
                "current": failed,
                "attempts": [failed],
                "feedback": [feedback],
                "usage": usage,
                **refund,
            }
        # The planner cannot act on this command: the user (or a stronger planner) must.
        return {
            "attempt": attempt,
            "status": "failed",
            "reason": str(exc),
            "actor": actor,
            "attempts": [failed],
            "usage": usage,
        }
    usage = ctx.meter.take()
    program = fresh[0]
    event = {"event": "program", "attempt": attempt, **program.model_dump(mode="json")}
    if len(fresh) > 1:
        event["candidates"] = len(fresh)
    if usage:
        event["usage"] = usage
    _writer()(event)
    record = AttemptRecord(attempt=attempt, program=program.model_dump(mode="json"), usage=usage)
    return {
        "attempt": attempt,
        "program": record["program"],
        "current": record,
        "usage": usage,
        "candidates": [p.model_dump(mode="json") for p in fresh[1:]],
    }


class _Repeated(Exception):
    """Every program the planner offered already failed its rehearsal in this task."""

    def __init__(self, program: Program) -> None:
        super().__init__(
            "the planner offered only programs that already failed their rehearsal in this "
            f"task ({program.provenance}); write a different program"
        )


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
        corrections=[c.get("text", "") for c in state.get("corrections", [])],
    )


def check(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Static checks of the program and its check code, before any process starts."""
    ctx = runtime.context
    program = Program.model_validate(state["program"])
    act_names = RegistryHost(ctx.registry, ctx.prim, mode="act").names()
    check_names = RegistryHost(ctx.registry, ctx.prim, mode="check").names()
    reports = {
        "program": check_act_program(program.code, act_names, ctx.world),
        "check": check_program(program.check_code, primitive_names=check_names),
    }
    static = {k: r.model_dump(mode="json") for k, r in reports.items()}
    current = _amend(state["current"], static=static)
    bad = [(k, v) for k, r in reports.items() if not r.ok for v in r.violations]
    if not bad:
        return {"current": current}
    lines = [f"{k} line {v.line}: [{v.rule}] {v.message}" for k, v in bad[:8]]
    feedback = "the program was refused by the static checks:\n" + "\n".join(lines)
    _writer()({"event": "refused", "attempt": state["attempt"], "violations": lines})
    current["outcome"], current["feedback"] = "refused", feedback
    return {"current": current, "attempts": [current], "feedback": [feedback], **_refund(state)}


def rehearse(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Run the program and its check in the twin; only a verified program goes to execute.

    The twin is built from the detections the first time a task rehearses (and again after
    it was marked stale); a failed rehearsal is fed back to the planner while the real world
    stays as it is. Re-running this node (after a crash) rehearses again from the twin's
    saved starting state: it has no side effect on the real world.
    """
    ctx = runtime.context
    write = _writer()
    program = Program.model_validate(state["program"])
    attempt = state["attempt"]
    thread = state.get("thread_id", "default")
    if ctx.twins is None or ctx.twins.factory is None:
        return {}
    update: dict[str, Any] = {}
    twin = ctx.twins.get(thread, state.get("twin_snapshot"))
    if twin is None:
        n = int(state.get("twins_built", 0)) + 1
        path = ctx.snapshot_dir / thread / f"twin{n}.bullet"
        path.parent.mkdir(parents=True, exist_ok=True)
        ctx.prim.invalidate()
        twin = ctx.twins.build(ctx.world, thread, path)
        update.update({"twin_snapshot": str(path), "twins_built": n})
        write({"event": "twin", "attempt": attempt, "objects": len(twin.world.detect())})
    write({"event": "rehearse", "attempt": attempt, "provenance": program.provenance})
    result = rehearse_program(
        twin.world,
        twin.snapshot,
        program,
        state["command"],
        sandbox=ctx.sandbox,
        registry=ctx.registry,
        skills=dict(ctx.prim.skills),
        seed=ctx.seed,
    )
    record = result.record()
    rehearsals = int(state.get("rehearsals", 0)) + 1
    update["rehearsals"] = rehearsals
    update["rehearsal_wall_s"] = float(state.get("rehearsal_wall_s", 0.0)) + result.wall_s
    current = _amend(state["current"], rehearsal=[*state["current"].get("rehearsal", []), record])
    reason = (result.verdict or {}).get("reason", "") if result.report.status == "ok" else ""
    write(
        {
            "event": "rehearsed",
            "attempt": attempt,
            "ok": result.ok,
            "status": result.report.status,
            "message": result.report.message if result.report.status != "ok" else reason,
            "wall_s": round(result.wall_s, 3),
            "calls": len(result.report.calls),
        }
    )
    if result.ok:
        return {**update, "current": current, "next_step": ""}
    failed = [*state.get("failed_programs", []), program_digest(program)]
    update["failed_programs"] = failed
    candidates = list(state.get("candidates", []))
    feedback = result.feedback()
    if candidates:
        # The next candidate of the same attempt: checked and rehearsed in turn.
        nxt = Program.model_validate(candidates[0])
        write({"event": "program", "attempt": attempt, **nxt.model_dump(mode="json")})
        current["program"] = nxt.model_dump(mode="json")
        current.pop("static", None)
        return {
            **update,
            "current": current,
            "program": current["program"],
            "candidates": candidates[1:],
            "next_step": "check",
        }
    current["outcome"], current["feedback"] = "rehearsal_failed", feedback
    return {
        **update,
        "current": current,
        "attempts": [current],
        "feedback": [feedback],
        "next_step": "",
        **_refund(state),
    }


def execute(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Run the program in the sandbox; every primitive call is validated and safety-checked."""
    ctx = runtime.context
    write = _writer()
    program = Program.model_validate(state["program"])
    write({"event": "execute", "attempt": state["attempt"]})

    def emitter(kind: str) -> Writer:
        def emit(event: dict[str, Any]) -> None:
            out = {"event": kind, **event}
            for hook in ctx.call_hooks:
                hook(out)
            write(out)

        return emit

    ctx.prim.say_sink = lambda msg: write({"event": "say", "message": msg})
    log = _call_log(ctx, state)
    host = RegistryHost(
        ctx.registry,
        ctx.prim,
        mode="act",
        on_call=emitter("call"),
        on_start=emitter("call_start"),
        channel=ctx.channel,
        log=log,
    )
    ctx.world.stop_check = ctx.channel.stop_requested
    ctx.world.motion_scale = float(state.get("speed_scale", 1.0))
    executions = int(state.get("real_executions", 0)) + 1
    try:
        report = ctx.sandbox.run(program.code, host, seed=ctx.seed)
    finally:
        ctx.world.stop_check = None
    ctx.prim.invalidate()
    if report.status == "preempted":
        snap = _snapshot(ctx, state, f"attempt{state['attempt']}-preempted")
        taken = ctx.channel.take()
        write({"event": "preempted", "attempt": state["attempt"], "message": report.message})
        return {
            "pending": [*state.get("pending", []), *(p.model_dump(mode="json") for p in taken)],
            "world_snapshots": [snap],
            "real_executions": executions,
            "twin_snapshot": None,
        }
    recovery = safe_stop(ctx.prim) if report.status != "ok" else ""
    if recovery:
        write({"event": "recovery", "attempt": state["attempt"], "actions": recovery})
    snap = _snapshot(ctx, state, f"attempt{state['attempt']}-executed")
    execution = report.model_dump(mode="json")
    current = _amend(state["current"], execution=execution, world_snapshot=snap)
    if recovery:
        current["recovery"] = recovery
    write({"event": "executed", "attempt": state["attempt"], "report": execution})
    if report.status == "ok":
        return {
            "current": current,
            "world_snapshots": [snap],
            "adjust": {},
            "real_executions": executions,
        }
    feedback = run_feedback(report)
    current["outcome"], current["feedback"] = report.status, feedback
    return {
        "current": current,
        "attempts": [current],
        "feedback": [feedback],
        "world_snapshots": [snap],
        "real_executions": executions,
        # The real world changed in a way the plan did not expect: perceive it again.
        "twin_snapshot": None,
    }


def verify(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Ask the verifier whether the command was achieved."""
    ctx = runtime.context
    program = Program.model_validate(state["program"])
    label = f"{state.get('thread_id', 'task')}-attempt{state['attempt']}"
    verdict: VerdictRecord = ctx.verifier.verify(state["command"], program, label=label)
    usage = ctx.meter.take()
    _writer()({"event": "verdict", "attempt": state["attempt"], **verdict})
    current = _amend(state["current"], verdict=verdict)
    if usage:
        current["usage"] = add_usage(current.get("usage"), usage)
    if verdict["success"]:
        current["outcome"] = "succeeded"
        if isinstance(ctx.planner, LearningPlanner):
            try:
                ctx.planner.record_success(_plan_context(state, state["attempt"]), program)
            except Exception:  # learning is best effort; the task itself succeeded
                logger.exception("the planner could not record a success")
        _learn_from_corrections(ctx, state, program)
        return {"current": current, "attempts": [current], "verdict": verdict, "usage": usage}
    feedback = f"the program ran but the command was not achieved: {verdict['reason']}"
    current["outcome"], current["feedback"] = "unverified", feedback
    return {
        "current": current,
        "attempts": [current],
        "verdict": verdict,
        "feedback": [feedback],
        "usage": usage,
        "twin_snapshot": None,
    }


def done(state: TaskState) -> dict[str, Any]:
    """The command was achieved."""
    reason = state.get("verdict", {}).get("reason", "")
    _writer()({"event": "done", "status": "succeeded", "reason": reason})
    return {"status": "succeeded", "reason": reason, "actor": "", "finished": True}


_GIVE_UP = {"give up", "giveup", "no", "stop", "abort", "quit", "cancel", "fail"}


def fail(state: TaskState) -> dict[str, Any]:
    """The attempt budget is spent (the person may give a hint to try once more)."""
    last = state.get("feedback", ["no attempt was made"])[-1]
    reason = f"gave up after {state.get('attempt', 0)} attempt(s); last: {last}"
    if state.get("ask_on_failure"):
        answer = interrupt(
            {
                "kind": "budget",
                "question": (
                    f"I could not do it: {last}\nGive a hint to try again, or say 'give up'."
                ),
                "options": ["give up"],
            }
        )
        hint = " ".join(str(answer).split())
        if hint and hint.lower().strip(".!") not in _GIVE_UP:
            _writer()({"event": "hint", "text": hint})
            return {
                "feedback": [f"the person says: {hint!r}"],
                "max_attempts": state.get("attempt", 0) + 1,
                "status": "running",
            }
    _writer()({"event": "done", "status": "failed", "reason": reason})
    return {"status": "failed", "reason": reason, "actor": "llm", "finished": True}


def correct(state: TaskState, runtime: Runtime[EngineContext]) -> dict[str, Any]:
    """Handle the oldest waiting correction (one per step: ``interrupt`` re-runs the node)."""
    from policywright.agent._correct import apply_correction
    from policywright.agent.corrections import PendingCorrection

    ctx = runtime.context
    write = _writer()
    pending = [PendingCorrection.model_validate(p) for p in state.get("pending", [])]
    if not pending:
        return {"next_step": "end"}
    head, rest = pending[0], pending[1:]
    c = head.correction
    if c.kind == "stop":
        # Ask first, act after: anything before interrupt() would run again on resume.
        answer = interrupt(
            {
                "kind": "stopped",
                "question": "Stopped. Say 'continue', give a correction, or say 'abort'.",
                "options": ["continue", "abort"],
            }
        )
        record = _record(head.seq, c, "applied", "stopped", state)
        text = " ".join(str(answer).split())
        if text.lower().strip(".!") in {"abort", "cancel", "quit", "give up"}:
            write({"event": "correction", **record})
            write({"event": "done", "status": "stopped", "reason": "stopped by the person"})
            return {
                "pending": [],
                "corrections": [record],
                "status": "stopped",
                "reason": "stopped by the person",
                "actor": "user",
                "finished": True,
                "next_step": "end",
            }
        try:
            follow = parse_correction(text or "continue")
        except CorrectionParseError as exc:
            follow = None
            write({"event": "correction", "text": text, "status": "rejected", "message": str(exc)})
        first = [PendingCorrection(seq=head.seq, correction=follow)] if follow else [head]
        write({"event": "correction", **record})
        return {
            "pending": [p.model_dump(mode="json") for p in [*first, *rest]],
            "corrections": [record],
            "next_step": "correct",
        }
    outcome = apply_correction(ctx, state, c)
    record = _record(head.seq, c, outcome.status, outcome.message, state)
    write({"event": "correction", **record})
    update: dict[str, Any] = dict(outcome.update)
    update["corrections"] = [record]
    remaining = [p.model_dump(mode="json") for p in rest]
    nxt: str = outcome.next
    if nxt == "ask":
        stop = Correction(text="stop", kind="stop")
        remaining = [PendingCorrection(seq=head.seq, correction=stop).model_dump(), *remaining]
        nxt = "correct"
    update["pending"] = remaining
    if nxt == "plan":
        ctx.prim.invalidate()
        update["scene"] = _scene(ctx)
        update["max_attempts"] = state.get("attempt", 0) + state.get("attempt_budget", 3)
        update["finished"] = False
        update["status"] = "running"
        update["twin_snapshot"] = None
        if not state.get("original_command"):
            update["original_command"] = state["command"]
    if remaining and nxt in ("execute", "end", "verify"):
        nxt = "correct"
    if nxt == "execute" and state.get("finished"):
        nxt = "end"
    update["next_step"] = nxt
    return update


def _record(
    seq: int, c: Correction, status: str, message: str, state: TaskState
) -> CorrectionRecord:
    return CorrectionRecord(
        seq=seq,
        text=c.text,
        kind=c.kind,
        status="applied" if status == "applied" else "rejected",
        message=message,
        attempt=state.get("attempt", 0),
    )


def _learn_from_corrections(ctx: EngineContext, state: TaskState, program: Program) -> None:
    """Keep what the person taught: the command as first given -> the program that worked."""
    applied = [c for c in state.get("corrections", []) if c.get("status") == "applied"]
    taught = [c for c in applied if c.get("kind") not in ("stop", "continue", "speed")]
    if not taught or not isinstance(ctx.planner, LearningPlanner):
        return
    learn = ctx.planner.record_lesson
    from policywright.agent._correct import apply_edits

    code = apply_edits(program.code, state.get("edits", []))
    if code is None:
        logger.info("the nudges of %s cannot be kept in the program", state.get("thread_id"))
        return
    lesson = program.model_copy(update={"code": code})
    try:
        learn(
            state.get("original_command") or state["command"],
            [SceneObject.model_validate(o) for o in state.get("scene", [])],
            [c.get("text", "") for c in taught],
            lesson,
        )
    except Exception:  # learning is best effort; the task itself succeeded
        logger.exception("the planner could not record a lesson")


def _retry_or_fail(state: TaskState) -> Literal["plan", "fail"]:
    return "plan" if state.get("attempt", 0) < state.get("max_attempts", 1) else "fail"


def _after_plan(state: TaskState) -> Literal["check", "plan", "fail", "__end__"]:
    if state.get("status") == "failed":
        return "__end__"
    if state.get("current", {}).get("outcome") == "failed":
        return _retry_or_fail(state)
    return "check"


def _after_check(state: TaskState) -> Literal["rehearse", "execute", "plan", "fail"]:
    if state["current"].get("outcome"):
        return _retry_or_fail(state)
    return "rehearse" if state.get("rehearse") else "execute"


def _after_rehearse(state: TaskState) -> Literal["check", "execute", "plan", "fail"]:
    if state["current"].get("outcome"):
        return _retry_or_fail(state)
    return "check" if state.get("next_step") == "check" else "execute"


def _after_execute(state: TaskState) -> Literal["verify", "plan", "fail", "correct"]:
    if state.get("pending"):
        return "correct"
    return _retry_or_fail(state) if state["current"].get("outcome") else "verify"


def _route_start(state: TaskState) -> Literal["correct", "observe"]:
    return "correct" if state.get("pending") else "observe"


def _after_clarify(state: TaskState) -> Literal["plan", "__end__"]:
    return "__end__" if state.get("status") == "failed" else "plan"


def _after_fail(state: TaskState) -> Literal["plan", "__end__"]:
    return "plan" if state.get("status") == "running" else "__end__"


def _after_correct(
    state: TaskState,
) -> Literal["correct", "execute", "plan", "verify", "__end__"]:
    step = state.get("next_step", "end")
    if step in ("correct", "execute", "plan", "verify"):
        return step  # type: ignore[return-value]
    return "__end__"


def _after_verify(state: TaskState) -> Literal["done", "plan", "fail"]:
    return "done" if state["current"].get("outcome") == "succeeded" else _retry_or_fail(state)


def build_graph() -> StateGraph[TaskState, EngineContext, TaskState, TaskState]:
    """The uncompiled graph (compile it with a checkpointer, or without for `langgraph dev`)."""
    g: StateGraph[TaskState, EngineContext, TaskState, TaskState] = StateGraph(
        TaskState, context_schema=EngineContext
    )
    g.add_node("observe", observe)
    g.add_node("clarify", clarify)
    g.add_node("correct", correct)
    g.add_node("plan", plan)
    g.add_node("check", check)
    g.add_node("rehearse", rehearse)
    g.add_node("execute", execute)
    g.add_node("verify", verify)
    g.add_node("done", done)
    g.add_node("fail", fail)
    g.add_conditional_edges(START, _route_start)
    g.add_edge("observe", "clarify")
    g.add_conditional_edges("clarify", _after_clarify)
    g.add_conditional_edges("plan", _after_plan)
    g.add_conditional_edges("check", _after_check)
    g.add_conditional_edges("rehearse", _after_rehearse)
    g.add_conditional_edges("execute", _after_execute)
    g.add_conditional_edges("verify", _after_verify)
    g.add_conditional_edges("correct", _after_correct)
    g.add_edge("done", END)
    g.add_conditional_edges("fail", _after_fail)
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

    from policywright.errors import ConfigError

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("PRAGMA quick_check").fetchall()
        saver = SqliteSaver(conn)
        saver.setup()  # creates the tables and switches the file to WAL
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ConfigError(
            f"the checkpoint database {str(path)!r} is corrupt ({exc}); move it away to start "
            "afresh (its threads cannot be resumed), or restore it from a backup"
        ) from exc
    return saver


def compile_graph(checkpointer: Any | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph, with ``checkpointer`` (a SqliteSaver in the engine)."""
    return build_graph().compile(checkpointer=checkpointer)


def recursion_limit(max_attempts: int, rehearsal_budget: int = 0, candidates: int = 1) -> int:
    """An explicit bound on graph steps.

    Each attempt is at most 5 nodes (2 more per extra candidate), plus the ends; failures
    caught in rehearsal give attempts back (``rehearsal_budget`` of them); corrections and
    hints can add attempts (each re-plan gets the budget again), so the bound leaves room for
    a few of them.
    """
    per_attempt = 5 + 2 * max(0, candidates - 1)
    return per_attempt * (max_attempts + rehearsal_budget + 1) * 4 + 3 * 32 + 8
