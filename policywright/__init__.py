"""policywright: an LLM or VLM writes robot policy code; it runs sandboxed and verified.

The public API is re-exported here lazily, so that ``import policywright`` stays cheap (the
engine pulls in LangGraph and PyBullet only when first used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from policywright.errors import (
    InternalError,
    LLMError,
    PolicywrightError,
    UserError,
)

if TYPE_CHECKING:
    from policywright.config import EngineConfig
    from policywright.engine import Engine, TaskResult, scene_for_command
    from policywright.primitives import PrimitiveContext, Registry, primitive
    from policywright.sim import SceneSpec, TabletopWorld, sample_scene

__all__ = [
    "Engine",
    "EngineConfig",
    "InternalError",
    "LLMError",
    "PolicywrightError",
    "PrimitiveContext",
    "Registry",
    "SceneSpec",
    "TabletopWorld",
    "TaskResult",
    "UserError",
    "__version__",
    "primitive",
    "sample_scene",
    "scene_for_command",
]
__version__ = "0.1.0"

_LAZY = {
    "Engine": "policywright.engine",
    "TaskResult": "policywright.engine",
    "scene_for_command": "policywright.engine",
    "EngineConfig": "policywright.config",
    "PrimitiveContext": "policywright.primitives",
    "Registry": "policywright.primitives",
    "primitive": "policywright.primitives",
    "SceneSpec": "policywright.sim",
    "TabletopWorld": "policywright.sim",
    "sample_scene": "policywright.sim",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'policywright' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
