"""The graph for ``langgraph dev`` (LangGraph Studio's local server): see ``langgraph.json``.

The server refuses a graph compiled with a custom checkpointer (it brings its own), so this
compiles the uncompiled :func:`~policywright.agent.graph.build_graph` without one. A run the
server starts carries no engine context (the world, planner and sandbox cannot travel as
JSON), so each node gets one made here on first use: an offline-planner engine on a tabletop
scene sampled for the thread's command, kept per thread for the server's lifetime.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from policywright.agent.graph import EngineContext, build_graph
from policywright.agent.state import TaskState

__all__ = ["graph", "make_graph"]


class _Contexts:
    """One engine per thread id (the dev server is a long-lived process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[str, Any] = {}

    def get(self, state: TaskState) -> EngineContext:
        from policywright.config import EngineConfig
        from policywright.engine import Engine, make_world

        key = state.get("thread_id") or "studio"
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                state_dir = Path(
                    os.environ.get("POLICYWRIGHT_STUDIO_STATE", ".policywright-studio")
                )
                config = EngineConfig(state_dir=state_dir)
                world = make_world("tabletop", state.get("command", ""), config=config)
                engine = Engine(world, config)
                self._engines[key] = engine
            ctx: EngineContext = engine.context()
            return ctx


def _wrap(fn: Callable[..., Any], contexts: _Contexts) -> Callable[..., Any]:
    def node(state: TaskState, runtime: Runtime[EngineContext]) -> Any:
        if not isinstance(runtime.context, EngineContext):
            runtime = runtime.override(context=contexts.get(state))
        return fn(state, runtime)

    node.__name__ = getattr(fn, "__name__", "node")
    node.__doc__ = fn.__doc__
    return node


def make_graph() -> Any:
    """The task graph compiled for the dev server (no checkpointer; contexts made on demand)."""
    builder: StateGraph[Any, Any, Any, Any] = build_graph()
    contexts = _Contexts()
    for name, spec in builder.nodes.items():
        runnable: Any = spec.runnable
        fn = getattr(runnable, "func", None)
        if fn is not None and "runtime" in fn.__code__.co_varnames[: fn.__code__.co_argcount]:
            runnable.func = _wrap(fn, contexts)
        builder.nodes[name] = spec
    return builder.compile()


graph = make_graph()
