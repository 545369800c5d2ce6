"""policywright.skills: closed-loop arm skills (scripted now, learned later) and their runner."""

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
from policywright.skills._check import KNOWN_FAMILIES, KNOWN_WORLDS, SkillCheckError, check_skill
from policywright.skills._grasp_learned import LearnedGraspSkill, evaluate_grasp
from policywright.skills._helpers import follow_path, go_home, move_ee, pick, place, release_height
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._locomotion import LocomotionSkill, evaluate_locomotion
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
    "SKILLS",
    "SUBSTEPS",
    "ArmAction",
    "ArmObservation",
    "BrokenEntryPoint",
    "LearnedGraspSkill",
    "LearnedPathSkill",
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
    "evaluate_grasp",
    "evaluate_locomotion",
    "evaluate_path",
    "follow_path",
    "get_skill",
    "go_home",
    "grasp_trials",
    "move_ee",
    "observe",
    "path_trials",
    "pick",
    "place",
    "release_height",
    "run_skill",
]
