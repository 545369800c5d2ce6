"""Verification: did the command get done? A protocol, and the code-predicate verifier.

The planner supplies a check program with each task program; it runs in the sandbox with the
read-only primitives plus ``verdict(success, reason)``, on perceived object states. A VLM
verifier (a later issue) implements the same protocol and can be combined with this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from policywright.agent.host import RegistryHost
from policywright.agent.planner import Program
from policywright.agent.sandbox import Sandbox
from policywright.agent.state import VerdictRecord
from policywright.primitives import PrimitiveContext, Registry

__all__ = ["CodeVerifier", "Verifier"]


class Verifier(Protocol):
    """Decides whether a command was achieved after its program ran."""

    name: str

    def verify(self, command: str, program: Program) -> VerdictRecord:
        """Return the verdict and its reason."""
        ...


@dataclass
class CodeVerifier:
    """Runs the program's check code in the sandbox on the perceived scene."""

    sandbox: Sandbox
    registry: Registry
    ctx: PrimitiveContext
    name: str = "code"

    def verify(self, command: str, program: Program) -> VerdictRecord:
        """Run ``program.check_code`` and return the single verdict it reports."""
        self.ctx.invalidate()
        self.ctx.verdicts.clear()
        host = RegistryHost(self.registry, self.ctx, mode="check")
        report = self.sandbox.run(program.check_code, host)
        if report.status != "ok":
            where = f" (line {report.line})" if report.line else ""
            return VerdictRecord(
                success=False,
                reason=f"the check program did not finish: {report.status}{where}: "
                f"{report.message}",
                source=self.name,
            )
        if len(self.ctx.verdicts) != 1:
            return VerdictRecord(
                success=False,
                reason="the check program must call verdict(success, reason) exactly once; "
                f"it called it {len(self.ctx.verdicts)} times",
                source=self.name,
            )
        success, reason = self.ctx.verdicts[0]
        return VerdictRecord(success=bool(success), reason=reason, source=self.name)
