"""The twin's fidelity and cost: how far a twin built from perception is from the real scene.

For each seed, a tabletop scene is built, its twin is made from the cameras' detections, and
the twin's object poses are compared with the real ones (true poses, for measurement only).
Then a scene is stacked (the offline "stack all the blocks") and the twin of the stack is
measured too, since a block seen on another block is where perception is weakest.

    python benchmarks/bench_twin.py --seeds 20
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import TabletopWorld, sample_scene
from policywright.sim._twin import tabletop_twin, yaw_error


def _errors(real: TabletopWorld, twin: TabletopWorld) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"block": [], "bowl": [], "yaw_deg": [], "missing": []}
    truth, copy = real.true_poses(), twin.true_poses()
    kinds = {o.name: o.kind for o in real.spec.objects}
    for name, pose in truth.items():
        if name not in copy:
            out["missing"].append(1.0)
            continue
        out[kinds[name]].append(1000 * math.dist(pose.position, copy[name].position))
        if kinds[name] == "block":
            a = real.client.getEulerFromQuaternion(pose.orientation)[2]
            b = twin.client.getEulerFromQuaternion(copy[name].orientation)[2]
            out["yaw_deg"].append(math.degrees(yaw_error(a, b)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    flat: dict[str, list[float]] = {"block": [], "bowl": [], "yaw_deg": [], "missing": []}
    stacked: dict[str, list[float]] = {"block": [], "bowl": [], "yaw_deg": [], "missing": []}
    build: list[float] = []
    for seed in range(args.seeds):
        with TabletopWorld(sample_scene(seed, n_blocks=4, n_bowls=3)) as world:
            t0 = time.perf_counter()
            twin = tabletop_twin(world)
            build.append(time.perf_counter() - t0)
            for k, v in _errors(world, twin).items():
                flat[k] += v
            twin.close()
    for seed in range(min(args.seeds, 5)):
        spec = sample_scene(seed, n_blocks=3, n_bowls=1)
        with tempfile.TemporaryDirectory() as tmp, TabletopWorld(spec) as world:
            cfg = EngineConfig(state_dir=Path(tmp), rehearse=False)
            with Engine(world, cfg) as eng:
                eng.run("stack all the blocks")
            twin = tabletop_twin(world)
            for k, v in _errors(world, twin).items():
                stacked[k] += v
            twin.close()

    def summary(d: dict[str, list[float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for k in ("block", "bowl", "yaw_deg"):
            if d[k]:
                out[f"{k}_mean"] = round(statistics.mean(d[k]), 2)
                out[f"{k}_max"] = round(max(d[k]), 2)
        out["missing"] = len(d["missing"])
        return out

    print(
        json.dumps(
            {
                "scenes": args.seeds,
                "flat (mm, deg)": summary(flat),
                "stacked (mm, deg)": summary(stacked),
                "build_s_median": round(statistics.median(build), 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
