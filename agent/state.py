"""The graph's state: plain, serialisable data only (checkpointed at every step).

Images, the world, the planner, the sandbox and the registry live in the run context
(:class:`~policywright.agent.graph.EngineContext`), never here: the SQLite checkpointer stores
every channel again at every step.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from typing_extensions import TypedDict

__all__ = ["AttemptRecord", "Outcome", "TaskState", "VerdictRecord"]

Outcome = Literal["succeeded", "refused", "error", "timeout", "memory", "unverified", "failed"]


class VerdictRecord(TypedDict):
    """What the verifier decided, and why."""

    success: bool
    reason: str
    source: str


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
    status: Literal["running", "succeeded", "failed"]
    reason: str
    actor: Literal["llm", "user", "us", ""]
    verdict: VerdictRecord
    world_snapshots: Annotated[list[str], operator.add]
