"""The engine side of the sandbox channel: validate each call, check safety, run the primitive."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from policywright.agent._journal import CallRow, Journal, call_key
from policywright.agent.sandbox import PrimitiveCallError, to_jsonable
from policywright.errors import (
    PolicywrightError,
    Preempted,
    PrimitiveError,
    SafetyViolation,
    UnknownNameError,
    UserError,
)
from policywright.primitives import PrimitiveContext, Registry, has_non_finite

if TYPE_CHECKING:
    from policywright.agent.corrections import CorrectionChannel

__all__ = ["CallEvent", "CallLog", "RegistryHost"]

logger = logging.getLogger(__name__)

Mode = Literal["act", "check"]
CallEvent = dict[str, Any]


def _short_validation(name: str, exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:4]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return f"{name}(): invalid argument(s): " + "; ".join(parts)


#: Action primitives whose target a nudge can shift, and the argument that holds the target.
TARGET_ARGS: dict[str, str] = {
    "put_first_on_second": "target",
    "place": "target",
    "move_ee_to": "pos",
}


@dataclass
class CallLog:
    """Journals a program's calls so that a re-run replays the finished ones instead of acting.

    A program is deterministic given the results of its calls, so re-running it and answering
    each call that already finished (same index, same arguments) from the journal brings it back
    to where it stopped -- after a correction, a "continue" or a killed process -- without
    moving the robot twice. The first call that differs ends the replay and everything after it
    runs live.
    """

    journal: Journal
    thread_id: str
    attempt: int
    #: Saves the world under a label and returns the path (before and after each action).
    snapshot: Callable[[str], str]
    replay: list[CallRow] = field(default_factory=list)
    #: Call index -> (dx, dy, dz) added to that call's target (a nudge to the action in progress).
    adjust: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    next_idx: int = 0
    replaying: bool = True


class RegistryHost:
    """A :class:`~policywright.agent.sandbox.PrimitiveHost` backed by a primitive registry.

    In "act" mode every primitive except the check-only ones is callable; in "check" mode only
    the read-only ones are, so a verification program cannot move the robot.
    """

    def __init__(
        self,
        registry: Registry,
        ctx: PrimitiveContext,
        *,
        mode: Mode = "act",
        on_call: Callable[[CallEvent], None] | None = None,
        on_start: Callable[[CallEvent], None] | None = None,
        channel: CorrectionChannel | None = None,
        log: CallLog | None = None,
    ) -> None:
        """Create a host.

        Args:
            registry: the primitives.
            ctx: the engine-side context handed to each primitive.
            mode: "act" for task programs, "check" for verification programs.
            on_call: receives an event after each call (for progress output).
            on_start: receives an event before each call (the line being executed).
            channel: corrections; a waiting one preempts the program at the next call, and
                "stop" also ends the call in progress.
            log: journals calls and replays finished ones (task programs only).
        """
        self.registry, self.ctx, self.mode, self.on_call = registry, ctx, mode, on_call
        self.on_start, self.channel, self.log = on_start, channel, log
        if mode == "check":
            self._names = registry.names(read_only=True)
        else:
            self._names = [s.name for s in registry if s.category != "check"]

    def names(self) -> Collection[str]:
        """Names the program may call."""
        return list(self._names)

    def array_returning(self) -> Collection[str]:
        """Names whose list results become numpy arrays in the program."""
        return [n for n in self._names if self.registry.get(n).returns_array]

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        """Validate, safety-check and run one primitive call from the program.

        Raises:
            PrimitiveCallError: the program made a bad call (it sees an exception).
            SafetyViolation: the call breaks a safety limit (the run is refused).
        """
        started = time.perf_counter()
        event: CallEvent = {"name": name, "args": args, "kwargs": kwargs, "line": line}
        if self.channel is not None and self.channel.pending():
            # A primitive boundary: the correction is handled before anything else moves.
            raise Preempted("a correction arrived")
        log = self.log
        idx = -1
        if log is not None:
            idx = log.next_idx
            log.next_idx += 1
            replayed = self._replayed(log, idx, name, args, kwargs)
            if replayed is not None:
                event.update(ok=True, result=replayed[0], replayed=True, duration_s=0.0)
                event["sim_time"] = float(self.ctx.world.sim_time)
                if self.on_call is not None:
                    self.on_call(event)
                return replayed[0]
        if self.on_start is not None:
            self.on_start(dict(event))
        try:
            if name not in self._names:
                if name in self.registry:
                    raise PrimitiveCallError(f"{name}() is not allowed in a {self.mode} program")
                raise PrimitiveCallError(str(UnknownNameError("primitive", name, self._names)))
            spec = self.registry.get(name)
            if has_non_finite(args) or has_non_finite(kwargs):
                raise SafetyViolation("non-finite", f"{name}() was given NaN or an infinity")
            try:
                values = spec.validate(args, kwargs)
            except TypeError as exc:
                raise PrimitiveCallError(str(exc)) from None
            except pydantic.ValidationError as exc:
                raise PrimitiveCallError(_short_validation(name, exc)) from None
            if log is not None and idx in log.adjust and name in TARGET_ARGS:
                values = self._shifted(name, values, log.adjust[idx])
                event["adjusted"] = list(log.adjust[idx])
            mutating = not spec.read_only
            row = None
            if log is not None:
                row = CallRow(
                    thread_id=log.thread_id,
                    attempt=log.attempt,
                    idx=idx,
                    name=name,
                    args=call_key(name, args, kwargs),
                    line=line,
                    mutating=mutating,
                    status="started",
                )
                if mutating:
                    # An action is journaled before it moves (with the world it started from),
                    # so a crash mid-action resumes from that snapshot; a read is journaled once.
                    row.before_snap = log.snapshot(f"a{log.attempt}-c{idx}-before")
                    log.journal.call_started(row)
            try:
                result = to_jsonable(spec.func(self.ctx, **values))
            except (PrimitiveError, UserError) as exc:
                if self.channel is not None and self.channel.stop_requested():
                    raise Preempted(f"stopped during {name}()") from None
                raise PrimitiveCallError(str(exc)) from None
            if log is not None and row is not None:
                if mutating:
                    after = log.snapshot(f"a{log.attempt}-c{idx}-after")
                    log.journal.call_done(log.thread_id, log.attempt, idx, result, after)
                else:
                    log.journal.call_started(
                        row.model_copy(update={"status": "done", "result": json.dumps(result)})
                    )
            event.update(ok=True, result=result)
            if self.channel is not None and self.channel.stop_requested():
                raise Preempted(f"stopped after {name}()")
            return result
        except Preempted as exc:
            event.update(ok=event.get("ok", False), preempted=str(exc))
            raise
        except SafetyViolation as exc:
            event.update(ok=False, error=str(exc), safety=exc.rule)
            raise
        except PolicywrightError as exc:
            event.update(ok=False, error=str(exc))
            raise
        finally:
            event["duration_s"] = time.perf_counter() - started
            event["sim_time"] = float(self.ctx.world.sim_time)
            if self.on_call is not None:
                self.on_call(event)

    def _replayed(
        self, log: CallLog, idx: int, name: str, args: list[Any], kwargs: dict[str, Any]
    ) -> tuple[Any] | None:
        """The recorded result of call ``idx`` when it already finished with these arguments."""
        if not log.replaying:
            return None
        row = log.replay[idx] if idx < len(log.replay) else None
        if row is not None and row.status == "done" and row.args == call_key(name, args, kwargs):
            return (row.result_value(),)
        if idx < len(log.replay):
            logger.info("replay of %s ends at call %d (%s): running live", log.thread_id, idx, name)
            log.journal.drop_calls_from(log.thread_id, log.attempt, idx)
        log.replaying = False
        return None

    def _shifted(
        self, name: str, values: dict[str, Any], offset: tuple[float, float, float]
    ) -> dict[str, Any]:
        from policywright.primitives import resolve_target_xy

        out = dict(values)
        key = TARGET_ARGS[name]
        if name == "move_ee_to":
            out[key] = [float(v) + d for v, d in zip(values[key], offset, strict=False)]
        else:
            xy = resolve_target_xy(self.ctx, values[key])
            out[key] = [xy[0] + offset[0], xy[1] + offset[1]]
        return out
