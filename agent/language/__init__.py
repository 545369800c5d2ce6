"""policywright.agent.language: the one place command text is normalised before any parsing.

The offline planner's abstraction, the ambiguity check and the correction parser all read the
text through :func:`normalise_text`, so "don't", "do not" and "Do NOT" mean the same to each.
"""

from policywright.agent.language._normalise import normalise_text

__all__ = ["normalise_text"]
