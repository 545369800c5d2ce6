"""Rehearsal figures of evaluation runs: success per split and what rehearsal cost and saved.

    python benchmarks/rehearsal_report.py runs/offline-rehearse runs/offline-norehearse

Reads each run folder's episode results (``policywright eval ... --out runs --run-id ID``) and
prints, per run: success per split (ground-truth checkers on true poses), real executions per
task (all and on successes), rehearsals per task, the twin's false-success rate (attempts the
twin verified that the real world did not), rehearsal wall time per task, unusable model
replies per 100 model calls, prompt tokens per model call, and the time from the command to
the first real motion (median).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _load(run: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run / "episodes").rglob("*.json"))]


def _mean(values: list[float]) -> float:
    return statistics.mean(values) if values else float("nan")


def summarise(run: Path) -> dict[str, Any]:
    rows = _load(run)
    splits: dict[str, list[bool]] = {}
    for r in rows:
        splits.setdefault(r["split"], []).append(bool(r["success"]))
    ok = [r for r in rows if r["success"]]
    calls = sum(r.get("llm_calls", 0) for r in rows)
    real = sum(r.get("real_executions", 0) for r in rows)
    false_ok = sum(r.get("twin_false_success", 0) for r in rows)
    motion = [r["latency_first_motion_s"] for r in rows if r.get("latency_first_motion_s")]
    tokens_in = sum(r.get("tokens_in", 0) + r.get("tokens_cached", 0) for r in rows)
    categories: dict[str, int] = {}
    for r in rows:
        if not r["success"]:
            key = r.get("failure_category") or "?"
            categories[key] = categories.get(key, 0) + 1
    return {
        "run": run.name,
        "episodes": len(rows),
        "success": {
            k: f"{sum(v)}/{len(v)} ({100 * sum(v) / len(v):.1f} %)" for k, v in splits.items()
        },
        "real_executions_per_task": round(_mean([r.get("real_executions", 0) for r in rows]), 2),
        "real_executions_per_success": round(_mean([r.get("real_executions", 0) for r in ok]), 2),
        "rehearsals_per_task": round(_mean([r.get("rehearsals", 0) for r in rows]), 2),
        "twin_false_success": f"{false_ok} of {real} real executions",
        "rehearsal_wall_s_per_task": round(
            _mean([r.get("rehearsal_wall_s", 0.0) for r in rows]), 2
        ),
        "model_calls": calls,
        "unusable_replies_per_100_calls": round(
            100 * sum(r.get("reply_shape_failures", 0) for r in rows) / calls, 1
        )
        if calls
        else None,
        "prompt_tokens_per_call": round(tokens_in / calls) if calls else None,
        "first_motion_s_median": round(statistics.median(motion), 1) if motion else None,
        "wall_s_per_task": round(_mean([r["wall_s"] for r in rows]), 1),
        "failures": categories,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    for run in args.runs:
        print(json.dumps(summarise(run), indent=1))


if __name__ == "__main__":
    main()
