"""Plain-data models of the sandbox: limits, static reports and execution reports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_NAME_CHARS",
    "MAX_RECORDED_BYTES",
    "MAX_SOURCE_LINE_CHARS",
    "MAX_VIOLATIONS",
    "UNDEFINED_NAME_RULE",
    "CallRecord",
    "ExecReport",
    "SandboxLimits",
    "StaticReport",
    "Violation",
    "clip_text",
]

#: The rule id of a name that is loaded but defined nowhere (the planner may write it).
UNDEFINED_NAME_RULE = "undefined-name"

# Bounds on everything that crosses the boundary into reports, records, journals and prompts
# (docs/sandbox.md, "Bounded data").  A program chooses what its calls echo back: without
# these, 300 caught calls with a 1 MB argument made a 300 MB report.
#: Longest error text kept: a program's exception, a host's refusal, a violation message.
MAX_ERROR_CHARS = 2000
#: Longest name or attribute kept in a violation.
MAX_NAME_CHARS = 200
#: Longest source line kept in a report.
MAX_SOURCE_LINE_CHARS = 500
#: Most violations of each kind (blocking, undefined names) kept in a static report.
MAX_VIOLATIONS = 50
#: Arguments or a result whose JSON is longer than this are replaced by a placeholder in
#: :class:`CallRecord` (the call itself still gets them).
MAX_RECORDED_BYTES = 64 * 1024

_CLIP_MARKER = " [... {n} characters cut]"


def clip_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was cut.

    Args:
        text: Any text that crosses the sandbox boundary.
        limit: The most characters to keep, the marker included.

    Returns:
        ``text`` itself when short enough.
    """
    if len(text) <= limit:
        return text
    # The marker's count has at most as many digits as len(text): the result fits the limit.
    keep = max(limit - len(_CLIP_MARKER.format(n=len(text))), 0)
    return text[:keep] + _CLIP_MARKER.format(n=len(text) - keep)


class Violation(BaseModel):
    """One reason why a program is refused before it runs.

    Attributes:
        rule: A stable rule id, e.g. "import", "dunder", "forbidden-name", "undefined-name".
        line: 1-based line of the offending code (0 when the whole input is at fault).
        col: 0-based column.
        message: What is wrong and how to fix it, written for the planner.
        name: The offending name or attribute, when there is one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    line: int
    col: int
    message: str
    name: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message} [{self.rule}]"


class StaticReport(BaseModel):
    """The result of :func:`check_program`.

    Attributes:
        ok: True when there is no violation at all.
        violations: Every violation, sorted by position.
    """

    model_config = ConfigDict(extra="forbid")

    ok: bool
    violations: list[Violation] = Field(default_factory=list)

    @property
    def undefined_names(self) -> list[str]:
        """Names loaded but defined nowhere, in order of first use (no duplicates)."""
        seen: dict[str, None] = {}
        for v in self.violations:
            if v.rule == UNDEFINED_NAME_RULE and v.name is not None:
                seen.setdefault(v.name, None)
        return list(seen)

    @property
    def blocking(self) -> list[Violation]:
        """The violations other than undefined names (they cannot be fixed by defining code)."""
        return [v for v in self.violations if v.rule != UNDEFINED_NAME_RULE]

    def feedback(self) -> str:
        """All violations as one text for the planner, one per line."""
        return "\n".join(str(v) for v in self.violations)


class SandboxLimits(BaseModel):
    """Resource limits of one program run.

    Attributes:
        cpu_seconds: RLIMIT_CPU of the child (a backstop behind the wall clock).
        wall_seconds: Wall-clock time the child may spend running its own code; the time the
            engine spends serving primitive calls (physics) is not counted.
        total_wall_seconds: Absolute wall-clock cap of a run, primitive calls included.
        memory_mb: RLIMIT_AS of the child in MiB, the address space of the pre-imported
            numpy + shapely runtime included: that runtime alone maps about 127 MiB, a small
            program needs 160 MiB in all, and the default 512 leaves about 385 MiB to the
            program.
        max_output_chars: Captured ``print`` output beyond this ends the run.
        max_calls: Primitive call budget of one run.
        max_source_chars: Longest program accepted.
        max_message_bytes: Longest JSON line accepted on the channel.
        isolation: "strict" refuses to run a program when a kernel layer (namespaces,
            Landlock, seccomp) is unavailable, naming what is missing and how to get it;
            "best-effort" runs with the layers the kernel offers and logs once, as a warning,
            which are off (docs/sandbox.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_seconds: int = Field(default=10, ge=1)
    wall_seconds: float = Field(default=30.0, gt=0)
    total_wall_seconds: float = Field(default=600.0, gt=0)
    memory_mb: int = Field(default=512, ge=64)
    max_output_chars: int = Field(default=20_000, ge=0)
    max_calls: int = Field(default=1000, ge=0)
    max_source_chars: int = Field(default=20_000, ge=1)
    max_message_bytes: int = Field(default=1 << 20, ge=1024)
    isolation: Literal["strict", "best-effort"] = "strict"


class CallRecord(BaseModel):
    """One primitive call made by a program, as the engine saw it.

    Attributes:
        name: The primitive.
        args: Positional arguments (JSON values).
        kwargs: Keyword arguments (JSON values).
        line: The program line that made the call.
        ok: False when the call was rejected (PrimitiveCallError or a safety violation).
        result: The JSON result when ok.
        error: The error message when not ok.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    line: int | None = None
    ok: bool = True
    result: Any = None
    error: str | None = None


ExecStatus = Literal["ok", "refused", "error", "timeout", "memory", "preempted"]


class ExecReport(BaseModel):
    """What happened when a program ran.

    Attributes:
        status: "ok", "refused" (static check or safety limit), "error" (an exception or a
            limit such as the output size), "timeout", "memory" or "preempted" (a person's
            correction or "stop" interrupted it at a primitive boundary).
        rule: The rule that refused the program ("import", "safety:workspace", ...).
        line: The failing program line, when known.
        source_line: The text of that line.
        error_type: The exception type name for "error" (or "OutputLimitExceeded", ...).
        message: Feedback for the planner.
        violations: The static violations when refused before running.
        calls: Every primitive call, in order.
        output: The captured ``print`` output (truncated with a marker).
        duration_s: Wall-clock duration of the run.
    """

    model_config = ConfigDict(extra="forbid")

    status: ExecStatus
    rule: str | None = None
    line: int | None = None
    source_line: str | None = None
    error_type: str | None = None
    message: str = ""
    violations: list[Violation] = Field(default_factory=list)
    calls: list[CallRecord] = Field(default_factory=list)
    output: str = ""
    duration_s: float = 0.0
