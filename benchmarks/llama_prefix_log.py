"""Prefix reuse as llama.cpp's server logged it: time to first token with a reused prefix.

The local server (``../shared/tools/local-llm``) logs, per request, how many prompt tokens it
reused from the previous request ("N prefix-match hit, remaining M prompt tokens to eval") and
how long the prefill of the rest took ("prompt eval time = X ms / M tokens"). The prefill is
the time to the first token. This reads a log of an evaluation and summarises both.

    python benchmarks/llama_prefix_log.py ~/.cache/local-llm/server.log [--since LINE]
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

_HIT = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
_EVAL = re.compile(r"prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens")
_GEN = re.compile(r"^llama_perf_context_print:\s+eval time =\s+([\d.]+) ms /\s+(\d+) runs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("--since", type=int, default=0, help="Skip the log's first N lines.")
    args = ap.parse_args()
    lines = args.log.read_text(errors="replace").splitlines()[args.since :]
    rows: list[tuple[int, int, float]] = []
    gen: list[float] = []
    hit: tuple[int, int] | None = None
    for line in lines:
        m = _HIT.search(line)
        if m:
            hit = (int(m.group(1)), int(m.group(2)))
            continue
        m = _EVAL.search(line)
        if m and hit is not None:
            rows.append((hit[0], hit[1], float(m.group(1)) / 1000))
            hit = None
            continue
        m = _GEN.search(line)
        if m and int(m.group(2)) > 1:
            gen.append(int(m.group(2)) / (float(m.group(1)) / 1000))
    reused = [r for r in rows if r[0] > 0]
    print(f"requests: {len(rows)}, with a reused prefix: {len(reused)}")
    if reused:
        print(f"median tokens reused: {statistics.median(r[0] for r in reused):.0f}")
        print(f"median tokens prefilled: {statistics.median(r[1] for r in reused):.0f}")
        ttft = statistics.median(r[2] for r in reused)
        print(f"median time to first token (prefill), s: {ttft:.1f}")
        rate = sum(r[1] for r in reused) / sum(r[2] for r in reused)
        print(f"prefill rate, tokens/s: {rate:.1f}")
        whole = [(r[0] + r[1]) / rate for r in reused]
        without = statistics.median(whole)
        print(f"the same prompts without reuse would take (median), s: {without:.1f}")
    if gen:
        print(f"generation, tokens/s (median): {statistics.median(gen):.1f}")


if __name__ == "__main__":
    main()
