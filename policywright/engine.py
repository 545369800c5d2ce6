"""The engine: one world, one planner, one sandbox, one checkpointed graph."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field

from policywright.agent._images import png_b64
from policywright.agent._journal import Journal
from policywright.agent._rehearse import TwinStore, twin_factory
from policywright.agent._usage import UsageMeter
from policywright.agent.corrections import (
    CorrectionAck,
    CorrectionChannel,
    PendingCorrection,
    parse_correction,
)
from policywright.agent.graph import (
    EngineContext,
    compile_graph,
    open_checkpointer,
    recursion_limit,
)
from policywright.agent.planner import (
    FollowupPlanner,
    OfflinePlanner,
    PlanContext,
    Planner,
    ProgramMemory,
    SceneObject,
    SessionTurn,
    uses_llm,
)
from policywright.agent.sandbox import Sandbox
from policywright.agent.state import TaskState
from policywright.agent.verify import CodeVerifier, CombinedVerifier, Verifier, VLMVerifier
from policywright.config import EngineConfig
from policywright.errors import (
    ConfigError,
    EmptyCommandError,
    PlannerCannotHandle,
    UnknownNameError,
    UnknownThreadError,
    UserError,
)
from policywright.primitives import PrimitiveContext, Registry, default_registry
from policywright.sim import (
    COLORS,
    World,
    default_world_registry,
    scene_for_command,
)
from policywright.sim import mentioned_objects as mentioned_objects  # re-exported for callers

__all__ = [
    "WORLD_KINDS",  # noqa: F822 -- served by the module __getattr__ (the world registry)
    "Engine",
    "HistoryStep",
    "ObjectPose",
    "TaskResult",
    "ThreadInfo",
    "Usage",
    "make_world",
    "resume_world",
    "scene_for_command",
    "session_world",
]


def __getattr__(name: str) -> Any:
    # WORLD_KINDS is read from the world registry when asked for, not at import: loading the
    # registry imports the plugins' entry points, which may import this package.
    if name == "WORLD_KINDS":
        #: The worlds ``make_world`` builds (the built-ins: tabletop, floor, mobile).
        return tuple(default_world_registry().ids())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


logger = logging.getLogger(__name__)

_SESSION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

#: The longest command accepted; longer text is not a command but a paste accident.
MAX_COMMAND_CHARS = 2000


class Usage(BaseModel):
    """LLM usage of a task, summed over every model call (all zero for the offline planner).

    Attributes:
        llm_calls: Model calls (including response-cache hits).
        input_tokens: Fresh prompt tokens.
        cached_tokens: Prompt tokens read from the provider's prompt cache.
        cache_write_tokens: Prompt tokens written to the provider's prompt cache.
        output_tokens: Completion tokens.
        latency_s: Seconds spent waiting for models.
        cost_usd: Estimated cost from the price table.
        cache_hits: Calls answered by the on-disk response cache.
        plan_cache_hits: Attempts whose program came from the plan cache (no model call).
    """

    model_config = ConfigDict(extra="forbid")

    llm_calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cache_hits: int = 0
    plan_cache_hits: int = 0

    @classmethod
    def from_state(cls, usage: dict[str, Any], attempts: Sequence[dict[str, Any]]) -> Usage:
        """Sum the state's usage dict; count plan-cache hits from the attempts' provenance."""
        hits = sum(
            "plan-cache" in str(a.get("program", {}).get("provenance", "")) for a in attempts
        )
        return cls(
            llm_calls=int(usage.get("calls", 0)),
            input_tokens=int(usage.get("input_tokens", 0)),
            cached_tokens=int(usage.get("cached_tokens", 0)),
            cache_write_tokens=int(usage.get("cache_write_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
            latency_s=float(usage.get("latency_s", 0.0)),
            cost_usd=float(usage.get("cost_usd", 0.0)),
            cache_hits=int(usage.get("cache_hits", 0)),
            plan_cache_hits=hits,
        )


class ObjectPose(BaseModel):
    """An object's true pose (for reports; planners only ever see perception)."""

    model_config = ConfigDict(extra="forbid")

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]


class TaskResult(BaseModel):
    """The outcome of one command."""

    model_config = ConfigDict(extra="forbid")

    command: str
    thread_id: str
    session: str | None = None
    status: Literal["succeeded", "failed", "waiting", "stopped"]
    reason: str
    #: When ``status == "waiting"``: ``{"kind", "question", "options"}`` to answer with
    #: :meth:`Engine.resume`.
    question: dict[str, Any] | None = None
    #: Corrections the person sent and what was done with each.
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    actor: Literal["llm", "user", "us", ""] = ""
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    verdict: dict[str, Any] | None = None
    usage: Usage = Field(default_factory=Usage)
    sim_time: float = 0.0
    objects_initial: dict[str, ObjectPose] = Field(default_factory=dict)
    objects_final: dict[str, ObjectPose] = Field(default_factory=dict)
    image: str | None = None
    gif: str | None = None
    #: Programs run in the twin before the real robot moved, and their wall-clock seconds.
    rehearsals: int = 0
    rehearsal_wall_s: float = 0.0
    #: Programs run in the real world (1 for a task whose first real execution succeeded).
    real_executions: int = 0

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 the task failed, 2 the user must act, 3 a bug, 4 waiting."""
        if self.status == "succeeded":
            return 0
        if self.status == "waiting":
            return 4
        if self.status == "stopped":
            return 1
        if self.actor == "user":
            return 2
        return 3 if self.actor == "us" else 1


class ThreadInfo(BaseModel):
    """A task thread, for session lists."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    command: str
    status: str
    updated: str
    session: str | None = None


