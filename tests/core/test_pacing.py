"""The world's pace (chat and serve run at 1x real time; run and evals as fast as possible).

Behaviour on a fake clock: how far the sim may run ahead of wall time x speed, what happens
after an idle gap, and the wall-clock ticks that bring the web UI its camera frames.
"""

from __future__ import annotations

import pytest

from policywright.sim._world import Pacer


class _Clock:
    """A fake wall clock: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_pacer_keeps_sim_time_at_wall_time_times_speed() -> None:
    clock = _Clock()
    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    for step in range(1, 241):  # one sim second of 240 Hz steps, computed in no time
        pacer(step / 240)
    assert clock.now - start == pytest.approx(1.0, abs=1 / 240)
    pacer.speed = 2.0
    t = clock.now
    for step in range(241, 481):
        pacer(step / 240)
    assert clock.now - t == pytest.approx(0.5, abs=1 / 240)
    # Behind by more than max_lag (an idle gap): no burst to catch up, pacing starts afresh.
    clock.now += 10.0
    t = clock.now
    for step in range(481, 721):
        pacer(step / 240)
    assert clock.now - t == pytest.approx(0.5, abs=2 / 240)


def test_pacer_at_max_never_sleeps_and_runs_ticks_by_wall_clock() -> None:
    clock = _Clock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)
    ticks: list[float] = []
    pacer.every(0.1, lambda: ticks.append(clock.now))
    for step in range(1, 1000):
        clock.now += 0.001  # each step takes 1 ms of wall time
        pacer(step / 240)
    assert not clock.slept
    assert len(ticks) == pytest.approx(10, abs=1)
    with pytest.raises(ValueError):
        pacer.speed = 0
