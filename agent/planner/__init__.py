"""policywright.agent.planner: planners turn a command into a policy program and its check.

The offline planner retrieves a stored program template by text similarity and fills its slots
from the command and the scene; no model is needed. The LLM planner asks a chat model for the
programs (with retrieved examples, session history, hierarchical code generation of missing
functions, a function library and a plan cache).
"""

from policywright.agent.planner._text import Abstracted, abstract_command
from policywright.agent.planner.base import (
    CandidatePlanner,
    FollowupPlanner,
    LearningPlanner,
    PlanContext,
    Planner,
    Program,
    SceneObject,
    SessionTurn,
    uses_llm,
)
from policywright.agent.planner.llm import LLMPlanner
from policywright.agent.planner.memory import (
    MemoryEntry,
    PlanRecord,
    ProgramMemory,
    normalise_command,
    scene_signature,
)
from policywright.agent.planner.offline import DEFAULT_THRESHOLD, OfflinePlanner, fill_template

__all__ = [
    "DEFAULT_THRESHOLD",
    "Abstracted",
    "CandidatePlanner",
    "FollowupPlanner",
    "LLMPlanner",
    "LearningPlanner",
    "MemoryEntry",
    "OfflinePlanner",
    "PlanContext",
    "PlanRecord",
    "Planner",
    "Program",
    "ProgramMemory",
    "SceneObject",
    "SessionTurn",
    "abstract_command",
    "fill_template",
    "normalise_command",
    "scene_signature",
    "uses_llm",
]