class HistoryStep(BaseModel):
    """One checkpointed step of a thread."""

    model_config = ConfigDict(extra="forbid")

    step: int
    node: str
    next: list[str]
    summary: str
    checkpoint_id: str


#: Words after a colour that do not name an object ("the red one", "red and blue blocks").
_NOT_OBJECTS = frozenset(
    {
        *("one", "ones", "and", "or", "then", "to", "in", "into", "on", "onto", "of", "with"),
        *("from", "at", "by", "side", "sides", "corner", "corners", "edge", "area", "part"),
        *("end", "half", "colour", "color", "colours", "colors", "thing", "things", "object"),
        *("objects", "item", "items", "stuff", "is", "are", "it", "instead", "too"),
    }
)
_COLOUR_NOUN = re.compile(r"\b(" + "|".join(COLORS) + r")\s+([a-z]+)\b", re.IGNORECASE)


def unknown_mentions(command: str, names: Sequence[str]) -> list[str]:
    """The "<colour> <thing>" phrases of ``command`` that name no object of ``names``, in order.

    "the purple elephant" with no purple elephant, "the red block" when only a blue one is
    there; plurals ("the red blocks") and numbered names ("red block 2") count as present.
    """
    present = [" ".join(n.lower().split()) for n in names]
    out: list[str] = []
    for colour, noun in _COLOUR_NOUN.findall(command):
        noun = noun.lower()
        if noun in _NOT_OBJECTS:
            continue
        forms = {noun, noun.removesuffix("s"), noun.removesuffix("es")}
        if forms & {"cube"}:
            forms.add("block")  # "cube" is read as block everywhere
        wanted = [f"{colour.lower()} {w}" for w in forms]
        if any(n == w or n.startswith(w + " ") for n in present for w in wanted):
            continue
        phrase = f"{colour.lower()} {noun}"
        if phrase not in out:
            out.append(phrase)
    return out


def make_world(
    kind: str,
    command: str,
    *,
    seed: int = 0,
    objects: Sequence[str] | None = None,
    scene_file: Path | None = None,
    gui: bool = False,
    config: EngineConfig | None = None,
) -> World:
    """Build the world a command runs in.

    Args:
        kind: A registered world's id ("tabletop", "floor", "mobile", or a plugin's; see
            :mod:`policywright.worlds`).
        command: The command (the tabletop scene holds every object it mentions).
        seed: The scene's seed.
        objects: Tabletop objects to place (instead of those the command mentions).
        scene_file: A tabletop SceneSpec YAML file.
        gui: Open a PyBullet window.
        config: Engine settings (safety limits).

    Raises:
        UnknownNameError: ``kind`` is not a world.
        UserError: the scene cannot be built.
    """
    return default_world_registry().make(
        kind, command, seed=seed, objects=objects, scene_file=scene_file, gui=gui, config=config
    )


def _poses(world: World) -> dict[str, ObjectPose]:
    return {
        name: ObjectPose(
            position=tuple(float(v) for v in pose.position),  # type: ignore[arg-type]
            orientation=tuple(float(v) for v in pose.orientation),  # type: ignore[arg-type]
        )
        for name, pose in world.true_poses().items()
    }


def make_planner(
    name: str,
    config: EngineConfig,
    *,
    meter: UsageMeter | None = None,
    registry: Registry | None = None,
    world: World | None = None,
) -> Planner:
    """The planner for ``config``: the LLM planner when ``config.llm`` is set, else ``name``.

    Args:
        name: The planner when no model is configured ("offline").
        config: Engine settings (``llm``, ``llm_settings``, ``plan_cache``, paths).
        meter: Receives the usage of every model call.
        registry: The primitives the planner's listing shows (default: all installed).
        world: The world; a vision model also sees its overview camera.

    Raises:
        UnknownNameError: ``name`` is not a planner.
        ModelError: the model cannot be set up (missing key, unknown provider).
    """
    if config.llm:
        from policywright.agent.listing import api_listing
        from policywright.agent.llm import make_chat_model
        from policywright.agent.planner import LLMPlanner

        kind = world.kind if world is not None else "tabletop"
        reg = (registry or default_registry()).for_world(kind)
        model = make_chat_model(config.llm, config.llm_settings)
        render_image = None
        if world is not None:
            seen = world

            def render_image() -> str | None:
                return png_b64(seen.render(seen.cameras[0], 320, 240))

        return LLMPlanner(
            model,
            ProgramMemory(config.memory_path),
            lambda mode: api_listing(reg, "check" if mode == "check" else "act"),
            usage_sink=(meter or UsageMeter()).add,
            plan_cache=config.plan_cache,
            exclude_families=tuple(config.memory_exclude_families),
            world_kind=kind,
            render_image=render_image,
            registry=reg,
            k_examples=2,
        )
    if name == "offline":
        return OfflinePlanner(
            ProgramMemory(config.memory_path),
            exclude_families=tuple(config.memory_exclude_families),
        )
    raise UnknownNameError("planner", name, ["offline", "llm (set --llm)"])


