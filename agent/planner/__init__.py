"""policywright.agent.planner: planners turn a command into a policy program and its check.

The offline planner retrieves a stored program template by text similarity and fills its slots
from the command and the scene; no model is needed.
"""

from policywright.agent.planner._text import Abstracted, abstract_command
from policywright.agent.planner.base import PlanContext, Planner, Program, SceneObject
from policywright.agent.planner.memory import MemoryEntry, ProgramMemory
from policywright.agent.planner.offline import DEFAULT_THRESHOLD, OfflinePlanner, fill_template

__all__ = [
    "DEFAULT_THRESHOLD",
    "Abstracted",
    "MemoryEntry",
    "OfflinePlanner",
    "PlanContext",
    "Planner",
    "Program",
    "ProgramMemory",
    "SceneObject",
    "abstract_command",
    "fill_template",
]
