"""Benchmark the sandbox's kernel layers: warm and cold start with each layer on vs off.

Run: ``python benchmarks/bench_sandbox_isolation.py [--runs N]`` (as root, and as a normal user
with e.g. ``runuser -u USER -- python benchmarks/bench_sandbox_isolation.py``).  Target: a warm
start stays under 10 ms with every layer on (issue 14).

A warm start is one ``Sandbox.run("x = 1", host)``: static check, fork from the zygote, the
child's isolation (uid, Landlock, seccomp, rlimits), the program, the report.  Each row leaves
one layer off (``Sandbox(skip_layers=...)``, best-effort isolation); "all on" and "all off" bound
the cost of the whole stack.  The rows are interleaved over several rounds so that the load of
a shared machine spreads over all of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Collection
from typing import Any

from policywright.agent.sandbox import Sandbox, SandboxLimits

LAYERS = ("namespaces", "run-uid", "landlock", "seccomp")
CONFIGS: dict[str, tuple[str, ...]] = {
    "all layers on": (),
    **{f"{layer} off": (layer,) for layer in LAYERS},
    "all layers off": LAYERS,
}


class NoopHost:
    def names(self) -> Collection[str]:
        return ["noop"]

    def array_returning(self) -> Collection[str]:
        return []

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=60, help="warm runs per layer setting")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    host = NoopHost()
    limits = SandboxLimits(isolation="best-effort")
    boxes = {name: Sandbox(limits, skip_layers=skip) for name, skip in CONFIGS.items()}
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    try:
        for box in boxes.values():
            assert box.run("x = 1", host).status == "ok"  # start the zygote
        for _ in range(args.rounds):
            for name, box in boxes.items():
                for _ in range(args.runs // args.rounds):
                    t0 = time.perf_counter()
                    report = box.run("x = 1", host)
                    times[name].append(time.perf_counter() - t0)
                    assert report.status == "ok", report
        layers = {name: box.layers() for name, box in boxes.items()}
    finally:
        for box in boxes.values():
            box.close()
    # A cold child (a fresh interpreter) prepares and applies every layer it can itself.
    with Sandbox(SandboxLimits(isolation="best-effort"), warm=False) as box:
        box.run("x = 1", host)
        cold = []
        for _ in range(5):
            t0 = time.perf_counter()
            box.run("x = 1", host)
            cold.append(time.perf_counter() - t0)
    print(f"uid {os.geteuid()}, {os.cpu_count()} CPUs")
    print(f"{'setting':<16} {'median ms':>10} {'p90 ms':>8}  active layers")
    for name, samples in times.items():
        samples.sort()
        p90 = samples[int(0.9 * (len(samples) - 1))]
        on = layers[name]
        active = ", ".join(
            label
            for label, ok in (
                (f"landlock ABI {on.landlock_abi}", on.landlock_abi > 0),
                ("seccomp", on.seccomp),
                ("userns", on.userns),
                ("net/ipc/mount ns", on.netns),
                ("uid per run", on.run_uid),
            )
            if ok
        )
        print(f"{name:<16} {statistics.median(samples) * 1e3:>10.2f} {p90 * 1e3:>8.2f}  {active}")
    print(f"cold start, all layers on: {statistics.median(cold) * 1e3:.1f} ms (median of 5)")


if __name__ == "__main__":
    main()