class Engine:
    """Runs commands against one world: observe, plan, check, execute, verify, checkpointed."""

    def __init__(
        self,
        world: World,
        config: EngineConfig | None = None,
        *,
        planner: Planner | None = None,
        registry: Registry | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        """Create an engine around an existing world.

        Args:
            world: the simulated world (the engine does not own it).
            config: settings; defaults are fine for a first run.
            planner: overrides ``config.planner``.
            registry: the primitives (default: every installed primitive that works in the
                world's kind).
            sandbox: a started sandbox to share; default: the engine starts its own.
        """
        self.config = config or EngineConfig()
        try:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
            probe = self.config.state_dir / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"the state folder {str(self.config.state_dir)!r} is not writable ({exc}); "
                "choose another with --state-dir"
            ) from exc
        self.world = world
        self.meter = UsageMeter()
        #: Callables given each "call_start" and "call" event in the graph's thread, while the
        #: program waits for that call (the world stands still: a hook may read or change it,
        #: as the evaluations' perturbations do). ``on_event`` runs in the caller's thread,
        #: concurrently with the robot's motion.
        self.call_hooks: list[Callable[[dict[str, Any]], None]] = []
        self.registry = (registry or default_registry()).for_world(world.kind)
        self.planner = planner or make_planner(
            self.config.planner,
            self.config,
            meter=self.meter,
            registry=self.registry,
            world=world,
        )
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(self.config.sandbox)
        self.prim = PrimitiveContext(world=world, skills=self.config.skill_ids())
        self.verifier = self._make_verifier()
        from policywright._private.sessions import SessionStore

        self.sessions = SessionStore(self.config.state_dir / "sessions.sqlite")
        self.checkpointer = open_checkpointer(
            self.config.checkpoint_path, synchronous=self.config.checkpoint_sync
        )
        self.graph = compile_graph(self.checkpointer)
        self.journal = Journal(self.config.journal_path)
        #: Corrections for the running task; :meth:`post_correction` writes to it.
        self.channel = CorrectionChannel(self.journal)
        self.twins = TwinStore(twin_factory(world), safety=self.config.safety)
        if self.config.rehearse and self.twins.factory is None:
            logger.warning(
                "the %s world has no twin yet: programs run on the robot without rehearsal",
                world.kind,
            )
        self._busy = threading.Lock()
        #: session -> the thread whose end this engine's world holds (no restore needed).
        self._world_of: dict[str, str] = {}
        self.call_hooks.append(self._take_at_boundary)

    def _take_at_boundary(self, event: dict[str, Any]) -> None:
        """A call hook: when a call ends with a correction waiting, take it there.

        Otherwise a correction said during the program's last call waited for a call that
        never came, and was applied only after the verdict. "stop" needs no help (the skills
        poll it every control step); the call's journal row is already "done", so the
        program's re-execution replays it.
        """
        from policywright.errors import Preempted

        if event.get("event") == "call" and event.get("ok") and self.channel.pending():
            raise Preempted(f"a correction arrived during {event.get('name')}()")

    def _make_verifier(self) -> Verifier:
        code = CodeVerifier(self.sandbox, self.registry, self.prim)
        if self.config.verify == "code":
            return code
        spec = self.config.vlm or self.config.llm
        if not spec:
            raise ConfigError(
                f"--verify {self.config.verify} needs a vision model: pass --vlm or --llm"
            )
        from policywright.agent.llm import make_chat_model

        vlm = VLMVerifier(
            make_chat_model(spec, self.config.llm_settings),
            self.world,
            self.config.runs_dir / "frames",
            usage_sink=self.meter.add,
        )
        return vlm if self.config.verify == "vlm" else CombinedVerifier([code, vlm])

    def context(self) -> EngineContext:
        """The run context handed to the graph's nodes."""
        return EngineContext(
            world=self.world,
            planner=self.planner,
            sandbox=self.sandbox,
            registry=self.registry,
            prim=self.prim,
            verifier=self.verifier,
            snapshot_dir=self.config.snapshot_dir,
            seed=self.config.seed,
            meter=self.meter,
            channel=self.channel,
            journal=self.journal,
            call_hooks=self.call_hooks,
            twins=self.twins,
        )

    def candidates_per_attempt(self) -> int:
        """Programs the planner offers per attempt (``config.candidates`` or its default)."""
        if self.config.candidates is not None:
            return self.config.candidates
        return 1 if uses_llm(self.planner) else 3

    @property
    def busy(self) -> bool:
        """A run, resume or correction is in progress."""
        return self._busy.locked()

    def set_pace(self, speed: float | None) -> Any:
        """Pace the world to wall-clock time: ``speed`` x real time, None as fast as possible.

        The interactive front ends (chat, serve) run at 1x so a person can watch and interrupt;
        ``run`` and evaluations never call this. Only the real world is paced, never the
        rehearsal twin. Returns the :class:`~policywright.sim._world.Pacer` (its speed can be
        changed while the robot moves; its ``every`` ticks run in the stepping thread).
        """
        from policywright.sim._world import Pacer

        pacer = getattr(self.world, "pace", None)
        if isinstance(pacer, Pacer):
            pacer.speed = speed
            return pacer
        pacer = Pacer(speed)
        # The World protocol does not declare the pacing hook (only the tabletop has it), so
        # the world is set through Any.
        world: Any = self.world
        if hasattr(type(world), "pace"):
            world.pace = pacer
        else:  # a world without the hook (floor, mobile): pace each step() call instead
            step = world.step

            def paced_step(n: int = 1) -> None:
                step(n)
                pacer(world.sim_time)

            world.step = paced_step
            world.pace = pacer
        return pacer

    def post_correction(self, text: str) -> CorrectionAck:
        """Send a correction to the running task (thread-safe: call it from any thread).

        "stop" halts the motion within one control step; anything else is handled at the
        next primitive boundary. Each accepted correction is journaled before this returns.

        Returns:
            Whether it was accepted, its kind, and what will happen (or why not).
        """
        return self.channel.post(text)

    def run(
        self,
        command: str,
        *,
        thread_id: str | None = None,
        session: str | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        new_world: bool = False,
    ) -> TaskResult:
        """Run one command to a verdict.

        Args:
            command: what the user asked for.
            thread_id: the checkpoint thread (a fresh id when None).
            session: a session name: the task continues from the world the session's last
                task left (restored from its snapshot when this engine's world is elsewhere),
                and the planner sees the session's earlier commands, programs and outcomes, so
                follow-ups ("undo that") work (docs/sessions.md).
            on_event: receives each progress event (scene, program, call, verdict, ...).
            new_world: start ``session`` over in this engine's world instead of continuing
                its own (earlier turns stay on record; follow-ups no longer reach them).

        Returns:
            The result; it never raises for a failed task, only for a bad command.

        Raises:
            EmptyCommandError: the command is empty or whitespace.
            UserError: the command is too long; or ``session`` has its own world and this
                engine's world is another scene (build it with :func:`session_world`, or pass
                ``new_world=True``), or its last task did not finish (resume it first).
        """
        if not isinstance(command, str) or not command.strip():
            raise EmptyCommandError("the command is empty: say what the robot should do")
        if len(command) > MAX_COMMAND_CHARS:
            raise UserError(f"the command is longer than {MAX_COMMAND_CHARS} characters")
        command = " ".join(command.split())
        if session is not None:
            if not _SESSION_NAME.fullmatch(session):
                raise UserError(
                    f"session name {session!r} must be 1-64 letters, digits, '-', '_' or '.'"
                )
            # Before perception: the command is checked against the session's own world.
            self._continue_session_world(session, new_world=new_world)
        self.prim.invalidate()
        scene_names = sorted(self.prim.detections())
        missing = unknown_mentions(command, scene_names)
        if missing:
            # Said before any planning, in the person's words (not the planner's templates).
            raise UserError(
                f"there is no {' and no '.join(missing)} here; "
                f"the scene has: {', '.join(scene_names)}"
            )
        history: list[dict[str, Any]] = []
        if session is not None:
            history = self._session_history(session, new_world=new_world)
            thread_id = thread_id or self._session_thread_id(session)
        if thread_id is not None:
            if not _SESSION_NAME.fullmatch(thread_id):
                raise UserError(
                    f"thread id {thread_id!r} must be 1-64 letters, digits, '-', '_' or '.'"
                )
            if self.journal.thread(thread_id) is not None or self._values(thread_id):
                from policywright.config import default_state_dir

                # A hint to copy: it needs the folder when it is not the default one.
                folder = self.config.state_dir
                flag = "" if folder == default_state_dir() else f" --state-dir {folder}"
                raise UserError(
                    f"thread {thread_id!r} already exists: resume it (policywright resume "
                    f"{thread_id}{flag}), correct it, or choose a new id"
                )
        thread_id = thread_id or uuid.uuid4().hex[:12]
        inputs: TaskState = {
            "command": command,
            "thread_id": thread_id,
            "max_attempts": self.config.max_attempts,
            "attempt_budget": self.config.max_attempts,
            "history": history,
            "ask_on_ambiguity": self.config.ask_on_ambiguity,
            "ask_on_failure": self.config.ask_on_failure,
            "rehearse": self.config.rehearse and self.twins.factory is not None,
            "rehearsal_budget": self.config.rehearsal_budget,
            "candidates_k": self.candidates_per_attempt(),
        }
        self.journal.thread_started(thread_id, command, session)
        if session is not None:
            # The turn exists from the start, so the next id advances however this task ends.
            self.sessions.append(
                session,
                thread_id=thread_id,
                command=command,
                program="",
                outcome="running",
                scene_before=[],
                world_before=self._save_world(thread_id, "session-start"),
                details={"new_world": True} if new_world else None,
            )
        try:
            undone = None
            if session is not None:
                undone = self._session_undo(command, thread_id, session, history, on_event)
            result = undone or self._drive(
                inputs, thread_id, on_event, session=session, command=command
            )
        except Exception as exc:
            if session is not None:
                self.sessions.update(
                    session,
                    thread_id,
                    program="",
                    outcome=f"failed: {exc}",
                    world_after=self._save_world(thread_id, "session-end"),
                )
                self.sessions.set_world(session, thread_id, self._snapshot_path(thread_id))
                self._world_of[session] = thread_id
            raise
        self._record_turn(thread_id, result)
        return result

    def _session_thread_id(self, session: str) -> str:
        """``<session>-<n>`` for the first n whose thread does not exist yet.

        Thread ids follow the turn count; the check also skips ids of older state folders
        whose stopped or answered tasks recorded no turn.
        """
        n = self.sessions.next_index(session)
        while self.journal.thread(candidate := f"{session}-{n}") or self._values(candidate):
            n += 1
        return candidate

    def _record_turn(self, thread_id: str, result: TaskResult) -> None:
        """Update the session turn of ``thread_id`` (run, resume or correct) with its outcome."""
        row = self.journal.thread(thread_id)
        session = result.session or (row.session if row is not None else None)
        if session is None:
            return
        from policywright._private.sessions import moved

        values = self._values(thread_id)
        # "failed: ..." is what planners already read; "waiting: ..." and "stopped: ..." too.
        ok = result.status == "succeeded"
        outcome = "succeeded" if ok else f"{result.status}: {result.reason}"
        program = dict(values.get("program") or {})
        scene_before = list(values.get("scene", []))
        self.prim.invalidate()
        scene_after = _scene_data(self.prim)
        verdict = result.verdict or {}
        self.sessions.update(
            session,
            thread_id,
            program=str(program.get("code", "")),
            outcome=outcome,
            scene_before=scene_before,
            world_after=self._save_world(thread_id, "session-end"),
            details={
                "check_program": str(program.get("check_code", "")),
                "family": program.get("family"),
                "slots": dict(program.get("slots") or {}),
                "provenance": str(program.get("provenance", "")),
                "verdict": (
                    {"success": bool(verdict.get("success")), "reason": verdict.get("reason", "")}
                    if verdict
                    else None
                ),
                "moved": moved(scene_before, scene_after),
                "scene_after": scene_after,
                # An undo runs no program: later follow-ups ("again") look past it.
                "followup": "undo" if program.get("provenance") == "engine:undo" else "",
            },
        )
        # The session's next task continues from here (also after a resume or a correction).
        self.sessions.set_world(session, thread_id, self._snapshot_path(thread_id))
        self._world_of[session] = thread_id

    # -- a session's world and its follow-ups ----------------------------------------------------

    def _snapshot_path(self, thread_id: str, label: str = "session-end") -> str:
        return str(self.config.snapshot_dir / thread_id / f"{label}.bullet")

    def _save_world(self, thread_id: str, label: str) -> str:
        """Snapshot the world as ``<snapshot_dir>/<thread>/<label>.bullet``; returns its path."""
        return str(self.world.save_state(self._snapshot_path(thread_id, label)))

    def _continue_session_world(self, session: str, *, new_world: bool) -> None:
        """Bring this engine's world to where ``session``'s last task left it.

        Nothing to do for a new session, with ``new_world``, or when this engine's world is
        already there (it ran, resumed or corrected that task itself).

        Raises:
            UserError: the session's last task did not finish, or its world is another scene.
        """
        from policywright._private.sessions import unfinished_turn

        if new_world:
            return
        last = self.sessions.turns(session, last=1)
        if last and last[0]["outcome"] == "running":
            raise UserError(unfinished_turn(self.config, session, last[0]["thread_id"]))
        where = self.sessions.world(session)
        if where is None or self._world_of.get(session) == where[0]:
            return
        thread, snapshot = where
        try:
            self.world.restore_state(snapshot)
        except FileNotFoundError:
            raise UserError(
                f"the world of session {session!r} (left by {thread}) is gone from "
                f"{snapshot!r}: start the session over (new_world=True, --new-world)"
            ) from None
        except ValueError as exc:
            raise UserError(
                f"session {session!r} has its own world (started by its first task; {thread} "
                f"left it last) and this engine's world is not it ({exc}): build it with "
                f"session_world(config, {session!r}) (CLI: run --session {session} without "
                "--objects, --scene or --seed), start the session over with new_world=True "
                "(--new-world), or choose another session name"
            ) from None
        self._world_of[session] = thread

    def _session_history(self, session: str, *, new_world: bool) -> list[dict[str, Any]]:
        """The session's turns in its current world, as the planner sees them (oldest first)."""
        from policywright._private.sessions import planner_turn

        if new_world:
            return []
        turns = self.sessions.turns(session)
        # Turns of an earlier world of the session are about a scene that is not here.
        starts = [i for i, t in enumerate(turns) if t["details"].get("new_world")]
        return [planner_turn(t) for t in turns[starts[-1] if starts else 0 :]]

    def _session_undo(
        self,
        command: str,
        thread_id: str,
        session: str,
        history: list[dict[str, Any]],
        on_event: Callable[[dict[str, Any]], None] | None,
    ) -> TaskResult | None:
        """Undo a whole earlier task when the planner reads ``command`` as "undo that".

        The world is restored to the snapshot the undone turn started from (no program runs);
        the cameras then confirm that every object is back within 1 cm of where they saw it
        before that turn. None when the planner does not do follow-ups or reads no undo.
        """
        from policywright._private.sessions import not_back

        if not history or not isinstance(self.planner, FollowupPlanner):
            return None
        turns = [SessionTurn.model_validate(t) for t in history]
        self.prim.invalidate()
        scene = [SceneObject.model_validate(o) for o in _scene_data(self.prim)]
        emit = on_event or (lambda _event: None)
        target: SessionTurn | None = None
        failure = ""
        try:
            target = self.planner.undo_target(
                PlanContext(command=command, scene=scene, history=turns)
            )
        except PlannerCannotHandle as exc:
            failure = str(exc)
        if target is None and not failure:
            return None
        if not self._busy.acquire(blocking=False):
            raise UserError("the engine is busy with another task; wait for it to finish")
        try:
            initial, start_sim = _poses(self.world), self.world.sim_time
            snapshot = self._snapshot_path(thread_id, "session-start")
            marker = ""
            if target is not None:
                label = f"turn {target.index} ({target.thread_id}, {target.command!r})"
                marker = f"# undo: the world was restored to its snapshot from before {label}\n"
                before = {
                    t["thread_id"]: t["world_before"] for t in self.sessions.turns(session, 1000)
                }.get(target.thread_id, "")
                try:
                    if not before:
                        raise FileNotFoundError(target.thread_id)
                    self.world.restore_state(before)
                except (OSError, ValueError) as exc:
                    failure = (
                        f"cannot undo {label}: the snapshot it started from cannot be restored "
                        f"({exc}); the world is as it was"
                    )
                    self.world.restore_state(snapshot)
                else:
                    self.prim.invalidate()
                    failure = not_back(target.scene_before, _scene_data(self.prim), label)
                    if failure:
                        self.world.restore_state(snapshot)  # a half undo is worse than none
            ok = not failure
            reason = (
                failure
                if failure
                else f"undid {label}: every object the cameras saw then is back within 1 cm"
            )
            emit({"event": "undo", "status": "applied" if ok else "rejected", "message": reason})
            emit({"event": "done", "status": "succeeded" if ok else "failed", "reason": reason})
            verdict = {"success": ok, "reason": reason, "source": "snapshot"}
            self.prim.invalidate()
            values: dict[str, Any] = {
                "command": command,
                "thread_id": thread_id,
                "scene": [o.model_dump(mode="json") for o in scene],
                "status": "succeeded" if ok else "failed",
                "reason": reason,
                "actor": "" if ok else "user",
                "finished": True,
                "world_snapshots": [snapshot, self._save_world(thread_id, "undone")],
            }
            if ok:
                values["verdict"] = verdict
                values["program"] = {"code": marker, "check_code": "", "provenance": "engine:undo"}
            # Checkpointed as a finished task, so history and threads show it like any other.
            self.graph.update_state(self._cfg(thread_id), values, as_node="done")
            self.journal.thread_status(thread_id, values["status"])
            return TaskResult(
                command=command,
                thread_id=thread_id,
                session=session,
                status=values["status"],
                reason=reason,
                actor=values["actor"],
                verdict=verdict,
                sim_time=self.world.sim_time - start_sim,
                objects_initial=initial,
                objects_final=_poses(self.world),
            )
        finally:
            self._busy.release()

    # -- the durable loop ------------------------------------------------------------------------

    def _cfg(self, thread_id: str) -> RunnableConfig:
        return {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": recursion_limit(
                self.config.max_attempts,
                self.config.rehearsal_budget if self.config.rehearse else 0,
                self.candidates_per_attempt(),
            ),
        }

    def _values(self, thread_id: str) -> dict[str, Any]:
        return dict(self.graph.get_state(self._cfg(thread_id)).values)

    def _drive(
        self,
        inputs: Any,
        thread_id: str,
        on_event: Callable[[dict[str, Any]], None] | None,
        *,
        session: str | None = None,
        command: str | None = None,
        pending: list[PendingCorrection] | None = None,
        entry: str = "run",
    ) -> TaskResult:
        """Stream the graph on ``thread_id`` until it ends or waits.

        ``entry`` ("run", "answer", "resume", "correction") is kept in the metadata of every
        checkpoint this drive writes, so ``history`` can show where a person answered, a
        correction came in, or a task was resumed after a crash.

        Corrections that arrive after the program's last call are applied to the finished
        task before returning, so none is lost.
        """
        if not self._busy.acquire(blocking=False):
            raise UserError("the engine is busy with another task; wait for it to finish")
        try:
            initial = _poses(self.world)
            start_sim = self.world.sim_time
            meta = {"entry": entry, "drive": uuid.uuid4().hex[:8]}
            cfg: RunnableConfig = {**self._cfg(thread_id), "metadata": meta}
            self.channel.open(thread_id, pending)
            try:
                while True:
                    for chunk in self.graph.stream(
                        inputs,
                        cfg,
                        context=self.context(),
                        stream_mode="custom",
                        durability="sync",
                    ):
                        if on_event is not None:
                            on_event(chunk)
                    snap = self.graph.get_state(cfg)
                    if snap.interrupts:
                        break
                    left = self.channel.take()
                    if not left:
                        break
                    # Said while the check ran or after the last call: apply to the result.
                    inputs = {"pending": [p.model_dump(mode="json") for p in left]}
            finally:
                self.channel.close()
            if not self.graph.get_state(cfg).interrupts:
                # The task ended: its twin is rebuilt from perception if it is corrected later.
                self.twins.drop(thread_id)
            return self._result(
                thread_id, session=session, command=command, initial=initial, start_sim=start_sim
            )
        finally:
            self._busy.release()

    def _result(
        self,
        thread_id: str,
        *,
        session: str | None,
        command: str | None,
        initial: dict[str, ObjectPose],
        start_sim: float,
    ) -> TaskResult:
        snap = self.graph.get_state(self._cfg(thread_id))
        values = snap.values
        question = None
        status = values.get("status", "failed")
        if snap.interrupts:
            question = dict(snap.interrupts[0].value)
            status, reason = "waiting", str(question.get("question", ""))
        else:
            reason = values.get("reason", "")
            if status not in ("succeeded", "stopped"):
                status = "failed"
        attempts = list(values.get("attempts", []))
        self.journal.thread_status(thread_id, status)
        return TaskResult(
            command=values.get("command", command or ""),
            thread_id=thread_id,
            session=session,
            status=status,
            reason=reason,
            question=question,
            corrections=[dict(c) for c in values.get("corrections", [])],
            actor=values.get("actor", "") if status != "waiting" else "user",
            attempts=attempts,
            verdict=values.get("verdict"),
            usage=Usage.from_state(values.get("usage", {}), attempts),
            sim_time=self.world.sim_time - start_sim,
            objects_initial=initial,
            objects_final=_poses(self.world),
            rehearsals=int(values.get("rehearsals", 0)),
            rehearsal_wall_s=float(values.get("rehearsal_wall_s", 0.0)),
            real_executions=int(values.get("real_executions", 0)),
        )

    def _pending_from_journal(
        self, thread_id: str, values: dict[str, Any]
    ) -> list[PendingCorrection]:
        """Corrections journaled for a thread that its checkpoint has not seen (a crash)."""
        seen = {int(c.get("seq", -1)) for c in values.get("corrections", [])}
        seen |= {int(p.get("seq", -1)) for p in values.get("pending", [])}
        out = []
        for row in self.journal.corrections(thread_id):
            if row.seq in seen:
                continue
            try:
                out.append(PendingCorrection(seq=row.seq, correction=parse_correction(row.text)))
            except UserError:
                logger.warning("journaled correction %d no longer parses: %r", row.seq, row.text)
        return out

    def resume(
        self,
        thread_id: str,
        answer: str | None = None,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> TaskResult:
        """Continue a thread that waits for an answer or that a crash interrupted.

        The world must be the thread's (see :func:`resume_world`, which rebuilds it from the
        newest snapshot after a crash). Finished primitive calls are replayed from the journal,
        not run again; corrections journaled before the crash are applied.

        Args:
            thread_id: The thread.
            answer: The person's answer when the thread waits on a question.
            on_event: Receives each progress event.

        Raises:
            UnknownThreadError: no such thread, or it finished.
            UserError: the thread waits for an answer and none was given.
        """
        from langgraph.types import Command

        snap = self.graph.get_state(self._cfg(thread_id))
        if not snap.values:
            known = [t.thread_id for t in self.journal.threads(20)]
            raise UnknownThreadError(
                f"no thread {thread_id!r}" + (f" (recent: {', '.join(known[:8])})" if known else "")
            )
        # ``tasks``, not ``next``: a process killed after a step's writes were saved but before
        # the next checkpoint leaves ``next`` empty while that step's task (with its result)
        # is still pending; streaming again applies those writes and goes on.
        if not snap.tasks:
            raise UnknownThreadError(
                f"thread {thread_id!r} has finished ({snap.values.get('status')}); "
                "correct it with a correction, or run a new command"
            )
        pending = self._pending_from_journal(thread_id, dict(snap.values))
        inputs: Any = None
        if snap.interrupts:
            if answer is None or not str(answer).strip():
                raise UserError(
                    f"thread {thread_id!r} waits for an answer: "
                    f"{snap.interrupts[0].value.get('question')}"
                )
            inputs = Command(resume=str(answer))
        self.journal.thread_started(thread_id, str(snap.values.get("command", "")), None)
        entry = "answer" if snap.interrupts else "resume"
        result = self._drive(inputs, thread_id, on_event, pending=pending, entry=entry)
        self._record_turn(thread_id, result)
        return result

    def correct(
        self,
        thread_id: str,
        text: str,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> TaskResult:
        """Correct a finished (or waiting) task: "a bit more to the left", "no, the blue one".

        A waiting task takes the text as its answer. The world must still be the one the task
        ran in (the engine's own).

        Raises:
            UnknownThreadError: no such thread.
            CorrectionParseError: the text is not a correction the engine understands.
        """
        correction = parse_correction(text)
        snap = self.graph.get_state(self._cfg(thread_id))
        if not snap.values:
            raise UnknownThreadError(f"no thread {thread_id!r} to correct")
        if snap.interrupts:
            return self.resume(thread_id, text, on_event=on_event)
        if snap.tasks:
            raise UserError(
                f"thread {thread_id!r} was interrupted mid-task: resume it first "
                f"(policywright resume {thread_id})"
            )
        seq = self.journal.add_correction(thread_id, correction.text)
        pending = [PendingCorrection(seq=seq, correction=correction).model_dump(mode="json")]
        self.journal.thread_started(thread_id, str(snap.values.get("command", "")), None)
        result = self._drive({"pending": pending}, thread_id, on_event, entry="correction")
        self._record_turn(thread_id, result)
        return result

    def threads(self, limit: int = 50) -> list[ThreadInfo]:
        """The most recent threads first."""
        return [
            ThreadInfo(
                thread_id=t.thread_id,
                command=t.command,
                status=t.status,
                updated=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t.updated)),
                session=t.session,
            )
            for t in self.journal.threads(limit)
        ]

    def history(self, thread_id: str) -> list[HistoryStep]:
        """The checkpointed steps of a thread, oldest first.

        Raises:
            UnknownThreadError: no such thread.
        """
        from policywright._private.threads import steps_of

        steps = [h for h, _ in steps_of(self.graph, thread_id)]
        if not steps:
            raise UnknownThreadError(f"no thread {thread_id!r}")
        return steps

    def fork(self, thread_id: str, step: int) -> str:
        """A new thread that continues from ``step`` of ``thread_id`` (run it with resume).

        Raises:
            UnknownThreadError: no such thread or step.
        """
        from policywright._private.threads import fork_from

        return fork_from(self.graph, self.journal, thread_id, step)

    def close(self) -> None:
        """Stop the sandbox (if the engine started it) and close the checkpoint database."""
        if self._own_sandbox:
            self.sandbox.close()
        self.twins.close()
        self.checkpointer.conn.close()
        self.sessions.close()
        self.journal.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def latest_snapshot(config: EngineConfig, thread_id: str) -> Path:
    """The newest world snapshot of a thread: the journal's (mid-execute) or the checkpoint's.

    Raises:
        UnknownThreadError: no such thread, or it has no snapshot.
    """
    saver = open_checkpointer(config.checkpoint_path)
    try:
        snap = compile_graph(saver).get_state({"configurable": {"thread_id": thread_id}})
    finally:
        saver.conn.close()
    values = snap.values
    if not values:
        raise UnknownThreadError(f"no thread {thread_id!r} in {str(config.state_dir)!r}")
    snaps = list(values.get("world_snapshots", []))
    if any(t.name == "execute" for t in snap.tasks) and values.get("attempt"):
        journal = Journal(config.journal_path)
        try:
            rows = [r for r in journal.calls(thread_id, int(values["attempt"])) if r.mutating]
        finally:
            journal.close()
        if rows:
            last = rows[-1]
            path = last.after_snap if last.status == "done" else last.before_snap
            if path:
                return Path(path)
    if not snaps:
        raise UnknownThreadError(f"thread {thread_id!r} has no world snapshot to resume from")
    return Path(snaps[-1])


