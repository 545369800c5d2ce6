"""Prompt size and prompt-building time of the LLM planner, against Code as Policies' prompts.

For each task family of the shipped program memory, the first command phrasing is filled with
objects of a sampled scene (``sample_scene(seed)``: names and positions only, no PyBullet world)
and the planner's request is rendered exactly as ``LLMPlanner.write`` would send it: the system
message (rules + generated API listing: the stable, cacheable prefix) and the user message
(retrieved examples, scene, command). No model is called. Also measured: a repair prompt and a
function-writer prompt (the sub-prompts).

Tokens are counted with tiktoken's ``cl100k_base`` when tiktoken is installed, else estimated as
characters / 4 (the report says which). The reference figures are Code as Policies' own prompts
counted with cl100k (see /work/shared/notes/cap-benchmark.md): ``sim_tabletop_ui`` 1,226 tokens
(simulated benchmark), ``tabletop_ui`` 3,126 (demo), ``fgen`` 391, sub-LMPs 282-786.

    python benchmarks/bench_prompts.py [--seed 0] [--k 4] [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from policywright.agent.listing import api_listing
from policywright.agent.llm import ChatRequest, ScriptedChatModel
from policywright.agent.planner import LLMPlanner, PlanContext, ProgramMemory, SceneObject
from policywright.agent.planner._text import PLACEHOLDER_RE
from policywright.agent.planner.llm import EXAMPLE_SLOT_VALUES
from policywright.agent.planner.memory import load_seed_examples
from policywright.primitives import default_registry
from policywright.sim import sample_scene

#: Code as Policies' prompts from the shared notes: (characters, cl100k tokens). Their
#: characters / 4 is within 3% of cl100k (4,958 / 4 = 1,240 vs 1,226), so the estimate compares.
CAP_REFERENCE = {
    "sim_tabletop_ui (CaP simulated benchmark)": (4958, 1226),
    "tabletop_ui (CaP demo)": (12341, 3126),
    "fgen (CaP function generation)": (1442, 391),
    "parse_obj_name (CaP sub-LMP)": (3089, 786),
}
TABLE_Z = 0.625


def tokenizer() -> tuple[str, Callable[[str], int]]:
    """The token counter: tiktoken cl100k_base when installed, else characters / 4."""
    try:
        import tiktoken

        enc = tiktoken.get_encoding("cl100k_base")
        return "tiktoken cl100k_base", lambda text: len(enc.encode(text))
    except Exception:  # not installed, or its encoding file cannot be downloaded offline
        return "estimate: characters / 4", lambda text: round(len(text) / 4)


def scene_objects(seed: int) -> list[SceneObject]:
    """A sampled scene as the planner sees it (names, kinds, colours, positions by hand)."""
    spec = sample_scene(seed)
    return [
        SceneObject(
            name=o.name,
            kind=o.kind,
            color=o.color,
            position=(float(o.position[0]), float(o.position[1]), TABLE_Z + 0.02),
        )
        for o in spec.objects
    ]


def fill_command(template: str, scene: Sequence[SceneObject]) -> str:
    """The command template with its object slots filled from the scene."""
    blocks = [o.name for o in scene if o.kind == "block"]
    bowls = [o.name for o in scene if o.kind == "bowl"]
    values = dict(EXAMPLE_SLOT_VALUES)
    values.update({"block1": blocks[0], "block2": blocks[1], "bowl1": bowls[0]})
    return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


def first_commands() -> list[tuple[str, str]]:
    """(family, first command template) per seeded family, in file order."""
    seen: dict[str, str] = {}
    for ex in load_seed_examples():
        seen.setdefault(ex.family, ex.command_template)
    return list(seen.items())


def _texts(request: ChatRequest) -> tuple[str, str]:
    return request.messages[0].plain_text(), request.messages[1].plain_text()


def measure(seed: int = 0, k: int = 4, repeats: int = 20) -> dict[str, Any]:
    """Render every family's prompt; return sizes and timings."""
    name, count = tokenizer()
    registry = default_registry().for_world("tabletop")
    listings = {m: api_listing(registry, m) for m in ("act", "check")}
    memory = ProgramMemory(":memory:")
    planner = LLMPlanner(ScriptedChatModel.of(), memory, lambda mode: listings[mode], k_examples=k)
    scene = scene_objects(seed)
    rows: list[dict[str, Any]] = []
    for family, template in first_commands():
        ctx = PlanContext(command=fill_command(template, scene), scene=scene)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            request = planner.request(ctx)
            times.append(time.perf_counter() - t0)
        system, user = _texts(request)
        rows.append(
            {
                "family": family,
                "command": ctx.command,
                "system_tokens": count(system),
                "user_tokens": count(user),
                "total_tokens": count(system) + count(user),
                "render_ms_median": 1000 * statistics.median(times),
            }
        )
    # Sub-prompts: a repair after a runtime error, and one function-writer call.
    ctx = PlanContext(command=fill_command(first_commands()[0][1], scene), scene=scene)
    repair = ctx.model_copy(
        update={
            "attempt": 2,
            "previous_program": "blocks = get_obj_names()\nx = blocks[9]\n",
            "feedback": [
                "the program ended with status 'error' at line 2: 'x = blocks[9]': "
                "IndexError: list index out of range"
            ],
        }
    )
    rsys, ruser = _texts(planner.request(repair))
    fn_model = ScriptedChatModel.of(
        "```python\narrange_blocks_in_row(get_obj_names())\n```\n"
        "```python check\nverdict(True, 'x')\n```",
        "```python\ndef arrange_blocks_in_row(names):\n    return names\n```",
    )
    LLMPlanner(fn_model, memory, lambda mode: listings[mode], k_examples=k).write(ctx)
    fsys, fuser = _texts(fn_model.requests[1])
    return {
        "tokenizer": name,
        "seed": seed,
        "k_examples": k,
        "repeats": repeats,
        "rows": rows,
        "repair": {"system_tokens": count(rsys), "user_tokens": count(ruser)},
        "function_writer": {"system_tokens": count(fsys), "user_tokens": count(fuser)},
        "cap_reference": CAP_REFERENCE,
    }


