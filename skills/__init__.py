"""policywright.skills: closed-loop skills (scripted and learned), their registry and runners.

Arm skills for the tabletop, locomotion for the floor world's quadruped, driving and fetching
for the mobile manipulator.
"""

from policywright.skills._base import (
    CONTROL_HZ,
    SUBSTEPS,
    ArmAction,
    ArmObservation,
    Skill,
    SkillResult,
    SkillStatus,
    observe,
    run_skill,
)
from policywright.skills._builtin_infos import grasp_trials, path_trials
from policywright.skills._check import (
    SkillCheckError,
    check_skill,
    known_families,
    known_worlds,
)
from policywright.skills._grasp_learned import LearnedGraspSkill, evaluate_grasp
from policywright.skills._helpers import follow_path, go_home, move_ee, pick, place, release_height
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._locomotion import SCRIPTED_ID as LOCOMOTION_SCRIPTED_ID
from policywright.skills._locomotion import (
    LocoGoal,
    LocomotionResult,
    LocomotionSkill,
    evaluate_locomotion,
)
from policywright.skills._mobile import (
    DriveResult,
    drive_to,
    go_to_table,
    mobile_pick,
    mobile_place,
)
from policywright.skills._path_learned import LearnedPathSkill, evaluate_path
from policywright.skills._registry import (
    SKILLS,
    BrokenEntryPoint,
    SkillRegistry,
    default_skill_registry,
    get_skill,
)
from policywright.skills._scripted import (
    MoveGoal,
    MoveSkill,
    PathGoal,
    PathSkill,
    PickGoal,
    PickSkill,
    PlaceGoal,
    PlaceSkill,
)

__all__ = [
    "CONTROL_HZ",
    "KNOWN_FAMILIES",
    "KNOWN_WORLDS",
    "LOCOMOTION_SCRIPTED_ID",
    "SKILLS",
    "SUBSTEPS",
    "ArmAction",
    "ArmObservation",
    "BrokenEntryPoint",
    "DriveResult",
    "LearnedGraspSkill",
    "LearnedPathSkill",
    "LocoGoal",
    "LocomotionResult",
    "LocomotionSkill",
    "MoveGoal",
    "MoveSkill",
    "PathGoal",
    "PathSkill",
    "PickGoal",
    "PickSkill",
    "PlaceGoal",
    "PlaceSkill",
    "Skill",
    "SkillCheckError",
    "SkillEvalReport",
    "SkillInfo",
    "SkillRegistry",
    "SkillResult",
    "SkillStatus",
    "check_skill",
    "default_skill_registry",
    "drive_to",
    "evaluate_grasp",
    "evaluate_locomotion",
    "evaluate_path",
    "follow_path",
    "get_skill",
    "go_home",
    "go_to_table",
    "grasp_trials",
    "known_families",
    "known_worlds",
    "mobile_pick",
    "mobile_place",
    "move_ee",
    "observe",
    "path_trials",
    "pick",
    "place",
    "release_height",
    "run_skill",
]


def __getattr__(name: str) -> frozenset[str]:
    # Derived from the world registry when asked for, not at import: loading the registry
    # imports the plugins' entry points, and a plugin imports this package.
    if name == "KNOWN_FAMILIES":
        return known_families()
    if name == "KNOWN_WORLDS":
        return known_worlds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
