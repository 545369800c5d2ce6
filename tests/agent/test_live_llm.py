"""A real model behind an OpenAI-compatible server plans in the sim (skipped unless configured).

../shared/tools/local-llm start && eval "$(../shared/tools/local-llm env)"
pytest -m live tests/agent/test_live_llm.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BASE_URL = os.environ.get("POLICYWRIGHT_LIVE_BASE_URL")
MODEL = os.environ.get("POLICYWRIGHT_LIVE_MODEL", "qwen2.5-coder-1.5b-instruct")

pytestmark = [
    pytest.mark.live,
    pytest.mark.sim,
    pytest.mark.slow,
    pytest.mark.enable_socket,
    pytest.mark.skipif(not BASE_URL, reason="set POLICYWRIGHT_LIVE_BASE_URL to run live tests"),
]


def _live_module():
    path = Path(__file__).parents[2] / "benchmarks" / "live_llm.py"
    spec = importlib.util.spec_from_file_location("live_llm", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["live_llm"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("task", ["pick-place", "stack", "matching-bowls"])
def test_real_model_solves_the_task(task, tmp_path):
    live = _live_module()
    (row,) = live.run_live(
        BASE_URL,
        MODEL,
        [0],
        state_dir=tmp_path,
        commands={task: live.COMMANDS[task]},
    )
    assert row["llm_calls"] >= 1 and row["input_tokens"] > 0
    assert row["status"] == "succeeded", row["reason"]
