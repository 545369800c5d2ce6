"""The graph's state: plain, serialisable data only (checkpointed at every step).

Images, the world, the planner, the sandbox and the registry live in the run context
(:class:`~policywright.agent.graph.EngineContext`), never here: the SQLite checkpointer stores
every channel again at every step.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from typing_extensions import TypedDict

__all__ = [
    "AttemptRecord",
    "CorrectionRecord",
    "Outcome",
    "TaskState",
    "VerdictRecord",
    "add_usage",
]

Outcome = Literal[
    "succeeded",
    "refused",
    "error",
    "timeout",
    "memory",
    "unverified",
    "failed",
    "preempted",
    "rehearsal_failed",
]


class VerdictRecord(TypedDict, total=False):
    """What the verifier decided, and why.

    ``frames`` are PNG paths on disk; ``parts`` are the single verdicts when verifiers combine.
    """

    success: bool
    reason: str
    source: str
    frames: list[str]
    parts: list[dict[str, Any]]


def add_usage(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: usage dicts (token counts, latency, cost) add up field by field."""
    out = dict(old or {})
    for key, value in (new or {}).items():
        out[key] = out.get(key, 0) + value
    return out


class AttemptRecord(TypedDict, total=False):
    """One plan -> check -> execute -> verify pass."""

    attempt: int
    program: dict[str, Any]
    static: dict[str, Any]
    execution: dict[str, Any]
    verdict: VerdictRecord
    outcome: Outcome
    feedback: str
    world_snapshot: str
    recovery: str
    usage: dict[str, Any]
    #: For an attempt whose planning failed: who must act ("llm", "user", "us") and the error's
    #: class name, so a malformed model reply is told apart from a planner that cannot help.
    actor: str
    error: str
    #: Each rehearsal of this attempt's programs in the twin, in order (one per candidate).
    rehearsal: list[dict[str, Any]]


class CorrectionRecord(TypedDict, total=False):
    """A correction the person sent, and what the engine did with it."""

    seq: int
    text: str
    kind: str
    status: Literal["applied", "rejected"]
    message: str
    attempt: int


class TaskState(TypedDict, total=False):
    """State of one task (a command on a thread)."""

    command: str
    thread_id: str
    max_attempts: int
    scene: list[dict[str, Any]]
    attempt: int
    program: dict[str, Any]
    current: AttemptRecord
    attempts: Annotated[list[AttemptRecord], operator.add]
    feedback: Annotated[list[str], operator.add]
    status: Literal["running", "succeeded", "failed", "stopped"]
    reason: str
    actor: Literal["llm", "user", "us", ""]
    verdict: VerdictRecord
    world_snapshots: Annotated[list[str], operator.add]
    #: Earlier turns of the session (command, program, outcome, scene), oldest first.
    history: list[dict[str, Any]]
    #: LLM usage of this task, summed over every call (planner, function writer, VLM).
    usage: Annotated[dict[str, Any], add_usage]
    #: The command as first given, when corrections or a clarification rewrote ``command``.
    original_command: str
    #: Corrections taken from the channel and not handled yet ({"seq", "correction"}).
    pending: list[dict[str, Any]]
    #: Every correction handled, with what was done (the record of what the person taught).
    corrections: Annotated[list[CorrectionRecord], operator.add]
    #: Nudges for calls of the current attempt that have not finished: call index -> offset.
    adjust: dict[str, list[float]]
    #: Program edits that keep the nudges ({"line", "name", "offset"}), for learning.
    edits: list[dict[str, Any]]
    #: Motion speed factor set by "slower"/"faster".
    speed_scale: float
    #: The program ran to its end and a verdict was given (done or fail ran).
    finished: bool
    #: Ask the person (LangGraph interrupt) when the attempt budget is spent.
    ask_on_failure: bool
    #: Ask the person when the command is ambiguous (else plan with the first match).
    ask_on_ambiguity: bool
    #: The attempt budget a re-plan after a correction gets.
    attempt_budget: int
    #: Where the correct node routes next (set by it, read by its router).
    next_step: str
    #: Rehearse every program in a twin of the scene before the real robot moves.
    rehearse: bool
    #: How many failures caught before the real robot moved give their attempt back.
    rehearsal_budget: int
    #: Failures caught before the real robot moved (replies, refusals, rehearsals).
    rehearsal_failures: int
    #: Programs run in the twin, and the wall-clock seconds they took.
    rehearsals: int
    rehearsal_wall_s: float
    #: Programs run in the real world.
    real_executions: int
    #: The twin's starting snapshot (None: build a new twin from perception before the next
    #: rehearsal); how many twins this task built.
    twin_snapshot: str | None
    twins_built: int
    #: Digests of programs that failed their rehearsal (not offered again in this task).
    failed_programs: list[str]
    #: How many candidate programs a planner may offer per attempt, and those not yet tried.
    candidates_k: int
    candidates: list[dict[str, Any]]
