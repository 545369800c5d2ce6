"""Benchmark the sandbox: cold and warm start, primitive-call round trip, static check.

Run: ``python benchmarks/bench_sandbox.py``.  Targets: warm start < 20 ms per run, primitive
round trip < 1 ms per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Collection
from typing import Any

from policywright.agent.sandbox import Sandbox, check_program

TYPICAL = """
def closest(names, target):
    best, best_d = None, None
    for name in names:
        d = np.linalg.norm(get_pos(name) - target)
        if best_d is None or d < best_d:
            best, best_d = name, d
    return best

names = ["red block", "blue block", "green block"]
corners = np.array([[0.35, 0.28], [0.70, 0.28], [0.70, -0.28], [0.35, -0.28]])
centre = np.mean(corners, axis=0)
target = closest(names, centre)
print(f"closest to the centre: {target}")
angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
path = np.stack([centre[0] + 0.1 * np.cos(angles), centre[1] + 0.1 * np.sin(angles)], axis=1)
for x, y in path:
    move(x, y)
try:
    noop()
except PrimitiveError as e:
    print("failed:", e)
poly = shapely.Polygon(corners.tolist())
inside = [n for n in names if poly.contains(shapely.Point(*get_pos(n)))]
print(len(inside), math.degrees(math.atan2(1, 1)))
if not inside:
    print("nothing inside")
else:
    print(sorted(inside)[0])
assert len(path) == 12
"""


class NoopHost:
    def names(self) -> Collection[str]:
        return ["move", "get_pos", "noop"]

    def array_returning(self) -> Collection[str]:
        return ["get_pos"]

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        return [0.5, 0.0] if name == "get_pos" else None


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    host = NoopHost()
    rows: list[tuple[str, float, str]] = []

    with Sandbox(warm=False) as cold:
        cold.run("x = 1", host)
        t = timed(lambda: cold.run("x = 1", host), 10)
        rows.append(("cold start per run (spawn)", statistics.median(t) * 1e3, "ms"))

    with Sandbox() as warm:
        warm.run("x = 1", host)
        t = timed(lambda: warm.run("x = 1", host), 100)
        rows.append(("warm start per run (zygote fork)", statistics.median(t) * 1e3, "ms"))

        calls = "for i in range(1000):\n    noop()\n"
        warm.run(calls, host)
        per_call = [
            (total - statistics.median(t)) / 1000
            for total in timed(lambda: warm.run(calls, host), 10)
        ]
        rows.append(("primitive call round trip", statistics.median(per_call) * 1e6, "us"))
        report = warm.run(TYPICAL, host)
        assert report.status == "ok", report

    n_lines = len(TYPICAL.strip().splitlines())
    t = timed(lambda: check_program(TYPICAL, primitive_names=host.names()), 200)
    rows.append((f"static check, {n_lines}-line program", statistics.median(t) * 1e3, "ms"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>10}")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>7.3f} {unit}")


if __name__ == "__main__":
    main()
