"""``check_skill``: what a skill variant must satisfy to be registered (cf. ``check_env``).

Checks, cheapest first: the id, family and world strings; the summary; that the factory
builds an object whose ``id`` is the registered one (for tabletop arm skills: satisfying the
:class:`Skill` protocol);
with ``smoke``: a *probe* (two seeded runs of the skill through :func:`run_skill` in fresh
tabletop worlds, for the arm families whose goal type is known) that must finish, never
command a non-finite or unsafe action, and produce the same action sequence twice; and the
variant's own ``smoke`` run, twice, which must not raise and must return equal summaries.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from policywright.errors import RegistrationError, SafetyViolation, SkillLoadError
from policywright.sim import default_world_registry
from policywright.skills._base import ArmAction, ArmObservation, SkillResult, run_skill
from policywright.skills._info import SkillInfo
from policywright.skills._registry import SKILL_ID_PATTERN

__all__ = [
    "KNOWN_FAMILIES",  # noqa: F822 -- served by the module __getattr__ (the world registry)
    "KNOWN_WORLDS",  # noqa: F822 -- served by the module __getattr__ (the world registry)
    "SkillCheckError",
    "check_skill",
    "known_families",
    "known_worlds",
]

logger = logging.getLogger(__name__)


def known_families() -> frozenset[str]:
    """Skill families of every registered world (``WorldSpec.skills``).

    These are the families the engine can select a variant for (``EngineConfig.skills``) or a
    primitive runs.
    """
    return frozenset(default_world_registry().skill_families())


def known_worlds() -> frozenset[str]:
    """World kinds a skill may run in (``policywright.sim.World.kind``) of registered worlds."""
    return frozenset(default_world_registry().kinds())


def __getattr__(name: str) -> Any:
    # Read from the world registry when asked for, not at import: loading the registry
    # imports the plugins' entry points, and a plugin imports this package.
    if name == "KNOWN_FAMILIES":
        return known_families()
    if name == "KNOWN_WORLDS":
        return known_worlds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MAX_SUMMARY: Final[int] = 120
_PROBE_MAX_SIM_S: Final[float] = 20.0


class SkillCheckError(RegistrationError):
    """A skill variant failed :func:`check_skill`; ``problems`` lists every finding."""

    def __init__(self, skill_id: str, problems: list[str]) -> None:
        self.skill_id, self.problems = skill_id, list(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"skill {skill_id!r} failed its checks:\n{lines}")


@dataclass
class _Recorder:
    """Wraps a skill so that the probe sees every action it commands."""

    inner: Any
    actions: list[tuple[float, ...]] = field(default_factory=list)
    id: str = ""

    def __post_init__(self) -> None:
        self.id = str(self.inner.id)

    def reset(self, world: Any, goal: Any) -> None:
        self.inner.reset(world, goal)

    def act(self, obs: ArmObservation) -> ArmAction:
        action: ArmAction = self.inner.act(obs)
        self.actions.append((*action.target_xyz, action.yaw, action.gripper_width))
        return action

    @property
    def done(self) -> bool:
        return bool(self.inner.done)

    def result(self) -> SkillResult:
        result: SkillResult = self.inner.result()
        return result


def _probe_goal(family: str, world: Any) -> Any:
    """A feasible goal of the family's goal type in ``world`` (may run a setup skill first)."""
    from policywright.sim import TABLE_Z
    from policywright.skills._helpers import pick, release_height
    from policywright.skills._scripted import MoveGoal, PathGoal, PickGoal, PlaceGoal

    det = world.detect()
    block = sorted(n for n, d in det.items() if d.kind == "block")[0]
    bx, by, bz = (float(v) for v in det[block].position)
    if family == "grasp":
        return PickGoal((bx, by, bz), 0.0)
    if family == "place":
        if not pick(world, (bx, by, bz)).ok:
            raise RuntimeError("probe setup: the scripted pick failed")
        bowl = sorted(n for n, d in det.items() if d.kind == "bowl")[0]
        x, y = (float(v) for v in det[bowl].position[:2])
        return PlaceGoal((x, y, release_height(world, (x, y))))
    z = TABLE_Z + 0.1
    if family == "path":
        return PathGoal(((0.45, -0.1, z), (0.55, 0.0, z), (0.45, 0.1, z)), 0.2)
    return MoveGoal((0.5, 0.1, z + 0.1), 0.3)


#: Families whose goal type the probe knows (the tabletop arm skills).
_PROBE_FAMILIES: Final[frozenset[str]] = frozenset({"grasp", "place", "path", "move"})


def _probe_once(info: SkillInfo) -> tuple[list[tuple[float, ...]], SkillResult]:
    from policywright.sim import TabletopWorld, sample_scene

    with TabletopWorld(sample_scene(0)) as world:
        goal = _probe_goal(info.family, world)
        rec = _Recorder(info.factory())
        result = run_skill(rec, world, goal, max_sim_s=_PROBE_MAX_SIM_S)
        return rec.actions, result


