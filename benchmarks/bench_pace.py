"""Human-pace interaction: the pace the world holds and the web UI's camera frame rate.

One live session (the engine, its worker thread and a web-like subscriber that wants frames)
runs "put the red block in the blue bowl" at each pace asked for. While the arm moves (from
the put's call_start to its call event) it records the sim clock and the wall clock, and every
camera frame the subscriber receives (two cameras, 320x240 PNG each, as `serve` sends them).

    python benchmarks/bench_pace.py [--speeds 1,max] [--fps 10] [--json out.json]

Reported per pace: sim seconds of motion, wall seconds, the pace held (sim / wall), frames per
wall second and the longest gap between frames.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from policywright._private.live import LiveSession
from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import SceneSpec, TabletopWorld

SCENE = {
    "objects": [
        {"name": "red block", "color": "red", "kind": "block", "position": [0.45, 0.12]},
        {"name": "blue bowl", "color": "blue", "kind": "bowl", "position": [0.60, 0.10]},
        {"name": "green bowl", "color": "green", "kind": "bowl", "position": [0.58, -0.12]},
    ]
}


def measure(speed: float | None, fps: float, state: Path) -> dict[str, Any]:
    """One task at ``speed`` (None = max); the figures of its motion."""
    world = TabletopWorld(SceneSpec.model_validate(SCENE))
    engine = Engine(world, EngineConfig(state_dir=state))
    live = LiveSession(engine, session="bench", frame_hz=fps, speed=speed)
    sub = live.subscribe(frames=True)
    marks: dict[str, tuple[float, float]] = {}
    frames: list[float] = []
    try:
        live.submit("put the red block in the blue bowl")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            e = sub.get(timeout=0.5)
            if e is None:
                continue
            now = time.monotonic()
            kind = e.get("event")
            if kind == "call_start" and e.get("name") == "put_first_on_second":
                marks["start"] = (now, world.sim_time)
            elif kind == "call" and e.get("name") == "put_first_on_second":
                marks["end"] = (now, float(e["sim_time"]))
            elif kind == "frames" and "start" in marks and "end" not in marks:
                frames.append(now)
            elif kind == "result":
                status = e["status"]
                break
        else:
            raise RuntimeError("the task did not finish in 300 s")
    finally:
        live.close()
        engine.close()
        world.close()
    (w0, s0), (w1, s1) = marks["start"], marks["end"]
    wall, sim = w1 - w0, s1 - s0
    gaps = [b - a for a, b in zip([w0, *frames], [*frames, w1], strict=False)]
    return {
        "speed": "max" if speed is None else speed,
        "status": status,
        "sim_s": round(sim, 3),
        "wall_s": round(wall, 3),
        "pace": round(sim / wall, 3),
        "frames": len(frames),
        "fps": round(len(frames) / wall, 2),
        "max_gap_s": round(max(gaps), 3),
        "median_gap_s": round(statistics.median(gaps), 3),
    }


def main() -> None:
    """Run the measurements and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speeds", default="1,max", help="Comma-separated paces: numbers or max.")
    ap.add_argument("--fps", type=float, default=10.0, help="Frames per second asked for.")
    ap.add_argument("--json", type=Path, default=None, help="Also write the rows here.")
    args = ap.parse_args()
    rows = []
    for word in args.speeds.split(","):
        speed = None if word.strip() == "max" else float(word)
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(measure(speed, args.fps, Path(tmp)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"fps asked: {args.fps:g}; load average at the end: {load:.2f}; cpus: {os.cpu_count()}")
    print("| pace asked | sim s of motion | wall s | pace held (sim/wall) | frames/s | max gap s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['speed']} | {r['sim_s']:.2f} | {r['wall_s']:.2f} | {r['pace']:.3f} | "
            f"{r['fps']:.1f} | {r['max_gap_s']:.2f} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
