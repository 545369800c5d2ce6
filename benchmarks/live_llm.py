"""Live planning with a real model behind an OpenAI-compatible server (never in CI).

    ../shared/tools/local-llm start          # Qwen2.5-Coder-1.5B on 127.0.0.1:8088
    python benchmarks/live_llm.py --base-url http://127.0.0.1:8088/v1 \
        --model qwen2.5-coder-1.5b-instruct --seeds 0 1 2

Runs the pick-and-place, stacking and matching-bowls commands through the real engine (LLM
planner, sandbox, PyBullet, code verification) and prints success rate, tokens and latency.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMANDS = {
    "pick-place": "put the red block in the blue bowl",
    "stack": "stack all the blocks",
    "matching-bowls": "put all the blocks in the bowls with matching colors",
}


def run_live(
    base_url: str,
    model: str,
    seeds: list[int],
    *,
    state_dir: Path,
    max_attempts: int = 3,
    commands: dict[str, str] | None = None,
    timeout_s: float = 900.0,
) -> list[dict[str, Any]]:
    """Run every command on every seed; return one row per run."""
    from policywright.agent.llm import LLMSettings
    from policywright.config import EngineConfig
    from policywright.engine import Engine, scene_for_command
    from policywright.sim import TabletopWorld

    rows: list[dict[str, Any]] = []
    for name, command in (commands or COMMANDS).items():
        for seed in seeds:
            cfg = EngineConfig(
                state_dir=state_dir,
                llm=f"openai-compatible:{base_url}#{model}",
                max_attempts=max_attempts,
                seed=seed,
                plan_cache=False,  # measure the model, not the cache
                # A small CPU model takes minutes on a long prompt; a retry after a client
                # timeout would only queue a second copy behind the first on the server.
                llm_settings=LLMSettings(timeout_s=timeout_s, max_retries=0),
            )
            spec = scene_for_command(command, seed=seed)
            t0 = time.perf_counter()
            with TabletopWorld(spec) as world, Engine(world, cfg) as eng:
                result = eng.run(command)
            rows.append(
                {
                    "task": name,
                    "seed": seed,
                    "status": result.status,
                    "attempts": len(result.attempts),
                    "reason": result.reason[:200],
                    "outcomes": [
                        f"{a.get('outcome')}: {str(a.get('feedback', ''))[:120]}"
                        for a in result.attempts
                    ],
                    "wall_s": round(time.perf_counter() - t0, 1),
                    **result.usage.model_dump(),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def summarise(rows: list[dict[str, Any]]) -> str:
    """A small table: success, attempts, tokens and model latency per task."""
    lines = ["task | success | mean attempts | input tok | output tok | model latency s"]
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]
        ok = sum(r["status"] == "succeeded" for r in rs)
        lines.append(
            f"{task} | {ok}/{len(rs)} | {sum(r['attempts'] for r in rs) / len(rs):.1f} | "
            f"{sum(r['input_tokens'] for r in rs) / len(rs):.0f} | "
            f"{sum(r['output_tokens'] for r in rs) / len(rs):.0f} | "
            f"{sum(r['latency_s'] for r in rs) / len(rs):.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-attempts", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSONL")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_live(
            args.base_url,
            args.model,
            args.seeds,
            state_dir=Path(tmp),
            max_attempts=args.max_attempts,
        )
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
