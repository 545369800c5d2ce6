"""Thread history and forks, read straight from the checkpoint and the journal (no world)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policywright.agent._journal import Journal
from policywright.agent.graph import compile_graph, open_checkpointer
from policywright.config import EngineConfig
from policywright.engine import HistoryStep
from policywright.errors import UnknownThreadError

__all__ = ["ThreadReport", "fork_thread", "recent_threads", "thread_history"]


class ThreadReport(BaseModel):
    """Everything ``policywright history`` shows about a thread."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    command: str
    status: str
    steps: list[HistoryStep]
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    pending_corrections: list[str] = Field(default_factory=list)
    calls: list[str] = Field(default_factory=list)
    #: No step is left to run: ``resume`` has nothing to do.
    finished: bool = False


def _summary(values: dict[str, Any]) -> str:
    parts = [f"attempt {values.get('attempt', 0)}", str(values.get("status", "-"))]
    program = values.get("program", {}).get("code")
    if program:
        # Not the first line (a "def helper():" says nothing): the full program is below.
        n_lines = len(str(program).strip().splitlines())
        parts.append(f"program of {n_lines} line(s)")
    verdict = values.get("verdict")
    if verdict:
        parts.append(f"verdict: {'yes' if verdict.get('success') else 'no'}")
    n = len(values.get("corrections", []))
    if n:
        parts.append(f"{n} correction(s)")
    return "; ".join(parts)


#: What a change of a checkpoint's ``entry`` metadata means (see ``Engine._drive``).
_ENTRIES = {
    "answer": "your answer came in",
    "correction": "your correction came in",
    "resume": "resumed after an interruption (the process ended mid-task: a crash or a kill)",
    "run": "started",
}


def steps_of(graph: Any, thread_id: str) -> list[tuple[HistoryStep, Any]]:
    """The checkpoints of a thread, oldest first, each with the node that produced it."""
    snaps = list(graph.get_state_history({"configurable": {"thread_id": thread_id}}))
    snaps.reverse()
    out = []
    ran = "input"
    drive = None
    for snap in snaps:
        meta = snap.metadata or {}
        summary = _summary(snap.values)
        if meta.get("drive") is not None and meta.get("drive") != drive:
            if drive is not None:
                # The first checkpoint of a later drive: how the person (or a crash) got here.
                summary = f"{_ENTRIES.get(str(meta.get('entry')), 'continued')}; {summary}"
            drive = meta.get("drive")
        asked = [i.value for t in snap.tasks for i in t.interrupts]
        if asked and isinstance(asked[0], dict):
            summary += f"; waits for you: {asked[0].get('question', '')}"
        out.append(
            (
                HistoryStep(
                    step=int(meta.get("step", -1)),
                    node=ran,
                    next=list(snap.next),
                    summary=summary,
                    checkpoint_id=str(snap.config["configurable"].get("checkpoint_id", "")),
                ),
                snap,
            )
        )
        ran = snap.next[0] if snap.next else "end"
    return out


def fork_from(graph: Any, journal: Journal, thread_id: str, step: int) -> str:
    """Copy the state at ``step`` of a thread into a new thread that continues from there."""
    import uuid

    history = steps_of(graph, thread_id)
    if not history:
        raise UnknownThreadError(f"no thread {thread_id!r}")
    for info, snap in history:
        if info.step != step:
            continue
        if info.node in ("input", "end") or not snap.next:
            raise UnknownThreadError(
                f"step {step} of {thread_id!r} cannot be forked: pick a step that has a next "
                f"node ({', '.join(str(i.step) for i, s in history if s.next and i.step > 0)})"
            )
        new_id = f"{thread_id}-fork{uuid.uuid4().hex[:6]}"
        values = dict(snap.values)
        values["thread_id"] = new_id
        graph.update_state({"configurable": {"thread_id": new_id}}, values, as_node=info.node)
        journal.thread_started(new_id, str(values.get("command", "")), None)
        journal.thread_status(new_id, "forked")
        return new_id
    steps = ", ".join(str(i.step) for i, _ in history)
    raise UnknownThreadError(f"thread {thread_id!r} has no step {step} (steps: {steps})")


def thread_history(config: EngineConfig, thread_id: str) -> ThreadReport:
    """The steps, programs, verdicts and corrections of a thread."""
    saver = open_checkpointer(config.checkpoint_path)
    journal = Journal(config.journal_path)
    try:
        graph = compile_graph(saver)
        history = steps_of(graph, thread_id)
        if not history:
            known = [t.thread_id for t in journal.threads(10)]
            raise UnknownThreadError(
                f"no thread {thread_id!r}" + (f" (recent: {', '.join(known)})" if known else "")
            )
        values = dict(history[-1][1].values)
        seen = {int(c.get("seq", -1)) for c in values.get("corrections", [])}
        pending = [r.text for r in journal.corrections(thread_id) if r.seq not in seen]
        calls = [
            f"attempt {r.attempt} #{r.idx} {r.name} line {r.line}: {r.status}"
            for r in journal.calls(thread_id)
        ]
        row = journal.thread(thread_id)
        return ThreadReport(
            thread_id=thread_id,
            command=str(values.get("command", row.command if row else "")),
            status=str(values.get("status", row.status if row else "?")),
            steps=[h for h, _ in history],
            attempts=list(values.get("attempts", [])),
            corrections=[dict(c) for c in values.get("corrections", [])],
            pending_corrections=pending,
            calls=calls,
            finished=not history[-1][1].tasks,
        )
    finally:
        saver.conn.close()
        journal.close()


def fork_thread(config: EngineConfig, thread_id: str, step: int) -> str:
    """Fork a thread at ``step``; returns the new thread's id."""
    saver = open_checkpointer(config.checkpoint_path)
    journal = Journal(config.journal_path)
    try:
        return fork_from(compile_graph(saver), journal, thread_id, step)
    finally:
        saver.conn.close()
        journal.close()


def recent_threads(config: EngineConfig, limit: int = 20) -> list[dict[str, Any]]:
    """The most recently updated threads first: id, command, session, status, times."""
    journal = Journal(config.journal_path)
    try:
        return [dict(vars(r)) for r in journal.threads(limit)]
    finally:
        journal.close()