def report(result: dict[str, Any]) -> str:
    """The measurements as a text table."""
    rows = result["rows"]
    lines = [
        f"tokenizer: {result['tokenizer']}; seed {result['seed']}; k_examples "
        f"{result['k_examples']}; render time = median of {result['repeats']} "
        "(retrieval + template rendering, no model)",
        "",
        f"{'family':<24} {'system':>7} {'user':>6} {'total':>6} {'ms':>7}  command",
    ]
    for r in rows:
        lines.append(
            f"{r['family']:<24} {r['system_tokens']:>7} {r['user_tokens']:>6} "
            f"{r['total_tokens']:>6} {r['render_ms_median']:>7.2f}  {r['command']}"
        )
    totals = [r["total_tokens"] for r in rows]
    users = [r["user_tokens"] for r in rows]
    ms = [r["render_ms_median"] for r in rows]
    lines += [
        "",
        f"planner prompt: median {statistics.median(totals):.0f} tokens "
        f"(min {min(totals)}, max {max(totals)}); cacheable system prefix "
        f"{rows[0]['system_tokens']} tokens; per-command user part median "
        f"{statistics.median(users):.0f}; render median {statistics.median(ms):.2f} ms",
        f"repair prompt: {result['repair']['system_tokens']} + {result['repair']['user_tokens']}"
        " (system + user) tokens",
        f"function-writer prompt: {result['function_writer']['system_tokens']} + "
        f"{result['function_writer']['user_tokens']} (system + user) tokens",
        "",
        "Code as Policies reference: cl100k tokens (characters / 4)",
        *(
            f"  {k}: {tokens} ({round(chars / 4)})"
            for k, (chars, tokens) in result["cap_reference"].items()
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table (or JSON); returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=4, help="retrieved examples per prompt")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    result = measure(seed=args.seed, k=args.k, repeats=args.repeats)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
