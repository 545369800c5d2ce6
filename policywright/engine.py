"""The engine: one world, one planner, one sandbox, one checkpointed graph."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field

from policywright.agent.graph import (
    EngineContext,
    compile_graph,
    open_checkpointer,
    recursion_limit,
)
from policywright.agent.planner import OfflinePlanner, Planner, ProgramMemory
from policywright.agent.sandbox import Sandbox
from policywright.agent.state import TaskState
from policywright.agent.verify import CodeVerifier
from policywright.config import EngineConfig
from policywright.errors import ConfigError, EmptyCommandError, UnknownNameError, UserError
from policywright.primitives import PrimitiveContext, Registry, default_registry
from policywright.sim import COLORS, SceneSpec, TabletopWorld, sample_scene

__all__ = ["Engine", "ObjectPose", "TaskResult", "Usage", "scene_for_command"]

logger = logging.getLogger(__name__)

#: The longest command accepted; longer text is not a command but a paste accident.
MAX_COMMAND_CHARS = 2000

_MENTION = re.compile(r"\b(" + "|".join(COLORS) + r")\s+(block|bowl)s?\b", re.IGNORECASE)


class Usage(BaseModel):
    """LLM usage of a task (all zero for the offline planner)."""

    model_config = ConfigDict(extra="forbid")

    llm_calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


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
    status: Literal["succeeded", "failed"]
    reason: str
    actor: Literal["llm", "user", "us", ""] = ""
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    verdict: dict[str, Any] | None = None
    usage: Usage = Field(default_factory=Usage)
    sim_time: float = 0.0
    objects_initial: dict[str, ObjectPose] = Field(default_factory=dict)
    objects_final: dict[str, ObjectPose] = Field(default_factory=dict)
    image: str | None = None
    gif: str | None = None

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 the task failed, 2 the user must act, 3 a bug."""
        if self.status == "succeeded":
            return 0
        if self.actor == "user":
            return 2
        return 3 if self.actor == "us" else 1


def mentioned_objects(command: str) -> list[str]:
    """Object names a command mentions ("red block", "blue bowl"), in order, once each."""
    seen: list[str] = []
    for colour, kind in _MENTION.findall(command):
        name = f"{colour.lower()} {kind.lower()}"
        if name not in seen:
            seen.append(name)
    return seen


def scene_for_command(
    command: str,
    *,
    seed: int = 0,
    objects: Sequence[str] | None = None,
    scene_file: Path | None = None,
) -> SceneSpec:
    """The scene to run a command in.

    A scene file wins; else an explicit object list; else a sampled scene holding every object
    the command mentions plus distractors, so that a first command just works.

    Raises:
        UserError: the file or the object list is invalid.
    """
    if scene_file is not None:
        try:
            return SceneSpec.from_yaml(scene_file)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load scene file {str(scene_file)!r}: {exc}") from exc
    required = list(objects) if objects else mentioned_objects(command)
    names = [" ".join(n.lower().split()) for n in required]
    for name in names:
        parts = name.split()
        if len(parts) != 2 or parts[0] not in COLORS or parts[1] not in ("block", "bowl"):
            raise UserError(
                f"unknown object {name!r}: objects are '<colour> block' or '<colour> bowl' "
                f"with a colour from {', '.join(COLORS)}"
            )
    n_blocks = max(3, sum(n.endswith("block") for n in names)) if not objects else 0
    n_bowls = max(3, sum(n.endswith("bowl") for n in names)) if not objects else 0
    try:
        return sample_scene(seed, required=names, n_blocks=n_blocks, n_bowls=n_bowls)
    except ValueError as exc:
        raise UserError(f"cannot build a scene: {exc}") from exc


def _poses(world: TabletopWorld) -> dict[str, ObjectPose]:
    return {
        name: ObjectPose(
            position=tuple(float(v) for v in pose.position),  # type: ignore[arg-type]
            orientation=tuple(float(v) for v in pose.orientation),  # type: ignore[arg-type]
        )
        for name, pose in world.true_poses().items()
    }


def make_planner(name: str, config: EngineConfig) -> Planner:
    """The planner called ``name`` (only "offline" until the LLM issue lands)."""
    if name == "offline":
        return OfflinePlanner(ProgramMemory(config.memory_path))
    raise UnknownNameError("planner", name, ["offline"])


class Engine:
    """Runs commands against one world: observe, plan, check, execute, verify, checkpointed."""

    def __init__(
        self,
        world: TabletopWorld,
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
            registry: the primitives (default: every installed primitive).
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
        self.registry = registry or default_registry()
        self.planner = planner or make_planner(self.config.planner, self.config)
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(self.config.sandbox)
        self.prim = PrimitiveContext(world=world)
        self.checkpointer = open_checkpointer(
            self.config.checkpoint_path, synchronous=self.config.checkpoint_sync
        )
        self.graph = compile_graph(self.checkpointer)

    def context(self) -> EngineContext:
        """The run context handed to the graph's nodes."""
        return EngineContext(
            world=self.world,
            planner=self.planner,
            sandbox=self.sandbox,
            registry=self.registry,
            prim=self.prim,
            verifier=CodeVerifier(self.sandbox, self.registry, self.prim),
            snapshot_dir=self.config.snapshot_dir,
            seed=self.config.seed,
        )

    def run(
        self,
        command: str,
        *,
        thread_id: str | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> TaskResult:
        """Run one command to a verdict.

        Args:
            command: what the user asked for.
            thread_id: the checkpoint thread (a fresh id when None).
            on_event: receives each progress event (scene, program, call, verdict, ...).

        Returns:
            The result; it never raises for a failed task, only for a bad command.

        Raises:
            EmptyCommandError: the command is empty or whitespace.
            UserError: the command is too long.
        """
        if not isinstance(command, str) or not command.strip():
            raise EmptyCommandError("the command is empty: say what the robot should do")
        if len(command) > MAX_COMMAND_CHARS:
            raise UserError(f"the command is longer than {MAX_COMMAND_CHARS} characters")
        command = " ".join(command.split())
        thread_id = thread_id or uuid.uuid4().hex[:12]
        initial = _poses(self.world)
        cfg: RunnableConfig = {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": recursion_limit(self.config.max_attempts),
        }
        inputs: TaskState = {
            "command": command,
            "thread_id": thread_id,
            "max_attempts": self.config.max_attempts,
        }
        start_sim = self.world.sim_time
        for chunk in self.graph.stream(
            inputs,
            cfg,
            context=self.context(),
            stream_mode="custom",
            durability="sync",
        ):
            if on_event is not None:
                on_event(chunk)
        values = self.graph.get_state(cfg).values
        status = values.get("status", "failed")
        return TaskResult(
            command=command,
            thread_id=thread_id,
            status="succeeded" if status == "succeeded" else "failed",
            reason=values.get("reason", ""),
            actor=values.get("actor", ""),
            attempts=list(values.get("attempts", [])),
            verdict=values.get("verdict"),
            sim_time=self.world.sim_time - start_sim,
            objects_initial=initial,
            objects_final=_poses(self.world),
        )

    def close(self) -> None:
        """Stop the sandbox (if the engine started it) and close the checkpoint database."""
        if self._own_sandbox:
            self.sandbox.close()
        self.checkpointer.conn.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
