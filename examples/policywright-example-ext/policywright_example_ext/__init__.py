"""Example policywright plugin: a primitive, a skill variant and a world, through entry points."""

from policywright_example_ext._primitives import PRIMITIVES, stack_blocks
from policywright_example_ext._skill import SKILL_INFOS, CautiousGrasp
from policywright_example_ext._world import WORLD_SPECS, make_tray

__all__ = [
    "PRIMITIVES",
    "SKILL_INFOS",
    "WORLD_SPECS",
    "CautiousGrasp",
    "make_tray",
    "stack_blocks",
]
