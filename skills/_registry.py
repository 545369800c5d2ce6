"""Skill ids -> factories."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from policywright.errors import UnknownNameError
from policywright.skills._base import Skill
from policywright.skills._scripted import MoveSkill, PathSkill, PickSkill, PlaceSkill

__all__ = ["SKILLS", "get_skill"]

#: Versioned skill id -> factory returning a fresh skill instance.
SKILLS: Final[Mapping[str, Callable[[], Skill[Any]]]] = MappingProxyType(
    {
        PickSkill.id: PickSkill,
        PlaceSkill.id: PlaceSkill,
        PathSkill.id: PathSkill,
        MoveSkill.id: MoveSkill,
    }
)


def get_skill(skill_id: str) -> Skill[Any]:
    """Create a fresh skill by its versioned id (e.g. ``"grasp/scripted-v1"``).

    Raises:
        UnknownNameError: The id is not registered (the message suggests close matches).
    """
    try:
        factory = SKILLS[skill_id]
    except KeyError:
        raise UnknownNameError("skill", skill_id, list(SKILLS)) from None
    return factory()