def _probe(info: SkillInfo, problems: list[str]) -> None:
    runs: list[list[tuple[float, ...]]] = []
    for _ in range(2):
        try:
            actions, result = _probe_once(info)
        except SafetyViolation as exc:
            what = "a non-finite" if exc.rule == "non-finite" else "an unsafe"
            problems.append(f"probe: the skill commanded {what} action: {exc}")
            return
        except Exception as exc:  # the probe reports whatever a plugin raises
            problems.append(f"probe: running the skill raised {type(exc).__name__}: {exc}")
            return
        if result.status == "timeout":
            problems.append(f"probe: the skill did not finish: {result.message}")
            return
        bad = [a for a in actions if not all(math.isfinite(v) for v in a)]
        if bad:
            problems.append(f"probe: non-finite action {bad[0]}")
            return
        runs.append(actions)
    a, b = runs
    same = len(a) == len(b) and bool(np.allclose(np.asarray(a), np.asarray(b), atol=1e-9))
    if not same:
        problems.append(
            "probe: not deterministic: two runs from the same seed commanded different actions "
            f"({len(a)} vs {len(b)} steps)"
        )


def _smoke(smoke: Callable[[], Any], problems: list[str]) -> None:
    outs: list[Any] = []
    for _ in range(2):
        try:
            outs.append(smoke())
        except Exception as exc:  # the smoke run's own failure signal
            problems.append(f"smoke: raised {type(exc).__name__}: {exc}")
            return
    if outs[0] is not None and outs[0] != outs[1]:
        problems.append(f"smoke: not deterministic: two runs returned {outs[0]!r} and {outs[1]!r}")


def _check_instance(info: SkillInfo, problems: list[str]) -> None:
    try:
        skill = info.factory()
    except SkillLoadError as exc:
        problems.append(f"factory: cannot load the skill: {exc}")
        return
    except Exception as exc:  # a factory may fail in any way; report it
        problems.append(f"factory: raised {type(exc).__name__}: {exc}")
        return
    if info.world != "tabletop":
        # Floor and mobile skills drive other robots through their own interfaces (the arm
        # Skill protocol is tabletop-only); all they share is the versioned id.
        if getattr(skill, "id", None) != info.id:
            problems.append(
                f"factory: the instance's id {getattr(skill, 'id', None)!r} "
                f"differs from {info.id!r}"
            )
        return
    missing = [m for m in ("reset", "act", "result") if not callable(getattr(skill, m, None))]
    # `done` may only be meaningful after reset, so look it up on the class, never read it.
    if not hasattr(type(skill), "done") and "done" not in getattr(skill, "__dict__", {}):
        missing.append("done")
    if not hasattr(type(skill), "id") and "id" not in getattr(skill, "__dict__", {}):
        missing.append("id")
    if missing:
        problems.append(
            f"factory: {type(skill).__name__} does not satisfy the Skill protocol "
            f"(missing: {', '.join(missing)})"
        )
        return
    if getattr(skill, "id", None) != info.id:
        problems.append(f"factory: the instance's id {skill.id!r} differs from {info.id!r}")


def check_skill(info: SkillInfo, *, smoke: bool = True, raise_on_error: bool = True) -> list[str]:
    """Check a skill variant the way the engine will use it.

    Args:
        info: The variant.
        smoke: Also run it (the probe and the variant's ``smoke``, twice each; builds worlds).
        raise_on_error: Raise :class:`SkillCheckError` if anything is wrong (else return the
            problems).

    Returns:
        The problems found (empty when the variant is fine).

    Raises:
        SkillCheckError: with ``raise_on_error``, listing every problem.
    """
    if not isinstance(info, SkillInfo):
        problems = [f"not a SkillInfo: {type(info).__name__}"]
        if raise_on_error:
            raise SkillCheckError(repr(info), problems)
        return problems
    problems = []
    if not SKILL_ID_PATTERN.fullmatch(info.id):
        problems.append(f"id {info.id!r} is malformed: use '<family>/<variant>-v<N>' in lower case")
    elif info.id.split("/", 1)[0] != info.family:
        problems.append(f"family {info.family!r} is not the id's prefix")
    families, worlds = known_families(), known_worlds()
    if info.family not in families:
        problems.append(f"family {info.family!r} is unknown (known: {sorted(families)})")
    if info.world not in worlds:
        problems.append(f"world {info.world!r} is unknown (known: {sorted(worlds)})")
    summary = info.summary.strip()
    if not summary:
        problems.append("summary is empty")
    elif "\n" in summary or len(summary) > _MAX_SUMMARY:
        problems.append(f"summary must be one line of at most {_MAX_SUMMARY} characters")
    for name in ("factory", "evaluate", "train", "smoke"):
        fn = getattr(info, name)
        if fn is not None and not callable(fn):
            problems.append(f"{name} is not callable")
    if info.learned and info.train is None:
        problems.append("a learned skill must provide train(out_dir, seed) to reproduce it")
    if not info.learned and info.train is not None:
        problems.append("a scripted skill has nothing to train (train must be None)")
    if callable(info.factory):
        _check_instance(info, problems)
    if smoke and not problems:
        if info.world == "tabletop" and info.family in _PROBE_FAMILIES:
            _probe(info, problems)
        if info.smoke is not None:
            _smoke(info.smoke, problems)
    if problems:
        logger.info("check_skill(%s): %d problem(s)", info.id, len(problems))
        if raise_on_error:
            raise SkillCheckError(info.id, problems)
    return problems
