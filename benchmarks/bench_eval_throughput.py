"""Evaluation throughput: episodes per minute with the offline planner, 1 vs 2 workers.

The same cap-tabletop episode set (SA-SI by default) runs once on a 1-worker and once on a
2-worker local pool, in this one invocation, each into a fresh run folder. The wall time is end
to end (spawning the workers and their sandboxes included), so it is what a user waits for.
The success vectors of the two runs must be identical (same seeds, same outcomes).

``--profile`` also runs a few episodes in this process under cProfile and splits an episode's
wall time into its parts (suite loading, scene sampling, world build, engine setup, the engine's
run, the ground-truth check, artifacts).

    python benchmarks/bench_eval_throughput.py [--episodes 24] [--split SA-SI] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from policywright.evals._rundir import load_run
from policywright.evals._runner import LocalPool, RunOptions, execute_run, open_run

TARGET_RATIO = 1.7
TARGET_EPM = 20.0

# Own (exclusive) time, summed over every thread, grouped by where the code lives: the first
# matching (label, substring of "file:function") wins.
GROUPS = [
    (
        "waiting (locks, queues, select: threads and the sandbox child)",
        (
            "acquire' of '_thread.lock",
            "SimpleQueue",
            "select.select",
            "select.poll",
            "method 'recv",
            "method 'poll",
        ),
    ),
    ("physics (sim/_world.py step)", ("sim/_world.py:step",)),
    ("camera renders (sim/_bullet.py capture)", ("sim/_bullet.py:capture",)),
    ("inverse kinematics (sim/_arm.py)", ("sim/_arm.py",)),
    ("other sim (build, perception, safety)", ("/sim/", "pybullet")),
    ("PNG encoding (artifacts, snapshots)", ("ImagingEncoder", "PIL/")),
    ("YAML parsing (suite loading)", ("yaml/",)),
    ("SQLite (checkpoints, journal, memory)", ("sqlite3", "checkpoint/sqlite")),
    ("LangGraph", ("langgraph/", "langchain_core/")),
    ("pydantic", ("pydantic",)),
    (
        "policywright agent/engine/evals",
        ("/agent/", "policywright/", "/evals/", "/primitives/", "/skills/"),
    ),
]


def _parts() -> list[tuple[str, Any]]:
    from policywright.engine import Engine
    from policywright.evals import _episodes, _sampling, _schema

    return [
        ("load_suite (YAML + validation)", _schema.load_suite),
        ("sample_episode (scene sampling)", _sampling.sample_episode),
        ("build world (PyBullet)", _episodes._build_world),
        ("Engine(...) setup", Engine.__init__),
        ("engine.run (plan, check, execute, verify)", Engine.run),
        ("artifacts (programs, 2 PNG renders)", _episodes._artifacts),
        ("engine.close", Engine.close),
    ]


def run_pool(options: RunOptions, workers: int, root: Path) -> dict[str, Any]:
    run_dir, manifest = open_run(options, root, f"w{workers}")
    ready: list[float] = []
    finished: list[float] = []

    def on_event(kind: str, _data: dict[str, Any]) -> None:
        if kind == "ready":
            ready.append(time.perf_counter())
        elif kind == "episode":
            finished.append(time.perf_counter())

    t0 = time.perf_counter()
    summary = execute_run(run_dir, manifest, LocalPool(workers), on_event=on_event)
    wall = time.perf_counter() - t0
    # Startup: until every first-generation worker is ready; tail: after the first worker
    # ran out of work (the others finish their last episode while it idles).
    startup = ready[min(workers, len(ready)) - 1] - t0 if ready else 0.0
    tail = finished[-1] - finished[-workers] if len(finished) >= workers else 0.0
    results = load_run(run_dir).results
    return {
        "workers": workers,
        "episodes": summary.ran,
        "wall_s": wall,
        "epm": 60.0 * summary.ran / wall,
        "startup_s": startup,
        "tail_s": tail,
        "epm_after_startup": 60.0 * summary.ran / (wall - startup),
        "succeeded": summary.succeeded,
        "infra": summary.infra_errors,
        "episode_wall_mean": statistics.fmean(r["wall_s"] for r in results),
        "vector": [(r["episode_id"], r["success"], r["failure_category"]) for r in results],
    }


def profile(options: RunOptions, n: int, root: Path) -> None:
    from policywright.agent.sandbox import Sandbox
    from policywright.evals._episodes import run_episode
    from policywright.evals._runner import plan_run

    planned = plan_run(options)[:n]
    out = root / "profile"
    threads: list[cProfile.Profile] = []

    def start_thread_profiler(*_: Any) -> None:
        sys.setprofile(None)
        p = cProfile.Profile()
        threads.append(p)
        p.enable()

    with Sandbox() as sandbox:
        run_episode(json.dumps(planned[0].spec), str(out / "warm"), sandbox=sandbox)  # imports
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        threading.setprofile(start_thread_profiler)  # each new (LangGraph) thread profiles itself
        prof.enable()
        for p in planned:
            run_episode(json.dumps(p.spec), str(out), sandbox=sandbox)
        prof.disable()
        threading.setprofile(None)
        wall = time.perf_counter() - t0
    for p in threads:
        p.disable()
    main_stats = pstats.Stats(prof)
    raw_main: dict[Any, Any] = main_stats.stats  # type: ignore[attr-defined]
    n = len(planned)
    print(f"\nprofile: {n} episodes in one process, {wall / n:.3f} s each (wall, profiled)")
    print(f"{'part of run_episode (cumulative, main thread)':<52} {'s / episode':>11} {'share':>6}")
    for label, fn in _parts():
        code = fn.__code__
        key = (code.co_filename, code.co_firstlineno, code.co_name)
        cum = raw_main.get(key, (0, 0, 0, 0.0))[3]
        print(f"{label:<52} {cum / n:>11.3f} {100 * cum / wall:>5.1f}%")
    every = pstats.Stats(prof)
    for p in threads:
        every.add(p)
    raw: dict[Any, Any] = every.stats  # type: ignore[attr-defined]
    own: dict[str, float] = {}
    for (file, _line, fn), v in raw.items():
        where = f"{file}:{fn}"
        label = next((lab for lab, keys in GROUPS if any(k in where for k in keys)), "other")
        own[label] = own.get(label, 0.0) + v[2]
    busy = sum(t for lab, t in own.items() if not lab.startswith("waiting"))
    print(f"\n{'own time, all threads (where the CPU goes)':<52} {'s / episode':>11} {'share':>6}")
    for label, t in sorted(own.items(), key=lambda kv: -kv[1]):
        if label.startswith("waiting"):
            continue
        print(f"{label:<52} {t / n:>11.3f} {100 * t / busy:>5.1f}%")
    print(f"{'(sum, excluding waiting)':<52} {busy / n:>11.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=24, help="episodes per pool run")
    ap.add_argument("--split", default="SA-SI")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--profile", action="store_true", help="also profile episodes in-process")
    ap.add_argument("--profile-episodes", type=int, default=8)
    args = ap.parse_args()

    from policywright.evals._schema import load_suite

    suite = load_suite("cap-tabletop")
    n_tasks = len(suite.split(args.split).tasks)
    trials = max(1, math.ceil(args.episodes / n_tasks))
    options = RunOptions(
        suites=["cap-tabletop"], splits=[args.split], trials=trials, seed=args.seed
    )
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="pw-bench-eval-") as tmp:
        root = Path(tmp)
        rows = [run_pool(options, w, root) for w in counts]
        print(
            f"cap-tabletop {args.split}, offline planner, {rows[0]['episodes']} episodes "
            f"({trials} trials x {n_tasks} tasks), seed {args.seed}"
        )
        print(
            f"{'workers':>7} {'wall s':>7} {'episodes/min':>12} {'ok':>3} {'infra':>5} "
            f"{'startup s':>9} {'tail s':>6} {'/min after startup':>18} {'s/episode in worker':>19}"
        )
        for r in rows:
            print(
                f"{r['workers']:>7} {r['wall_s']:>7.1f} {r['epm']:>12.1f} {r['succeeded']:>3} "
                f"{r['infra']:>5} {r['startup_s']:>9.2f} {r['tail_s']:>6.2f} "
                f"{r['epm_after_startup']:>18.1f} {r['episode_wall_mean']:>19.2f}"
            )
        same = all(r["vector"] == rows[0]["vector"] for r in rows)
        print(f"identical outcomes across worker counts: {same}")
        if len(rows) >= 2:
            ratio = rows[-1]["epm"] / rows[0]["epm"]
            steady = rows[-1]["epm_after_startup"] / rows[0]["epm_after_startup"]
            print(
                f"scaling ratio {rows[-1]['workers']} vs {rows[0]['workers']} worker(s): "
                f"{ratio:.2f}x end to end, {steady:.2f}x after startup (target >= "
                f"{TARGET_RATIO}x); {rows[-1]['epm']:.1f} episodes/min (target >= {TARGET_EPM:.0f})"
            )
        if args.profile:
            profile(options, args.profile_episodes, root)
        if not same:
            raise SystemExit("outcomes differ between worker counts")


if __name__ == "__main__":
    main()
