"""Is a command ambiguous in this scene ("the red block" when two red blocks are there)?"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from policywright.agent.language import normalise_text

__all__ = ["Ambiguity", "find_ambiguity", "resolve_answer"]

# "the block" / "the red block" followed by the end or by a word that does not narrow it down
# ("to the left of", "closest to", "from the top" do narrow it, so they are not ambiguous).
_PHRASE = re.compile(
    r"\bthe\s+(?:(?P<colour>[a-z]+)\s+)?(?P<kind>block|bowl)\b(?=\s*(?:$|[,.!?;]|\s(?:in|into|on|onto|and|then|inside|at)\b))",
)


class Ambiguity(BaseModel):
    """A phrase of the command that matches several objects."""

    model_config = ConfigDict(extra="forbid")

    phrase: str
    options: list[str]

    @property
    def question(self) -> str:
        """What to ask the person."""
        return f"Which one do you mean by {self.phrase!r}: {', '.join(self.options)}?"


def find_ambiguity(command: str, names: Sequence[str]) -> Ambiguity | None:
    """The first phrase of ``command`` that names more than one object of ``names``.

    Only "the <kind>" and "the <colour> <kind>" in the singular count; a phrase that already
    narrows the choice by a relation is left to the planner.
    """
    text = normalise_text(command)
    for m in _PHRASE.finditer(text):
        colour, kind = m.group("colour"), m.group("kind")
        if colour is not None and colour in ("other", "same", "first", "second", "last"):
            continue
        prefix = f"{colour} {kind}" if colour else None
        options = [
            n
            for n in names
            if n.endswith(f" {kind}") or f" {kind} " in n
            if prefix is None or n == prefix or n.startswith(prefix + " ")
        ]
        if colour is not None and colour not in {n.split()[0] for n in options}:
            continue
        if len(options) > 1:
            return Ambiguity(phrase=m.group(0), options=sorted(options))
    return None


def resolve_answer(command: str, ambiguity: Ambiguity, answer: str) -> str:
    """The command with the ambiguous phrase replaced by the object the answer names.

    Raises:
        ValueError: the answer names none (or several) of the options.
    """
    text = " ".join(str(answer).lower().split())
    for prefix in ("the ", "i meant ", "i mean "):
        text = text.removeprefix(prefix)
    picked = [o for o in ambiguity.options if o == text]
    if not picked:
        picked = [o for o in ambiguity.options if re.search(rf"\b{re.escape(o)}\b", text)]
    if not picked:
        words = set(text.split())
        picked = [o for o in ambiguity.options if o.split()[0] in words]
    if len(picked) != 1:
        raise ValueError(
            f"please answer with one of: {', '.join(ambiguity.options)} (got {answer!r})"
        )
    lowered = " ".join(command.split())
    idx = lowered.lower().find(ambiguity.phrase)
    if idx < 0:  # the phrase is always found in the lower-cased command; be safe anyway
        return lowered
    return lowered[:idx] + f"the {picked[0]}" + lowered[idx + len(ambiguity.phrase) :]
