"""Rehearsal: run a program and its check in a twin of the scene before the real robot moves.

The twin is a second world built from what ``observe`` *detected* (``sim/_twin.py``), never
from the real world's true state. One twin is kept per thread; its starting state is saved as
a snapshot file in the thread's snapshot folder, so every rehearsal starts from the same
perceived scene, and a process that was killed during a rehearsal rebuilds the same twin from
that file on resume. The graph marks the twin stale when the real world changed in a way
perception must see again (a failed real execution, a correction that re-plans).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policywright.agent.host import RegistryHost
from policywright.agent.planner import Program
from policywright.agent.sandbox import ExecReport, Sandbox
from policywright.agent.verify import CodeVerifier
from policywright.primitives import PrimitiveContext, Registry

if TYPE_CHECKING:
    from policywright.sim import SafetyLimits, World

__all__ = [
    "RehearsalResult",
    "TwinStore",
    "program_digest",
    "run_feedback",
    "twin_factory",
]

logger = logging.getLogger(__name__)

#: Builds a twin of a world from its detections; None when the world has no twin yet.
TwinFactory = Callable[["World"], "World"]


def twin_factory(world: World) -> TwinFactory | None:
    """The twin builder for ``world``'s kind, or None (the world is then not rehearsed)."""
    from policywright.sim import TabletopWorld

    if isinstance(world, TabletopWorld):
        from policywright.sim._twin import tabletop_twin

        def build(real: World) -> World:
            assert isinstance(real, TabletopWorld)
            return tabletop_twin(real, real.detect())

        return build
    return None


def resume_twin(path: Path, safety: SafetyLimits | None = None) -> World:
    """Rebuild a twin from its snapshot (after the process that built it was killed)."""
    import json

    from policywright.sim import SceneSpec, TabletopWorld

    sidecar = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    twin = TabletopWorld(SceneSpec.model_validate(sidecar["spec"]), safety=safety)
    twin.restore_state(path)
    return twin


def program_digest(program: Program) -> str:
    """A short digest of a program and its check (to spot a program that failed before)."""
    text = f"{program.code}\n\x00\n{program.check_code}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class _Twin:
    world: World
    snapshot: Path


@dataclass
class TwinStore:
    """The twins of the engine's threads (one each; built lazily, closed with the engine)."""

    factory: TwinFactory | None
    #: The real world's safety limits (a twin rebuilt from its file gets them too).
    safety: SafetyLimits | None = None
    _twins: dict[str, _Twin] = field(default_factory=dict)

    def get(self, thread_id: str, snapshot: str | None) -> _Twin | None:
        """The thread's twin at ``snapshot`` (rebuilt from the file when not in memory)."""
        if snapshot is None:
            return None
        twin = self._twins.get(thread_id)
        if twin is not None and str(twin.snapshot) == snapshot:
            return twin
        path = Path(snapshot)
        if not path.exists():
            return None
        self.drop(thread_id)
        twin = _Twin(resume_twin(path, self.safety), path)
        self._twins[thread_id] = twin
        return twin

    def build(self, real: World, thread_id: str, path: Path) -> _Twin:
        """Build a new twin of ``real`` from its detections and save its starting state."""
        assert self.factory is not None
        self.drop(thread_id)
        world = self.factory(real)
        world.save_state(path)
        twin = _Twin(world, path)
        self._twins[thread_id] = twin
        return twin

    def drop(self, thread_id: str) -> None:
        """Close and forget a thread's twin."""
        twin = self._twins.pop(thread_id, None)
        if twin is not None:
            twin.world.close()

    def close(self) -> None:
        """Close every twin."""
        for thread in list(self._twins):
            self.drop(thread)


def run_feedback(report: ExecReport) -> str:
    """The planner's feedback for a program run that did not end ok (twin or real world)."""
    where = f" at line {report.line}" if report.line else ""
    text = f": {report.source_line.strip()!r}" if report.source_line else ""
    kind = f"{report.error_type}: " if report.error_type else ""
    out = f"the program ended with status '{report.status}'{where}{text}: {kind}{report.message}"
    if report.rule:
        out += f" (rule {report.rule})"
    return out


@dataclass(frozen=True)
class RehearsalResult:
    """What happened to one program in the twin.

    Attributes:
        ok: The program ran to its end and its check said the command was achieved.
        report: The program's execution report in the twin.
        verdict: The check's verdict in the twin (None when the program did not finish).
        wall_s: Wall-clock seconds of the rehearsal (program and check).
        sim_s: Simulated seconds the twin advanced.
        said: What the program told the user in the twin (not shown as the robot's words).
    """

    ok: bool
    report: ExecReport
    verdict: dict[str, Any] | None
    wall_s: float
    sim_s: float
    said: tuple[str, ...] = ()

    def feedback(self) -> str:
        """The planner's feedback for a failed rehearsal (the real robot did not move)."""
        head = (
            "in the rehearsal (a twin of the scene built from the cameras; the real robot "
            "did not move)"
        )
        if self.report.status != "ok":
            return f"{head} {run_feedback(self.report)}"
        reason = (self.verdict or {}).get("reason", "")
        return f"{head} the program ran but its check said the command was not achieved: {reason}"

    def record(self) -> dict[str, Any]:
        """Plain data for the attempt record."""
        return {
            "ok": self.ok,
            "status": self.report.status,
            "message": self.report.message,
            "calls": len(self.report.calls),
            "verdict": self.verdict,
            "wall_s": round(self.wall_s, 3),
            "sim_s": round(self.sim_s, 3),
        }


def rehearse_program(
    twin: World,
    snapshot: Path,
    program: Program,
    command: str,
    *,
    sandbox: Sandbox,
    registry: Registry,
    skills: dict[str, str],
    seed: int,
) -> RehearsalResult:
    """Run ``program`` and then its check in ``twin``, from its starting snapshot.

    The same sandbox, primitives and safety limits as the real run; nothing is journaled and
    no call hook sees it (it is not the real world).
    """
    started = time.perf_counter()
    twin.restore_state(snapshot)
    start_sim = twin.sim_time
    said: list[str] = []
    prim = PrimitiveContext(world=twin, skills=skills, say_sink=said.append)
    host = RegistryHost(registry, prim, mode="act")
    report = sandbox.run(program.code, host, seed=seed)
    verdict: dict[str, Any] | None = None
    ok = False
    if report.status == "ok":
        prim.invalidate()
        v = CodeVerifier(sandbox, registry, prim, name="code (twin)").verify(command, program)
        verdict = dict(v)
        ok = bool(v.get("success"))
    return RehearsalResult(
        ok=ok,
        report=report,
        verdict=verdict,
        wall_s=time.perf_counter() - started,
        sim_s=twin.sim_time - start_sim,
        said=tuple(said),
    )
