"""Configuration models (pydantic, ``extra="forbid"``): no dicts of magic keys."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from policywright.agent.llm import LLMSettings
from policywright.agent.sandbox import SandboxLimits
from policywright.sim import SafetyLimits

__all__ = ["EngineConfig", "SkillSelection", "default_state_dir"]


def default_state_dir() -> Path:
    """Where checkpoints, world snapshots, program memory and images go by default."""
    return Path(platformdirs.user_data_dir("policywright", appauthor=False))


class SkillSelection(BaseModel):
    """Which registered variant runs each skill family (ids from ``policywright skills list``).

    The ids are checked against the skill registry when the engine starts, not here, so that a
    config file can be loaded without importing every plugin.
    """

    model_config = ConfigDict(extra="forbid")

    grasp: str = "grasp/scripted-v1"
    path: str = "path/scripted-v1"
    locomotion: str = "locomotion/scripted-v1"
    drive: str = "drive/scripted-v1"

    @field_validator("grasp", "path", "locomotion", "drive")
    @classmethod
    def _family_matches(cls, value: str, info: ValidationInfo) -> str:
        family = value.split("/", 1)[0]
        if family != info.field_name:
            raise ValueError(
                f"{value!r} is a {family!r} skill; skills.{info.field_name} needs an id like "
                f"'{info.field_name}/<variant>-v<N>'"
            )
        return value


class EngineConfig(BaseModel):
    """Settings of one engine (one world, one planner, one sandbox)."""

    model_config = ConfigDict(extra="forbid")

    state_dir: Path = Field(default_factory=default_state_dir)
    max_attempts: int = Field(default=3, ge=1, le=20)
    #: Rehearse every program in a twin of the scene, built from what the cameras detected,
    #: before the real robot moves; only a program the twin verified runs for real.
    rehearse: bool = True
    #: How many failures caught before the real robot moves (an unusable reply, a static
    #: refusal, a failed rehearsal) give their attempt back to ``max_attempts``. Sized so a
    #: slow local model gets several repairs without one real execution.
    rehearsal_budget: int = Field(default=6, ge=0, le=50)
    #: Programs a planner offers per attempt, rehearsed in turn (the first the twin verifies
    #: runs). None: the planner's default (3 retrieved templates offline, 1 with a model,
    #: whose extra candidates are sampled replies, one model call each).
    candidates: int | None = Field(default=None, ge=1, le=8)
    #: Seeds each program's ``np.random`` (the scene has its own seed in its spec).
    seed: int = Field(default=0, ge=0)
    planner: str = "offline"
    sandbox: SandboxLimits = Field(default_factory=SandboxLimits)
    safety: SafetyLimits = Field(default_factory=SafetyLimits)
    gui: bool = False
    #: SQLite's synchronous pragma for the checkpoints: "normal" survives a killed process
    #: (WAL); "full" also survives power loss, at about twice the checkpoint cost.
    checkpoint_sync: Literal["normal", "full"] = "normal"
    #: The chat model that plans, e.g. "openai:gpt-4o", "anthropic:<model>",
    #: "openai-compatible:http://127.0.0.1:8080/v1#<model>", "hf:/path/to/model".
    #: When set, the planner is the LLM planner (``planner`` is then ignored).
    llm: str | None = None
    #: How a run is verified: the program's check code, a vision model, or both.
    verify: Literal["code", "vlm", "both"] = "code"
    #: The vision model for ``verify="vlm"|"both"``; defaults to ``llm``.
    vlm: str | None = None
    #: Timeouts, retries, keys, prices and the response cache of the model backends.
    llm_settings: LLMSettings = Field(default_factory=LLMSettings)
    #: Reuse a program that succeeded for the same command on an equivalent scene.
    plan_cache: bool = True
    #: Skill variant per family (e.g. ``skills.grasp = "grasp/learned-v1"``).
    skills: SkillSelection = Field(default_factory=SkillSelection)
    #: Ask the person which object they mean when a command names several (LangGraph
    #: interrupt; the task waits, ``policywright resume THREAD --answer ...`` continues it).
    ask_on_ambiguity: bool = True
    #: Ask the person for a hint when the attempt budget is spent (chat and serve turn it on).
    ask_on_failure: bool = False
    #: Program-memory families the planners must not retrieve (evaluation of unseen
    #: instructions: the planner gets no example of them).
    memory_exclude_families: tuple[str, ...] = ()

    def with_response_cache(self, enabled: bool) -> EngineConfig:
        """A copy with the on-disk model response cache on (under the state folder) or off."""
        cache_dir = self.state_dir / "llm-cache" if enabled else None
        settings = self.llm_settings.model_copy(update={"cache_dir": cache_dir})
        return self.model_copy(update={"llm_settings": settings})

    def skill_ids(self) -> dict[str, str]:
        """Skill selection: family -> versioned skill id."""
        return {k: v for k, v in self.skills.model_dump().items() if v}

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite file holding the graph checkpoints."""
        return self.state_dir / "checkpoints.sqlite"

    @property
    def journal_path(self) -> Path:
        """The SQLite journal of primitive calls, corrections and threads."""
        return self.state_dir / "journal.sqlite"

    @property
    def memory_path(self) -> Path:
        """The SQLite file holding program memory."""
        return self.state_dir / "program_memory.sqlite"

    @property
    def snapshot_dir(self) -> Path:
        """Folder of world snapshots, one subfolder per thread."""
        return self.state_dir / "worlds"

    @property
    def runs_dir(self) -> Path:
        """Folder of per-run artifacts (final images, GIFs)."""
        return self.state_dir / "runs"
