"""Time to first token with the planner's stable prefix reused vs not (a real server).

Sends the compact planner prompt for two different commands (the second shares the first's
byte-identical system prefix), then a request whose first line differs (no reuse), each with
``max_tokens=1``, and reports the time each took (prefill dominates: that is the time to the
first token) and the prompt tokens the server reports.

    python benchmarks/bench_prefix_cache.py --base-url http://127.0.0.1:8088/v1 \
        --model qwen2.5-coder-1.5b-instruct
"""

from __future__ import annotations

import argparse
import json
import time

from policywright.agent.llm import ChatMessage, ChatRequest, LLMSettings, TextPart
from policywright.agent.llm._openai import OpenAIChatModel
from policywright.agent.planner import LLMPlanner, PlanContext, ProgramMemory, SceneObject
from policywright.primitives import default_registry
from policywright.sim import TabletopWorld, sample_scene


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    with TabletopWorld(sample_scene(0, n_blocks=4, n_bowls=3)) as world:
        scene = [
            SceneObject(name=d.name, kind=d.kind, color=d.color, position=d.position)
            for d in world.detect().values()
        ]
    model = OpenAIChatModel(
        args.model,
        base_url=args.base_url,
        settings=LLMSettings(timeout_s=900, max_retries=0, constrained="off"),
    )
    planner = LLMPlanner(
        model, ProgramMemory(":memory:"), registry=default_registry().for_world("tabletop")
    )

    def timed(label: str, request: ChatRequest) -> dict[str, object]:
        one = request.model_copy(update={"max_tokens": 1})
        t0 = time.perf_counter()
        reply = model.chat(one)
        return {
            "request": label,
            "prompt_tokens": reply.usage.input_tokens + reply.usage.cached_tokens,
            "ttft_s": round(time.perf_counter() - t0, 2),
        }

    a = planner.request(PlanContext(command="put the red block in the blue bowl", scene=scene))
    b = planner.request(PlanContext(command="stack all the blocks", scene=scene))
    system = a.messages[0].plain_text()
    cold = ChatRequest(
        messages=(
            ChatMessage(role="system", content=(TextPart(text=f"[{time.time()}]\n{system}"),)),
            a.messages[1],
        )
    )
    rows = [
        timed("cold: a changed first line, nothing reused", cold),
        timed("command A after the cold one (prefix differs in its first line)", a),
        timed("command B: same system prefix as A, other command", b),
    ]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
