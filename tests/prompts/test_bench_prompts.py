"""Smoke test of benchmarks/bench_prompts.py (importable, runs, reports every family)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_prompts.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_prompts", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_prompts_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load()
    assert bench.main(["--repeats", "1", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "stack_all" in out and "corner_by_distance" in out and "tabletop_ui" in out
    result = bench.measure(seed=1, k=2, repeats=1)
    assert len(result["rows"]) == 17
    assert all(r["user_tokens"] > 0 and r["system_tokens"] > 0 for r in result["rows"])
