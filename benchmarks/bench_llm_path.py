"""Time from command to the first primitive call, excluding the model's own latency.

    python benchmarks/bench_llm_path.py [--runs 10]

The LLM planner runs against a scripted chat model that answers instantly, so what is measured
is the engine's own path: observe (cameras), prompt rendering and retrieval, reply extraction,
static checks, sandbox start, up to the moment the first primitive call starts (its event is
sent when it returns, with its duration). The offline planner is
measured in the same run for comparison (its path has no prompt).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPLY = """```python
put_first_on_second('red block', 'blue bowl')
```
```python check
verdict(is_on('red block', 'blue bowl'), 'red block in blue bowl')
```"""
COMMAND = "put the red block in the blue bowl"


def _first_call_ms(engine: Any, command: str, snapshot: Path) -> float:
    engine.world.restore_state(snapshot)  # every run starts from the same scene
    t0 = time.perf_counter()
    first: list[float] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "call" and not first:
            # The event is sent when the call returns: its start is that minus its duration.
            first.append(time.perf_counter() - float(event.get("duration_s", 0.0)))

    result = engine.run(command, on_event=on_event)
    if not first:
        raise RuntimeError(f"no primitive call was made: {result.status}: {result.reason}")
    return (first[0] - t0) * 1000.0


def measure(runs: int) -> dict[str, list[float]]:
    """Median-able samples (ms) per planner kind."""
    from policywright.agent.llm import ScriptedChatModel
    from policywright.agent.planner import LLMPlanner, ProgramMemory
    from policywright.config import EngineConfig
    from policywright.engine import Engine, scene_for_command
    from policywright.sim import TabletopWorld

    out: dict[str, list[float]] = {"llm (scripted model)": [], "offline": []}
    with tempfile.TemporaryDirectory() as tmp, TabletopWorld(scene_for_command(COMMAND)) as world:
        state = Path(tmp)
        snap = world.save_state(state / "start.bullet")
        model = ScriptedChatModel.of(*([REPLY] * (runs + 1)))
        llm = LLMPlanner(model, ProgramMemory(state / "m.sqlite"), plan_cache=False)
        with Engine(world, EngineConfig(state_dir=state), planner=llm) as eng:
            _first_call_ms(eng, COMMAND, snap)  # warm-up: imports, zygote, first render
            for _ in range(runs):
                out["llm (scripted model)"].append(_first_call_ms(eng, COMMAND, snap))
        with Engine(world, EngineConfig(state_dir=state)) as eng:
            _first_call_ms(eng, COMMAND, snap)
            for _ in range(runs):
                out["offline"].append(_first_call_ms(eng, COMMAND, snap))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the median time from command to first primitive call per planner."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args(argv)
    samples = measure(args.runs)
    for name, xs in samples.items():
        print(
            f"{name:22s} command -> first primitive call: median {statistics.median(xs):.1f} ms "
            f"(min {min(xs):.1f}, max {max(xs):.1f}, n={len(xs)})"
        )
    ratio = statistics.median(samples["llm (scripted model)"]) / statistics.median(
        samples["offline"]
    )
    print(f"llm / offline: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
