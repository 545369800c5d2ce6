"""The benchmark scripts stay runnable (tiny sizes; the figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("bench_graph.py", ["--loops", "2"], "SqliteSaver"),
        ("bench_sandbox.py", [], "warm start per run"),
        ("bench_sim.py", ["--repeats", "1"], "sim / wall ratio"),
        ("bench_prompts.py", ["--repeats", "1"], "planner prompt: median"),
        ("bench_llm_path.py", ["--runs", "1"], "llm / offline"),
        ("bench_eval_throughput.py", ["--episodes", "4"], "scaling ratio"),
    ],
)
def test_benchmark_script_runs(script, args, expect):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout
