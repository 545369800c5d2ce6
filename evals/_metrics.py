"""Evaluation metrics: success with Wilson intervals, costs and times, failure categories.

Episode results are read as plain JSON mappings (the fields of ``EpisodeResult``), so a report
can be made from a run folder without rebuilding anything. Infrastructure errors (a worker that
crashed or hung twice) are not the planner's failures: they are counted per cell but left out of
the success rate's denominator.

Two runs are compared per cell with Newcombe's hybrid score interval for a difference of two
independent proportions (Newcombe 1998, method 10), built from the two Wilson intervals.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from policywright.evals._episodes import FAILURE_CATEGORIES

__all__ = [
    "FAILURE_CATEGORIES",
    "GROUPINGS",
    "CellDiff",
    "CellMetrics",
    "Distribution",
    "Rate",
    "compare_cells",
    "group_metrics",
    "newcombe_diff",
    "summarize",
    "wilson",
]

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054

#: Grouping name -> the result fields that key a cell.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "suite": ("suite",),
    "split": ("suite", "split"),
    "family": ("suite", "split", "family"),
    "task": ("suite", "split", "task_id"),
    "task_all_splits": ("suite", "task_id"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rate(_Model):
    """A success proportion with its Wilson 95% interval.

    Attributes:
        successes: Episodes that succeeded.
        n: Episodes counted (infrastructure errors excluded).
        rate: successes / n (0 when n is 0).
        low: Lower bound of the interval.
        high: Upper bound of the interval.
    """

    successes: int
    n: int
    rate: float
    low: float
    high: float


class Distribution(_Model):
    """Summary of a per-episode quantity (episodes where it is known).

    Attributes:
        n: How many values.
        mean: Their mean (None when there are none).
        median: Their median.
        p90: Their 90th percentile (linear interpolation).
        total: Their sum.
    """

    n: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None
    total: float = 0.0


class CellMetrics(_Model):
    """Metrics of one cell (a suite, a split, a task, a family...).

    Attributes:
        key: The cell's key fields, e.g. {"suite": "cap-tabletop", "split": "SA-SI"}.
        episodes: Result files counted, infrastructure errors included.
        infra_errors: Episodes that ended as infrastructure errors.
        success: Success rate over the other episodes.
        attempts: Engine attempts per episode.
        corrections: Corrections per episode.
        tokens_in: Fresh input tokens per episode.
        tokens_cached: Cached input tokens per episode.
        tokens_out: Output tokens per episode.
        cost_usd: Cost per episode.
        latency_first_motion_s: Wall seconds until the robot first moved.
        wall_s: Wall seconds per episode.
        sim_s: Simulated seconds per episode.
        failures: Failure category -> count.
        repeat_success: Rate of repeated tasks that needed no correction (corrections suite).
        recovered: Rate of perturbed episodes that recovered (recovery suite).
        noticed: Rate of perturbed episodes where the engine noticed the problem (a failed
            verdict or another attempt; recovery suite).
    """

    key: dict[str, str]
    episodes: int
    infra_errors: int
    success: Rate
    attempts: Distribution
    corrections: Distribution
    tokens_in: Distribution
    tokens_cached: Distribution
    tokens_out: Distribution
    cost_usd: Distribution
    latency_first_motion_s: Distribution
    wall_s: Distribution
    sim_s: Distribution
    failures: dict[str, int] = Field(default_factory=dict)
    repeat_success: Rate | None = None
    recovered: Rate | None = None
    noticed: Rate | None = None

    def label(self) -> str:
        """The key values joined with " / " (for tables and plots)."""
        return " / ".join(self.key.values())


class CellDiff(_Model):
    """Run A minus run B in one cell, with Newcombe's 95% interval for the difference.

    Attributes:
        key: The cell's key fields.
        a: Run A's rate (None when the cell is missing from run A).
        b: Run B's rate (None when missing from run B).
        diff: a.rate - b.rate (None when either is missing or empty).
        low: Lower bound of the difference's interval.
        high: Upper bound.
        significant: The interval excludes 0.
    """

    key: dict[str, str]
    a: Rate | None
    b: Rate | None
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    significant: bool = False

    def label(self) -> str:
        """The key values joined with " / "."""
        return " / ".join(self.key.values())


def wilson(successes: int, n: int, z: float = Z95) -> Rate:
    """The Wilson score interval of a binomial proportion.

    Args:
        successes: Number of successes (0 <= successes <= n).
        n: Number of trials.
        z: The normal quantile (1.96 for 95%).

    Returns:
        The rate and its interval; with n = 0 the interval is [0, 1] and the rate 0.

    Raises:
        ValueError: counts out of range.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return Rate(successes=0, n=0, rate=0.0, low=0.0, high=1.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp rounding noise so that 0/n gives exactly 0 and n/n exactly 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Rate(successes=successes, n=n, rate=p, low=low, high=high)


def newcombe_diff(a: Rate, b: Rate) -> tuple[float, float, float]:
    """Newcombe's hybrid score interval for the difference a - b of independent proportions.

    Args:
        a: The first rate with its Wilson interval.
        b: The second rate with its Wilson interval (same z).

    Returns:
        (difference, low, high).
    """
    d = a.rate - b.rate
    low = d - math.sqrt((a.rate - a.low) ** 2 + (b.high - b.rate) ** 2)
    high = d + math.sqrt((a.high - a.rate) ** 2 + (b.rate - b.low) ** 2)
    return d, max(-1.0, low), min(1.0, high)


def distribution(values: Iterable[float | int | None]) -> Distribution:
    """Mean, median, p90 and total of the known (non-None) values.

    Args:
        values: Per-episode values; None means unknown (e.g. no motion, no latency).
    """
    known = sorted(float(v) for v in values if v is not None)
    if not known:
        return Distribution()
    return Distribution(
        n=len(known),
        mean=statistics.fmean(known),
        median=statistics.median(known),
        # numpy's default (linear interpolation between closest ranks), as before.
        p90=float(np.percentile(known, 90)),
        total=math.fsum(known),
    )


def _optional_rate(results: Sequence[Mapping[str, Any]], field: str) -> Rate | None:
    flags = [r.get(field) for r in results if r.get(field) is not None]
    if not flags:
        return None
    return wilson(sum(1 for f in flags if f), len(flags))


def summarize(results: Sequence[Mapping[str, Any]], key: Mapping[str, str]) -> CellMetrics:
    """Metrics of one cell.

    Args:
        results: The cell's episode results (``EpisodeResult`` fields).
        key: The cell's key, kept in the output.
    """
    valid = [r for r in results if r.get("status") != "infra_error"]
    failures: dict[str, int] = {}
    for r in results:
        cat = r.get("failure_category")
        if cat:
            failures[str(cat)] = failures.get(str(cat), 0) + 1

    def dist(name: str) -> Distribution:
        return distribution(r.get(name) for r in valid)

    return CellMetrics(
        key=dict(key),
        episodes=len(results),
        infra_errors=len(results) - len(valid),
        success=wilson(sum(1 for r in valid if r.get("success")), len(valid)),
        attempts=dist("attempts"),
        corrections=dist("corrections"),
        tokens_in=dist("tokens_in"),
        tokens_cached=dist("tokens_cached"),
        tokens_out=dist("tokens_out"),
        cost_usd=dist("cost_usd"),
        latency_first_motion_s=dist("latency_first_motion_s"),
        wall_s=dist("wall_s"),
        sim_s=dist("sim_s"),
        failures={
            c: failures[c] for c in (*FAILURE_CATEGORIES, *sorted(failures)) if c in failures
        },
        repeat_success=_optional_rate(valid, "repeat_success"),
        recovered=_optional_rate(valid, "recovered"),
        noticed=_optional_rate(valid, "noticed"),
    )


def group_metrics(
    results: Sequence[Mapping[str, Any]],
    by: str | Sequence[str],
    *,
    order: Callable[[Mapping[str, str]], Any] | None = None,
) -> list[CellMetrics]:
    """Metrics per cell, cells keyed by result fields.

    Args:
        results: Episode results.
        by: A name from :data:`GROUPINGS` or the key fields themselves.
        order: Sort key of a cell key (default: first appearance in ``results``).

    Returns:
        One :class:`CellMetrics` per distinct key.
    """
    fields = GROUPINGS[by] if isinstance(by, str) else tuple(by)
    cells: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for r in results:
        cells.setdefault(tuple(str(r.get(f, "")) for f in fields), []).append(r)
    out = [summarize(rs, dict(zip(fields, k, strict=True))) for k, rs in cells.items()]
    if order is not None:
        out.sort(key=lambda c: order(c.key))
    return out


def compare_cells(a: Sequence[CellMetrics], b: Sequence[CellMetrics]) -> list[CellDiff]:
    """Pair the cells of two runs by key and compute each difference with its interval.

    Args:
        a: Run A's cells (one grouping).
        b: Run B's cells (the same grouping).

    Returns:
        One :class:`CellDiff` per key present in either run, in A's order then B's extras.
    """
    index_a = {tuple(c.key.items()): c for c in a}
    index_b = {tuple(c.key.items()): c for c in b}
    seen: set[tuple[tuple[str, str], ...]] = set()
    out: list[CellDiff] = []
    for cell in [*a, *b]:
        k = tuple(cell.key.items())
        if k in seen:
            continue
        seen.add(k)
        ca, cb = index_a.get(k), index_b.get(k)
        ra = ca.success if ca is not None else None
        rb = cb.success if cb is not None else None
        diff = CellDiff(key=dict(cell.key), a=ra, b=rb)
        if ra is not None and rb is not None and ra.n and rb.n:
            d, low, high = newcombe_diff(ra, rb)
            diff.diff, diff.low, diff.high = d, low, high
            diff.significant = low > 0 or high < 0
        out.append(diff)
    return out
