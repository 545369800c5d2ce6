"""The engine side of the sandbox channel: validate each call, check safety, run the primitive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any, Literal

import pydantic

from policywright.agent.sandbox import PrimitiveCallError, to_jsonable
from policywright.errors import (
    PolicywrightError,
    PrimitiveError,
    SafetyViolation,
    UnknownNameError,
    UserError,
)
from policywright.primitives import PrimitiveContext, Registry
from policywright.primitives._registry import has_non_finite

__all__ = ["CallEvent", "RegistryHost"]

logger = logging.getLogger(__name__)

Mode = Literal["act", "check"]
CallEvent = dict[str, Any]


def _short_validation(name: str, exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:4]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return f"{name}(): invalid argument(s): " + "; ".join(parts)


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
    ) -> None:
        """Create a host.

        Args:
            registry: the primitives.
            ctx: the engine-side context handed to each primitive.
            mode: "act" for task programs, "check" for verification programs.
            on_call: receives an event after each call (for progress output).
        """
        self.registry, self.ctx, self.mode, self.on_call = registry, ctx, mode, on_call
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
            try:
                result = to_jsonable(spec.func(self.ctx, **values))
            except (PrimitiveError, UserError) as exc:
                raise PrimitiveCallError(str(exc)) from None
            event.update(ok=True, result=result)
            return result
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
