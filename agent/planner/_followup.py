"""Session follow-ups the offline planner knows by their words (docs/sessions.md).

"undo that" / "put it back" (the engine restores the snapshot the undone turn started from),
"again" (the last task once more) and "do the same with the other blocks|bowls" (the last
task's program with its object slots bound to the objects it did not touch). The phrases are
a closed list matched on normalised text: anything else that refers to an earlier turn ("make
the line longer") needs a model, and :func:`referred_turn` names the turn it refers to.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from policywright.agent.language import normalise_text
from policywright.agent.planner.base import SessionTurn

__all__ = ["Followup", "combine_checks", "parse_followup", "referred_turn", "refers_to_earlier"]

FollowupKind = Literal["undo", "again", "same_other"]

# Said before or after the words themselves; not part of what is asked.
_FILLER = re.compile(r"^(?:(?:ok|okay|now|and|then|please|so|right)[ ,]+)+|[ ,]+(?:please|now)$")

_UNDO = re.compile(
    r"undo(?: that| it| this| (?:the )?last (?:one|task|command|move|step|thing))?"
    r"|put (?:it|them|that|those|everything) back(?: where (?:it|they) (?:was|were)"
    r"| as (?:it|they) (?:was|were))?"
    r"|revert(?: that| it)?"
)
_AGAIN = re.compile(
    r"(?:do (?:it|that|this|the same) )?again|(?:do (?:it|that) )?once more|one more time"
    r"|repeat(?: it| that| this| (?:the )?last (?:one|task|command))?(?: again)?"
)
_SAME_OTHER = re.compile(
    r"do the same(?: thing)? (?:with|for|to) (?:all )?the (?:other|remaining) "
    r"(blocks?|cubes?|bowls?|ones?)(?: too| as well)?"
)

#: Words that point back at an earlier turn: an offline plan that fails with one of them
#: gets the "needs a model, refers to turn N" message, not the generic one.
_BACK_WORDS = frozenset(
    {
        *("that", "it", "them", "those", "again", "same", "before", "previous", "previously"),
        *("last", "earlier", "longer", "shorter", "bigger", "smaller", "wider", "narrower"),
        *("taller", "more", "less", "other", "others", "back", "undo", "redo", "instead"),
        *("too", "also", "further", "closer", "tighter", "rest", "remaining"),
    }
)
_CONTENT_STOP = frozenset({"the", "a", "an", "and", "then", "now", "make", "do", "put", "to"})


@dataclass(frozen=True)
class Followup:
    """A follow-up the offline planner knows.

    Attributes:
        kind: "undo", "again" or "same_other".
        of_kind: For "same_other": "block" or "bowl" ("" when the person said "ones").
    """

    kind: FollowupKind
    of_kind: str = ""


def _words(text: str) -> str:
    out: str = normalise_text(text).strip(" .!?")
    previous: str | None = None
    while previous != out:
        previous, out = out, _FILLER.sub("", out).strip(" .!?,")
    return out


def parse_followup(text: str) -> Followup | None:
    """The follow-up ``text`` asks for, when it is one of the known phrases, else None."""
    words = _words(text)
    if _UNDO.fullmatch(words):
        return Followup("undo")
    if _AGAIN.fullmatch(words):
        return Followup("again")
    m = _SAME_OTHER.fullmatch(words)
    if m:
        noun = m.group(1).rstrip("s")
        return Followup("same_other", {"cube": "block", "one": ""}.get(noun, noun))
    return None


def refers_to_earlier(text: str) -> bool:
    """Whether ``text`` has a word that points back at an earlier turn ("longer", "again")."""
    return bool(_BACK_WORDS.intersection(re.findall(r"[a-z]+", normalise_text(text))))


def referred_turn(text: str, history: list[SessionTurn]) -> SessionTurn | None:
    """The earlier turn ``text`` most likely refers to.

    The newest turn whose command shares a content word with ``text`` ("the line" -> "put the
    blocks in a line"), else the newest turn that ran a program, else the newest turn.
    """
    if not history:
        return None
    said = set(re.findall(r"[a-z]+", normalise_text(text))) - _CONTENT_STOP - _BACK_WORDS
    for turn in reversed(history):
        if said & set(re.findall(r"[a-z]+", normalise_text(turn.command))):
            return turn
    ran = [t for t in history if t.program.strip() and t.followup != "undo"]
    return ran[-1] if ran else history[-1]


def combine_checks(checks: list[str]) -> str | None:
    """One check program that succeeds when every one of ``checks`` does.

    Each check ends with its one ``verdict(success, reason)`` call (the seed templates do);
    that call becomes two assignments and a final verdict joins them. None when a check has
    another shape (then they cannot be combined safely).
    """
    if len(checks) == 1:
        return checks[0]
    parts: list[str] = []
    for i, source in enumerate(checks, 1):
        tree = ast.parse(source)
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "verdict"
        ]
        last = tree.body[-1] if tree.body else None
        if (
            len(calls) != 1
            or not isinstance(last, ast.Expr)
            or last.value is not calls[0]
            or len(calls[0].args) != 2
            or calls[0].keywords
        ):
            return None
        success, reason = calls[0].args
        tree.body[-1:] = [
            ast.Assign(targets=[ast.Name(f"ok_{i}", ast.Store())], value=success),
            ast.Assign(targets=[ast.Name(f"why_{i}", ast.Store())], value=reason),
        ]
        parts.append(ast.unparse(ast.fix_missing_locations(tree)))
    oks = " and ".join(f"ok_{i}" for i in range(1, len(checks) + 1))
    whys = " + '; ' + ".join(f"why_{i}" for i in range(1, len(checks) + 1))
    parts.append(f"verdict(bool({oks}), {whys})")
    return "\n".join(parts) + "\n"
