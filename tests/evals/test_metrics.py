from __future__ import annotations

from typing import Any

import pytest

from policywright.evals._metrics import (
    compare_cells,
    distribution,
    group_metrics,
    newcombe_diff,
    summarize,
    wilson,
)


def test_wilson_matches_published_values() -> None:
    r = wilson(81, 263)  # Newcombe (1998), Table I
    assert (round(r.low, 4), round(r.high, 4)) == (0.2553, 0.3662)
    assert (wilson(0, 10).low, wilson(10, 10).high) == (0.0, 1.0)
    assert wilson(0, 10).high == pytest.approx(0.2775, abs=1e-4)
    empty = wilson(0, 0)
    assert (empty.rate, empty.low, empty.high) == (0.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_newcombe_difference_matches_the_paper() -> None:
    # Newcombe (1998) "Interval estimation for the difference between independent
    # proportions", method 10: 56/70 - 48/80 -> [0.0524, 0.3339]; 5/56 - 0/29 -> [-0.0381, 0.1926]
    d, low, high = newcombe_diff(wilson(56, 70), wilson(48, 80))
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)
    d, low, high = newcombe_diff(wilson(5, 56), wilson(0, 29))
    assert (round(low, 4), round(high, 4)) == (-0.0381, 0.1926)


def test_distribution_skips_unknown_values() -> None:
    d = distribution([1, 2, 3, 4, None, 10])
    assert (d.n, d.mean, d.median, d.total) == (5, 4.0, 3.0, 20.0)
    assert d.p90 == pytest.approx(7.6)  # between 4 and 10, linear
    assert distribution([None]).mean is None


def res(task: str, split: str, success: bool, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "suite": "s",
        "task_id": task,
        "split": split,
        "family": "f" + task[-1],
        "success": success,
        "status": "succeeded" if success else "failed",
        "failure_category": None if success else "verification_failure",
        "attempts": 1,
        "tokens_in": 100,
        "tokens_cached": 10,
        "tokens_out": 20,
        "cost_usd": 0.01,
        "latency_first_motion_s": 0.5,
        "wall_s": 2.0,
        "sim_s": 5.0,
        "corrections": 0,
    }
    return base | kw


def test_summarize_leaves_infra_errors_out_of_the_rate_and_counts_categories() -> None:
    results = [
        res("t1", "A", True),
        res("t1", "A", False),
        res("t1", "A", False, failure_category="timeout", latency_first_motion_s=None),
        res("t1", "A", False, status="infra_error", failure_category="infra", attempts=0),
    ]
    cell = summarize(results, {"task_id": "t1"})
    assert (cell.episodes, cell.infra_errors) == (4, 1)
    assert (cell.success.successes, cell.success.n) == (1, 3)
    assert cell.failures == {"verification_failure": 1, "timeout": 1, "infra": 1}
    assert cell.latency_first_motion_s.n == 2 and cell.attempts.mean == 1
    assert cell.cost_usd.total == pytest.approx(0.03)
    assert cell.repeat_success is None
    with_repeat = summarize(
        [res("t1", "A", True, repeat_success=True), res("t1", "A", True, repeat_success=False)], {}
    )
    assert with_repeat.repeat_success is not None and with_repeat.repeat_success.n == 2


def test_group_and_compare_per_cell() -> None:
    a = [res("t1", "A", True)] * 9 + [res("t1", "A", False)] + [res("t2", "A", True)] * 5
    b = [res("t1", "A", False)] * 7 + [res("t1", "A", True)] * 3 + [res("t3", "A", True)]
    cells_a, cells_b = group_metrics(a, "task"), group_metrics(b, "task")
    assert [c.key["task_id"] for c in cells_a] == ["t1", "t2"]
    assert group_metrics(a, ["split"])[0].success.n == 15
    diffs = {d.key["task_id"]: d for d in compare_cells(cells_a, cells_b)}
    assert set(diffs) == {"t1", "t2", "t3"}
    t1 = diffs["t1"]
    assert t1.diff == pytest.approx(0.6) and t1.significant
    assert (round(t1.low or 0, 4), round(t1.high or 0, 4)) == (0.1705, 0.809)
    assert diffs["t2"].b is None and diffs["t2"].diff is None and not diffs["t2"].significant
    same = compare_cells(group_metrics(a, "task"), group_metrics(a, "task"))
    assert not any(d.significant for d in same)
