from __future__ import annotations

import math

import numpy as np
import pytest

from policywright.errors import SafetyViolation
from policywright.sim import HOME_XYZ, TABLE_Z, SafetyLimits


@pytest.fixture
def limits() -> SafetyLimits:
    return SafetyLimits()


def test_home_and_workspace_legal(limits: SafetyLimits) -> None:
    limits.check_pose(HOME_XYZ)
    limits.check_pose((0.5, 0.0, TABLE_Z + 0.02))


@pytest.mark.parametrize("bad", [(math.nan, 0, 0.8), (0.5, math.inf, 0.8), (0.5, 0, -math.inf)])
def test_non_finite(limits: SafetyLimits, bad: tuple[float, float, float]) -> None:
    with pytest.raises(SafetyViolation) as info:
        limits.check_pose(bad)
    assert info.value.rule == "non-finite"


def test_wrong_shape(limits: SafetyLimits) -> None:
    with pytest.raises(SafetyViolation):
        limits.check_pose((0.5, 0.0))


@pytest.mark.parametrize(
    "bad", [(1.2, 0, 0.8), (0.5, 0.6, 0.8), (0.5, 0, TABLE_Z - 0.01), (0.5, 0, TABLE_Z + 0.9)]
)
def test_workspace(limits: SafetyLimits, bad: tuple[float, float, float]) -> None:
    with pytest.raises(SafetyViolation) as info:
        limits.check_pose(bad)
    assert info.value.rule == "workspace"
    # the message states the value and the limit
    assert f"{bad[0]:.3f}" in str(info.value) and "workspace" in str(info.value)


def test_keep_out(limits: SafetyLimits) -> None:
    with pytest.raises(SafetyViolation) as info:
        limits.check_pose((0.17, 0.0, TABLE_Z + 0.1))
    assert info.value.rule == "keep-out"
    assert "robot base" in str(info.value)


def test_speed(limits: SafetyLimits) -> None:
    limits.check_speed(0.5)
    with pytest.raises(SafetyViolation) as info:
        limits.check_speed(3.0)
    assert info.value.rule == "speed" and "3.000" in str(info.value) and "1.000" in str(info.value)
    with pytest.raises(SafetyViolation):
        limits.check_speed(math.nan)


def test_path(limits: SafetyLimits) -> None:
    pts = np.array([[0.4, -0.2, 0.7], [0.6, 0.2, 0.7]])
    assert limits.check_path(pts) == pytest.approx(math.hypot(0.2, 0.4))
    zigzag = np.array([[0.4, -0.3, 0.7], [0.4, 0.3, 0.7]] * 6)
    with pytest.raises(SafetyViolation) as info:
        limits.check_path(zigzag)
    assert info.value.rule == "path-length"
    with pytest.raises(SafetyViolation) as info:
        limits.check_path(np.array([[0.4, 0.0, 0.7], [0.4, 0.0, math.nan]]))
    assert info.value.rule == "non-finite"


def test_custom_limits_extra_forbidden() -> None:
    with pytest.raises(ValueError):
        SafetyLimits.model_validate({"max_speed": 1.0, "bogus": 1})
    strict = SafetyLimits(max_speed=0.1)
    with pytest.raises(SafetyViolation):
        strict.check_speed(0.2)
