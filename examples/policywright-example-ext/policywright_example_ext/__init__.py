"""Example policywright plugin: one primitive and one skill variant, through entry points."""

from policywright_example_ext._primitives import PRIMITIVES, stack_blocks
from policywright_example_ext._skill import SKILL_INFOS, CautiousGrasp

__all__ = ["PRIMITIVES", "SKILL_INFOS", "CautiousGrasp", "stack_blocks"]
