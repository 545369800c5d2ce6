"""The planner contract: what a planner is given and what it must hand back."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CandidatePlanner",
    "FollowupPlanner",
    "LearningPlanner",
    "PlanContext",
    "Planner",
    "Program",
    "SceneObject",
    "SessionTurn",
]


class SceneObject(BaseModel):
    """One object the cameras see, as the planner is told about it.

    Attributes:
        name: Unique name in the scene, "<colour> block" or "<colour> bowl".
        kind: "block" or "bowl" on the tabletop ("landmark", "shape", "table" elsewhere).
        color: The colour word.
        position: Detected centre (x, y, z) in the world frame, metres.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    color: str
    position: tuple[float, float, float]


class SessionTurn(BaseModel):
    """One earlier command of the session, as the planner is told about it.

    Attributes:
        command: The command, verbatim (hostile data, like every command).
        program: The last program run for it ("" when none was written).
        outcome: "succeeded" or "failed: <reason>".
        index: The turn's number in its session (1 = first), when known.
        thread_id: The checkpoint thread of the turn, when known.
        scene_before: The objects detected before the turn ran.
        check_program: The check program of ``program`` ("" when none).
        family: The task family of ``program``, when the offline planner wrote it.
        slots: The slot values ``program`` was filled with (slot name -> value).
        moved: Objects the cameras saw move more than 1 cm during the turn.
        followup: "undo" for a turn that undid an earlier one (no program ran), else "".
        provenance: Where ``program`` came from ("offline:memory#7 score=0.91").
    """

    model_config = ConfigDict(extra="forbid")

    command: str
    program: str = ""
    outcome: str = ""
    index: int | None = None
    thread_id: str | None = None
    scene_before: list[SceneObject] = Field(default_factory=list)
    check_program: str = ""
    family: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    moved: list[str] = Field(default_factory=list)
    followup: str = ""
    provenance: str = ""


class PlanContext(BaseModel):
    """Everything a planner may use to write one program.

    Attributes:
        command: The person's command, verbatim (hostile data: never paste it into code).
        scene: The objects detected before planning.
        attempt: 1 for the first try, 2 after one failed attempt, and so on.
        feedback: Messages of the earlier failed attempts, oldest first.
        history: Earlier turns of this session, oldest first (a bare string is read as a turn
            with only its command, for callers written before sessions had programs).
        previous_program: The program of the previous attempt at this command, if any.
        previous_check: The check program of the previous attempt, if any.
        corrections: What the person said to correct this task, oldest first ("no, the
            blue one"); the command has not been rewritten for them.
        calls_so_far: The primitive calls that already ran in this task, as text lines.
    """

    model_config = ConfigDict(extra="forbid")

    command: str
    scene: list[SceneObject]
    attempt: int = Field(default=1, ge=1)
    feedback: list[str] = Field(default_factory=list)
    history: list[SessionTurn] = Field(default_factory=list)
    previous_program: str | None = None
    previous_check: str | None = None
    corrections: list[str] = Field(default_factory=list)
    calls_so_far: list[str] = Field(default_factory=list)

    @field_validator("history", mode="before")
    @classmethod
    def _turns_from_strings(cls, value: Any) -> Any:
        # Older callers passed the commands only; keep accepting them.
        if isinstance(value, list):
            return [{"command": v} if isinstance(v, str) else v for v in value]
        return value


class Program(BaseModel):
    """A policy program and the check program that verifies its effect.

    Attributes:
        code: The policy program (sandboxed Python calling primitives).
        check_code: The verification program: read-only primitives, ends with one `verdict(...)`.
        provenance: Where the program came from, e.g. "offline:memory#7 score=0.91".
        family: The task family (e.g. "stack_all"), when known.
        slots: The slot values that were filled in (slot name -> value).
        fallback_check: A verified check for this command from program memory, run when
            ``check_code`` itself breaks (raises, or never calls ``verdict``).
    """

    model_config = ConfigDict(extra="forbid")

    code: str
    check_code: str
    provenance: str
    family: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    fallback_check: str | None = None


class Planner(Protocol):
    """Writes a program for a command; offline (retrieval) or LLM-backed.

    Attributes:
        name: Shown in reports ("offline", "llm").
        uses_llm: Whether a model writes the programs: then corrections that need
            understanding go to it, a repeated program is fed back instead of ending the task,
            and the engine keeps one attempt per task. Read through :func:`uses_llm`, which
            counts a planner that does not declare it as not using one.
    """

    name: str
    uses_llm: bool

    def write(self, ctx: PlanContext) -> Program:
        """Write a program (and its check) for ``ctx.command``.

        Args:
            ctx: The command, the scene and the feedback of earlier attempts.

        Returns:
            The program to run and the check that verifies it.

        Raises:
            PlannerCannotHandle: The planner cannot turn this command into a program.
            UnknownObjectError: The command names an object that is not in the scene.
            EmptyCommandError: The command is empty.
        """
        ...


def uses_llm(planner: object) -> bool:
    """Whether ``planner`` declares ``uses_llm = True`` (see :class:`Planner`).

    Planners written before the attribute was declared (scripted test planners, plugins) do
    not have it; they do not use a model.
    """
    return bool(getattr(planner, "uses_llm", False))


@runtime_checkable
class LearningPlanner(Protocol):
    """A planner that learns from what the engine saw: verified successes and corrections.

    The engine calls these after the fact; learning is best effort (an error is logged, the
    task's outcome stands).
    """

    def record_success(self, ctx: PlanContext, program: Program) -> None:
        """Remember a program the verifier confirmed for ``ctx.command``."""
        ...

    def record_lesson(
        self, command: str, scene: list[SceneObject], corrections: list[str], program: Program
    ) -> None:
        """Remember the program a person's corrections led to, for ``command`` in ``scene``."""
        ...


@runtime_checkable
class CandidatePlanner(Protocol):
    """A planner that can offer several programs for one attempt (rehearsed in turn).

    The engine rehearses them in the twin in the order given and executes the first one the
    twin verifies; the others are never run in the real world.
    """

    name: str

    def write(self, ctx: PlanContext) -> Program:
        """Write one program (see :class:`Planner`)."""
        ...

    def candidates(self, ctx: PlanContext, k: int) -> list[Program]:
        """Up to ``k`` distinct programs for ``ctx``, best first (at least one).

        Raises:
            The same errors as :meth:`write`.
        """
        ...


@runtime_checkable
class FollowupPlanner(Protocol):
    """A planner that reads a session's follow-ups by their words and leaves undo to the engine.

    "undo that" needs no program: the engine restores the world snapshot the turn returned
    here started from. The planner writes the programs of the other follow-ups ("again", "do
    the same with the other blocks") itself, from ``ctx.history``.
    """

    def undo_target(self, ctx: PlanContext) -> SessionTurn | None:
        """The earlier turn whose whole task ``ctx.command`` asks to undo, or None.

        None when the command does not ask for an undo ("undo that", "put it back").

        Raises:
            PlannerCannotHandle: it asks for an undo, but no earlier turn of ``ctx.history``
                changed the world.
        """
        ...
