"""langgraph.json points at a graph `langgraph dev` can load (no custom checkpointer)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_graph() -> object:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    path, _, attr = spec["graphs"]["policywright"].partition(":")
    module_spec = importlib.util.spec_from_file_location("studio_graph", ROOT / path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, attr)


def test_langgraph_json_names_an_uncheckpointed_graph() -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    assert spec["dependencies"] == ["."]
    graph = _load_graph()
    assert getattr(graph, "checkpointer", None) is None  # the dev server brings its own
    nodes = set(graph.get_graph().nodes)  # type: ignore[attr-defined]
    assert {"observe", "clarify", "plan", "check", "execute", "verify", "correct"} <= nodes


@pytest.mark.sim
def test_the_studio_graph_runs_a_task_without_a_given_context(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POLICYWRIGHT_STUDIO_STATE", str(tmp_path))
    graph = _load_graph()
    out = graph.invoke(  # type: ignore[attr-defined]
        {"command": "put the red block in the blue bowl", "thread_id": "s1", "max_attempts": 2}
    )
    assert out["status"] == "succeeded"
