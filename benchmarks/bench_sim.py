"""Benchmark one pick-and-place in the tabletop world: wall vs sim time, build, render, detect.

Run: ``python benchmarks/bench_sim.py [--repeats N] [--full-panda]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

from policywright.sim import TabletopWorld, sample_scene
from policywright.skills import pick, place

logger = logging.getLogger("bench_sim")


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full-panda", action="store_true", help="use the full visual meshes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    spec = sample_scene(0, required=["red block", "blue bowl"])
    if args.full_panda:
        spec = spec.model_copy(update={"panda_lite": False})

    t0 = time.perf_counter()
    world = TabletopWorld(spec)
    first_build = time.perf_counter() - t0
    rebuild = _timed(lambda: world.reset(spec), args.repeats)

    render_top = _timed(lambda: world.render("top", 320, 240), args.repeats)
    render_front = _timed(lambda: world.render("front", 320, 240), args.repeats)
    detect = _timed(world.detect, args.repeats)

    walls, sims = [], []
    for _ in range(args.repeats):
        world.reset(spec)
        det = world.detect()
        sim0 = world.sim_time
        t0 = time.perf_counter()
        ok = pick(world, det["red block"].position).ok
        ok = place(world, det["blue bowl"].position[:2]).ok and ok
        walls.append(time.perf_counter() - t0)
        sims.append(world.sim_time - sim0)
        if not ok:
            logger.warning("pick-and-place failed")
    world.close()

    def ms(values: list[float]) -> str:
        return f"{1000 * statistics.median(values):8.1f} ms"

    wall, sim = statistics.median(walls), statistics.median(sims)
    rows = [
        ("panda", "full" if args.full_panda else "lite"),
        ("scene build (first, incl. mesh parse)", f"{1000 * first_build:8.1f} ms"),
        ("scene rebuild (reset)", ms(rebuild)),
        ("render top 320x240", ms(render_top)),
        ("render front 320x240", ms(render_front)),
        ("detect()", ms(detect)),
        ("pick-and-place wall time", f"{wall:8.3f} s"),
        ("pick-and-place sim time", f"{sim:8.3f} s"),
        ("sim / wall ratio", f"{sim / wall:8.1f} x"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric'.ljust(width)} | median of {args.repeats}", "-" * (width + 20)]
    lines += [f"{name.ljust(width)} | {value}" for name, value in rows]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
