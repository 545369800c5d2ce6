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
from policywright.skills._helpers import follow_path, go_home, move_ee, pick, place, release_height
from policywright.skills._registry import SKILLS, get_skill
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
    "SKILLS",
    "SUBSTEPS",
    "ArmAction",
    "ArmObservation",
    "MoveGoal",
    "MoveSkill",
    "PathGoal",
    "PathSkill",
    "PickGoal",
    "PickSkill",
    "PlaceGoal",
    "PlaceSkill",
    "Skill",
    "SkillResult",
    "SkillStatus",
    "follow_path",
    "get_skill",
    "go_home",
    "move_ee",
    "observe",
    "pick",
    "place",
    "release_height",
    "run_skill",
]
