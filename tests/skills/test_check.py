"""check_skill: every registered variant passes; deliberately bad skills are caught."""

from __future__ import annotations

import math

import numpy as np
import pytest

from policywright.errors import SafetyViolation
from policywright.sim import TabletopWorld, sample_scene
from policywright.skills import (
    ArmAction,
    ArmObservation,
    PickGoal,
    PickSkill,
    SkillCheckError,
    SkillInfo,
    SkillRegistry,
    SkillResult,
    check_skill,
    run_skill,
)


@pytest.mark.sim
@pytest.mark.parametrize("info", list(SkillRegistry.from_entry_points()), ids=lambda i: i.id)
def test_every_registered_skill_passes(info):
    assert check_skill(info) == []


class NaNSkill:
    """Commands a NaN target on its third step."""

    id = "grasp/nan-v1"

    def reset(self, world, goal):
        self.n = 0

    def act(self, obs: ArmObservation) -> ArmAction:
        self.n += 1
        x, y, z = obs.ee_pos
        return ArmAction((x, y if self.n < 3 else math.nan, z), 0.0, 0.08)

    @property
    def done(self) -> bool:
        return self.n >= 10

    def result(self) -> SkillResult:
        return SkillResult(status="ok")


class JitterSkill(PickSkill):
    """Nondeterministic: unseeded noise on every target."""

    id = "grasp/jitter-v1"

    def act(self, obs):
        a = super().act(obs)
        noise = np.random.default_rng().normal(0.0, 1e-4, 3)
        return ArmAction(tuple(np.asarray(a.target_xyz) + noise), a.yaw, a.gripper_width)


class WrongId(PickSkill):
    id = "grasp/other-v1"


def _info(skill_id, factory, **kw):
    return SkillInfo(
        id=skill_id, family="grasp", summary="test", world="tabletop", factory=factory, **kw
    )


@pytest.mark.sim
def test_nan_action_is_refused_by_run_skill():
    with TabletopWorld(sample_scene(0)) as world:
        with pytest.raises(SafetyViolation) as info:
            run_skill(NaNSkill(), world, None)
        assert info.value.rule == "non-finite"
        assert all(math.isfinite(v) for v in world.arm.target_xyz)  # kept its last safe target


@pytest.mark.sim
def test_check_catches_nan_and_nondeterminism():
    problems = check_skill(_info("grasp/nan-v1", NaNSkill), raise_on_error=False)
    assert len(problems) == 1 and problems[0].startswith("probe: the skill commanded a non-finite")
    with pytest.raises(SkillCheckError, match="not deterministic") as err:
        check_skill(_info("grasp/jitter-v1", JitterSkill))
    assert err.value.skill_id == "grasp/jitter-v1"


def test_static_problems_are_all_listed():
    bad = SkillInfo(
        id="Grasp/x", family="wave", summary=" ", world="moon", factory=WrongId, learned=True
    )
    with pytest.raises(SkillCheckError) as err:
        check_skill(bad, smoke=False)
    text = "\n".join(err.value.problems)
    for needle in (
        "malformed",
        "family 'wave' is unknown",
        "world 'moon' is unknown",
        "summary is empty",
        "must provide train",
        "differs from 'Grasp/x'",
    ):
        assert needle in text


def test_factory_failures_and_protocol():
    def boom():
        raise RuntimeError("no weights")

    assert check_skill(_info("grasp/boom-v1", boom), smoke=False, raise_on_error=False) == [
        "factory: raised RuntimeError: no weights"
    ]
    (p,) = check_skill(_info("grasp/obj-v1", object), smoke=False, raise_on_error=False)
    assert "does not satisfy the Skill protocol" in p


@pytest.mark.sim
def test_smoke_runs_twice_and_must_agree():
    calls = []

    def smoke():
        calls.append(1)
        return {"n": len(calls)}

    problems = check_skill(_info("grasp/scripted-v1", PickSkill, smoke=smoke), raise_on_error=False)
    assert len(calls) == 2
    assert problems == ["smoke: not deterministic: two runs returned {'n': 1} and {'n': 2}"]
    # the probe itself passes for the scripted grasp
    assert check_skill(_info("grasp/scripted-v1", PickSkill, smoke=lambda: None)) == []
    assert PickGoal  # the probe's goal type for the grasp family