def _scene_data(prim: PrimitiveContext) -> list[dict[str, Any]]:
    """The detected objects as plain data (what a planner sees; the graph's ``scene``)."""
    return [
        SceneObject(
            name=d.name,
            kind=d.kind,
            color=d.color,
            position=(float(d.position[0]), float(d.position[1]), float(d.position[2])),
        ).model_dump(mode="json")
        for d in prim.detections().values()
    ]


def session_snapshot(config: EngineConfig, session: str) -> Path | None:
    """The snapshot a session's next task continues from (None: the session has no world yet).

    Raises:
        UserError: the session's last task did not finish (resume it first).
    """
    from policywright._private.sessions import SessionStore, unfinished_turn

    store = SessionStore(config.state_dir / "sessions.sqlite")
    try:
        last, where = store.turns(session, last=1), store.world(session)
    finally:
        store.close()
    if last and last[0]["outcome"] == "running":
        raise UserError(unfinished_turn(config, session, last[0]["thread_id"]))
    return None if where is None else Path(where[1])


def session_world(config: EngineConfig, session: str, *, gui: bool = False) -> World:
    """Rebuild the world a session's next task continues from: the one its last task left.

    Run the session's next command in an :class:`Engine` around it (``run --session`` does).

    Raises:
        UnknownThreadError: the session has no world yet (its first task starts it).
        UserError: its last task did not finish (resume it first).
    """
    path = session_snapshot(config, session)
    if path is None:
        raise UnknownThreadError(
            f"session {session!r} has no world yet in {str(config.state_dir)!r}: "
            "its first task starts it"
        )
    return _world_at(config, path, f"session {session!r}", gui=gui)


def resume_world(config: EngineConfig, thread_id: str, *, gui: bool = False) -> World:
    """Rebuild the world a thread ran in, at its newest snapshot (after a crash).

    Raises:
        UnknownThreadError: no such thread or snapshot.
    """
    return _world_at(config, latest_snapshot(config, thread_id), repr(thread_id), gui=gui)


def _world_at(config: EngineConfig, path: Path, owner: str, *, gui: bool = False) -> World:
    """A world rebuilt from the spec of the snapshot ``path`` and restored to it."""
    import json

    try:
        sidecar = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnknownThreadError(f"the snapshot {str(path)!r} cannot be read: {exc}") from exc
    kind = sidecar.get("kind", "tabletop")
    try:
        world = default_world_registry().resume(kind, sidecar["spec"], gui=gui, config=config)
    except UnknownNameError:
        raise UnknownThreadError(
            f"the snapshot of {owner} is of an unknown world {kind!r}"
        ) from None
    world.restore_state(path)
    return world
