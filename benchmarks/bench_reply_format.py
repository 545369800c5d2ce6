"""Reply shapes from a real model: constrained (grammar over fences, JSON schema) vs not.

Sends the planner's real prompt (compact listing, retrieved examples, scene) for a set of
commands to an OpenAI-compatible server, once per constraint mode, and counts replies that
the planner cannot use (no code, a missing check, truncated, a syntax error). Also records the
prompt tokens the server reports and the time to the reply.

    ../shared/tools/local-llm start
    python benchmarks/bench_reply_format.py --base-url http://127.0.0.1:8088/v1 \
        --model qwen2.5-coder-1.5b-instruct --modes grammar json off --out reply_format.json

Needs a running server: it is not part of the test suite (tests use recorded exchanges).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from policywright.agent.llm import LLMSettings
from policywright.agent.llm._openai import OpenAIChatModel
from policywright.agent.planner import LLMPlanner, PlanContext, ProgramMemory, SceneObject
from policywright.agent.planner._extract import extract_program
from policywright.errors import ModelReplyError
from policywright.primitives import default_registry
from policywright.sim import TabletopWorld, sample_scene

COMMANDS = [
    "put the crimson block in the azure bowl",
    "place the red cube into the blue bowl",
    "put the red block between the blue bowl and the green bowl",
    "put the leftmost block in the blue bowl",
    "swap the red block and the green block",
    "move the red block 10 cm to the left",
    "stack the red block on the green block",
    "put all the blocks in the blue bowl",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--modes", nargs="+", default=["grammar", "json", "off"])
    ap.add_argument("--commands", type=int, default=len(COMMANDS))
    ap.add_argument("--out", type=Path, default=Path("reply_format.json"))
    args = ap.parse_args()
    spec = sample_scene(0, required=["red block", "green block", "blue bowl", "green bowl"])
    with TabletopWorld(spec) as world:
        scene = [
            SceneObject(name=d.name, kind=d.kind, color=d.color, position=d.position)
            for d in world.detect().values()
        ]
    registry = default_registry().for_world("tabletop")
    rows = []
    for mode in args.modes:
        settings = LLMSettings(timeout_s=900, max_retries=0, constrained=mode)
        model = OpenAIChatModel(args.model, base_url=args.base_url, settings=settings)
        planner = LLMPlanner(
            model, ProgramMemory(":memory:"), registry=registry, k_examples=2, plan_cache=False
        )
        for command in COMMANDS[: args.commands]:
            request = planner.request(PlanContext(command=command, scene=scene))
            t0 = time.perf_counter()
            reply = model.chat(request)
            wall = time.perf_counter() - t0
            try:
                extract_program(reply.text, finish_reason=reply.finish_reason)
                error = ""
            except ModelReplyError as exc:
                error = str(exc)[:160]
            row = {
                "mode": mode,
                "command": command,
                "ok": not error,
                "error": error,
                "prompt_tokens": reply.usage.input_tokens + reply.usage.cached_tokens,
                "output_tokens": reply.usage.output_tokens,
                "wall_s": round(wall, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for mode in args.modes:
        mine = [r for r in rows if r["mode"] == mode]
        summary[mode] = {
            "calls": len(mine),
            "unusable_per_100": round(100 * sum(not r["ok"] for r in mine) / max(1, len(mine))),
            "median_prompt_tokens": statistics.median(r["prompt_tokens"] for r in mine),
            "median_wall_s": statistics.median(r["wall_s"] for r in mine),
        }
    print(json.dumps(summary, indent=1))
    args.out.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
