"""The offline parser of language corrections ("a bit to the left", "stop", "no, the blue one").

Everything here is deterministic text processing: no model, no ``eval``, no regular expression
that can backtrack badly (the only pattern is a tokeniser whose alternatives are single
character classes). The text is hostile input: anything that is not clearly understood is either
a ``replan`` with no structured fields (an LLM planner can still use the words) or a
:class:`CorrectionParseError` that says what *is* understood.

Frame (the person looks at the table as the top camera shows it, robot at the bottom):
``left`` = +y, ``right`` = -y, ``further``/``back``/``away``/``top`` = +x, ``closer``/``front``/
``bottom`` = -x, ``up``/``higher`` = +z, ``down``/``lower`` = -z. See docs/corrections.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from policywright.agent.language import normalise_text
from policywright.errors import UserError
from policywright.sim import COLORS

__all__ = [
    "MAGNITUDE_M",
    "MAX_OFFSET_M",
    "MAX_ROTATE_DEG",
    "MAX_TEXT_CHARS",
    "ROTATION_DEG",
    "SPEED_FACTORS",
    "Correction",
    "CorrectionKind",
    "CorrectionParseError",
    "Magnitude",
    "parse_correction",
]

CorrectionKind = Literal["stop", "continue", "undo", "nudge", "rotate", "speed", "replan"]
Magnitude = Literal["tiny", "small", "medium", "large", "explicit"]

#: How far each vague magnitude moves, in metres ("a bit" is 2 cm).
MAGNITUDE_M: Final[Mapping[str, float]] = MappingProxyType(
    {"tiny": 0.005, "small": 0.02, "medium": 0.04, "large": 0.08}
)
#: How far each vague magnitude turns, in degrees ("rotate it a little" is 10 degrees).
ROTATION_DEG: Final[Mapping[str, float]] = MappingProxyType(
    {"tiny": 5.0, "small": 10.0, "medium": 20.0, "large": 45.0}
)
#: The factor each speed phrase puts on the current speed (< 1 is slower).
SPEED_FACTORS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "a tiny bit slower": 0.9,
        "a bit slower": 0.75,
        "slower": 0.5,
        "much slower": 0.25,
        "a tiny bit faster": 1.1,
        "a bit faster": 1.25,
        "faster": 1.5,
        "much faster": 2.0,
        "half speed": 0.5,
        "double speed": 2.0,
    }
)
#: A nudge never moves further than this (the summed offset's length is clamped), metres.
MAX_OFFSET_M: Final = 0.15
#: A rotation never turns more than this, degrees.
MAX_ROTATE_DEG: Final = 90.0
#: Longer corrections are refused: a correction is a short phrase, not a new task description.
MAX_TEXT_CHARS: Final = 300

_MIN_SPEED: Final = min(SPEED_FACTORS.values())
_MAX_SPEED: Final = max(SPEED_FACTORS.values())
_MAG_ORDER: Final[Mapping[str, int]] = MappingProxyType(
    {"tiny": 0, "small": 1, "medium": 2, "large": 3, "explicit": 4}
)
_SPEED_PREFIX: Final[Mapping[str, str]] = MappingProxyType(
    {"tiny": "a tiny bit ", "small": "a bit ", "medium": "", "large": "much "}
)

_EXAMPLES: Final = (
    "'stop', 'continue', 'undo', 'a bit to the left', 'higher', 'a lot further back', "
    "'2 cm closer', 'rotate it a little clockwise', 'slower', 'no, the blue one', "
    "'no, the green bowl', 'put it in the other bowl', 'you dropped it'"
)


class CorrectionParseError(UserError):
    """The text is not a correction the offline parser understands; the message says what is."""


class Correction(BaseModel):
    """One parsed correction.

    Attributes:
        text: The text as typed, whitespace collapsed.
        kind: "stop", "continue", "undo", "nudge", "rotate", "speed" or "replan".
        offset: For a nudge: metres in the tabletop world frame (x away from the robot, y to its
            left, z up); its length is at most ``MAX_OFFSET_M``.
        rotate_deg: For a rotation: degrees, + = counter-clockwise seen from above; at most
            ``MAX_ROTATE_DEG`` either way.
        speed_scale: For a speed change: the factor on the current speed (< 1 slower).
        magnitude: How much the person asked for, when they said it (or the default used).
        object: A full object name the person named ("green bowl", "blue block").
        colour: A colour named without a kind ("no, the blue one" -> "blue").
        kind_word: The kind the person said for the object they mean ("the other bowl").
        other: The person asked for "the other" one.
        retry: The person said it failed or to try again ("you dropped it", "try again").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    kind: CorrectionKind
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotate_deg: float = 0.0
    speed_scale: float = 1.0
    magnitude: Magnitude | None = None
    object: str | None = None
    colour: str | None = None
    kind_word: Literal["block", "bowl"] | None = None
    other: bool = False
    retry: bool = False

    @model_validator(mode="after")
    def _numbers_in_range(self) -> Correction:
        # A correction also comes back from checkpoints and the journal: check the bounds there
        # too, so no path can hand the robot a NaN or a 2 m nudge.
        values = (*self.offset, self.rotate_deg, self.speed_scale)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("correction numbers must be finite")
        if math.hypot(*self.offset) > MAX_OFFSET_M + 1e-6:
            raise ValueError(f"a nudge is at most {MAX_OFFSET_M} m")
        if abs(self.rotate_deg) > MAX_ROTATE_DEG + 1e-6:
            raise ValueError(f"a rotation is at most {MAX_ROTATE_DEG} degrees")
        if not _MIN_SPEED - 1e-9 <= self.speed_scale <= _MAX_SPEED + 1e-9:
            raise ValueError(f"speed_scale must be in [{_MIN_SPEED}, {_MAX_SPEED}]")
        return self

    @property
    def fine(self) -> bool:
        """True for the corrections applied without a planner (all but "replan")."""
        return self.kind != "replan"


# --------------------------------------------------------------------------------------------
# Vocabulary

Vec = tuple[float, float, float]

_DIRECTIONS: Final[Mapping[str, Vec]] = MappingProxyType(
    {
        **dict.fromkeys(("left", "leftward", "leftwards"), (0.0, 1.0, 0.0)),
        **dict.fromkeys(("right", "rightward", "rightwards"), (0.0, -1.0, 0.0)),
        **dict.fromkeys(
            (
                "forward",
                "forwards",
                "further",
                "farther",
                "away",
                "back",
                "backward",
                "backwards",
                "top",
                "far",
            ),
            (1.0, 0.0, 0.0),
        ),
        **dict.fromkeys(("closer", "nearer", "near", "front", "bottom"), (-1.0, 0.0, 0.0)),
        **dict.fromkeys(("higher", "up", "upward", "upwards", "raise", "lift"), (0.0, 0.0, 1.0)),
        **dict.fromkeys(("lower", "down", "downward", "downwards"), (0.0, 0.0, -1.0)),
    }
)
#: Only meaningful after "too" / "not so": "too high" -> lower.
_STATE_DIRECTIONS: Final[Mapping[str, Vec]] = MappingProxyType(
    {"high": (0.0, 0.0, 1.0), "low": (0.0, 0.0, -1.0), "close": (-1.0, 0.0, 0.0)}
)
#: "further"/"farther" only set the direction when no other direction is said with them.
_MODIFIER_DIRECTIONS: Final = frozenset({"further", "farther"})
#: "toward(s) me" and friends: the person stands where the robot is.
_SELF_WORDS: Final = frozenset({"me", "you", "us", "yourself", "robot", "base"})

_MAG_PHRASES: Final[Mapping[tuple[str, ...], Magnitude]] = MappingProxyType(
    {
        ("a", "tiny", "bit"): "tiny",
        ("a", "tiny", "little", "bit"): "tiny",
        ("tiny", "bit"): "tiny",
        ("a", "teeny", "bit"): "tiny",
        ("a", "wee", "bit"): "tiny",
        ("a", "hair"): "tiny",
        ("a", "touch"): "tiny",
        ("a", "smidge"): "tiny",
        ("a", "smidgen"): "tiny",
        ("a", "tad"): "tiny",
        ("a", "fraction"): "tiny",
        ("very", "slightly"): "tiny",
        ("ever", "so", "slightly"): "tiny",
        ("barely",): "tiny",
        ("tiny",): "tiny",
        ("a", "little", "bit"): "small",
        ("a", "bit"): "small",
        ("a", "little"): "small",
        ("a", "notch"): "small",
        ("one", "notch"): "small",
        ("a", "nudge"): "small",
        ("slightly",): "small",
        ("slight",): "small",
        ("somewhat",): "small",
        ("bit",): "small",
        ("little",): "small",
        ("nudge",): "small",
        ("a", "lot"): "large",
        ("a", "lot", "more"): "large",
        ("a", "long", "way"): "large",
        ("a", "great", "deal"): "large",
        ("a", "good", "deal"): "large",
        ("quite", "a", "bit"): "large",
        ("quite", "a", "lot"): "large",
        ("a", "good", "bit"): "large",
        ("lots",): "large",
        ("loads",): "large",
        ("much",): "large",
        ("significantly",): "large",
        ("considerably",): "large",
        ("substantially",): "large",
    }
)
_MAG_MAX_LEN: Final = max(len(p) for p in _MAG_PHRASES)

_UNITS_M: Final[Mapping[str, float]] = MappingProxyType(
    {
        **dict.fromkeys(
            ("cm", "cms", "centimetre", "centimetres", "centimeter", "centimeters"), 0.01
        ),
        **dict.fromkeys(
            ("mm", "millimetre", "millimetres", "millimeter", "millimeters", "mil", "mils"), 0.001
        ),
        **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), 1.0),
        **dict.fromkeys(("inch", "inches"), 0.0254),
    }
)
_UNITS_DEG: Final = frozenset({"deg", "degs", "degree", "degrees", "°"})
_NUMBER_WORDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "a": 1.0,
        "an": 1.0,
        "zero": 0.0,
        "one": 1.0,
        "two": 2.0,
        "three": 3.0,
        "four": 4.0,
        "five": 5.0,
        "six": 6.0,
        "seven": 7.0,
        "eight": 8.0,
        "nine": 9.0,
        "ten": 10.0,
        "fifteen": 15.0,
        "twenty": 20.0,
        "thirty": 30.0,
        "forty": 40.0,
        "fifty": 50.0,
        "sixty": 60.0,
        "ninety": 90.0,
    }
)
_NOT_A_NUMBER: Final = frozenset({"nan", "inf", "infinity", "infinite", "minus", "negative"})

_STOP_WORDS: Final = frozenset(
    {"stop", "halt", "freeze", "pause", "abort", "cancel", "whoa", "woah", "enough", "emergency"}
)
_WAIT_WORDS: Final = frozenset({"wait", "hold"})
_STRONG_CONTINUE: Final = frozenset({"continue", "resume", "proceed", "unpause", "unfreeze"})
_WEAK_CONTINUE: Final = frozenset(
    {
        "go",
        "ok",
        "okay",
        "yes",
        "yeah",
        "yep",
        "fine",
        "good",
        "great",
        "alright",
        "perfect",
        "thanks",
        "sure",
        "correct",
        "nice",
    }
)
_UNDO_WORDS: Final = frozenset({"undo", "revert", "reverse", "unwind", "rewind"})
_RETRY_WORDS: Final = frozenset(
    {
        "dropped",
        "dropping",
        "fell",
        "fallen",
        "falling",
        "slipped",
        "missed",
        "lost",
        "failed",
        "retry",
        "redo",
        "again",
    }
)
_ROTATE_WORDS: Final = frozenset(
    {"rotate", "rotated", "rotation", "turn", "turned", "twist", "spin", "swivel", "yaw"}
)
_ROTATE_DIRS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "clockwise": -1.0,
        "cw": -1.0,
        "counterclockwise": 1.0,
        "anticlockwise": 1.0,
        "ccw": 1.0,
    }
)
_SLOWER_WORDS: Final = frozenset({"slower", "slow", "slowly", "slowed"})
_FASTER_WORDS: Final = frozenset(
    {"faster", "fast", "quick", "quicker", "quickly", "hurry", "speedier"}
)
_SPEED_NOUNS: Final = frozenset({"speed", "pace", "velocity"})
_SPEED_DOWN_VERBS: Final = frozenset({"reduce", "decrease", "lower", "cut", "less"})
_SPEED_UP_VERBS: Final = frozenset({"increase", "raise", "higher", "more"})
_NEGATIONS: Final = frozenset({"not", "never", "nor", "dont", "doesnt", "isnt", "wasnt", "cant"})
_PRONOUNS: Final = frozenset({"it", "that", "them", "this", "things", "everything", "those"})
_KIND_NOUNS: Final[Mapping[str, Literal["block", "bowl"]]] = MappingProxyType(
    {
        "block": "block",
        "blocks": "block",
        "cube": "block",
        "cubes": "block",
        "bowl": "bowl",
        "bowls": "bowl",
    }
)
_ONE_WORDS: Final = frozenset({"one", "ones"})
_OTHER_WORDS: Final = frozenset({"other", "another", "different"})
_COLOUR_ALIASES: Final[Mapping[str, str]] = MappingProxyType({"grey": "gray"})
#: Words that make the correction relative to something else ("next to", "left of"), name a
#: place, or pick by a property: the offline parser cannot map those to a nudge or a slot edit.
_RELATION_WORDS: Final = frozenset(
    {
        "next",
        "beside",
        "besides",
        "between",
        "behind",
        "under",
        "underneath",
        "beneath",
        "below",
        "above",
        "of",
        "around",
        "across",
        "along",
        "through",
        "outside",
        "against",
        "opposite",
        "closest",
        "nearest",
        "farthest",
        "furthest",
        "biggest",
        "smallest",
        "largest",
        "leftmost",
        "rightmost",
        "first",
        "last",
        "second",
        "third",
        "where",
        "each",
        "all",
        "every",
        "both",
        "except",
        "without",
        "flip",
        "over",
        "upside",
    }
)
#: Nouns that are neither the robot nor a block/bowl: naming one means a relation or a place.
_NOUNS: Final = frozenset(
    {
        "cup",
        "cups",
        "mug",
        "plate",
        "box",
        "bottle",
        "ball",
        "table",
        "side",
        "sides",
        "corner",
        "corners",
        "edge",
        "edges",
        "middle",
        "center",
        "centre",
        "area",
        "spot",
        "square",
        "circle",
        "line",
        "row",
        "stack",
        "pile",
        "tower",
        "shelf",
        "tray",
        "basket",
        "bin",
        "container",
        "camera",
        "wall",
        "floor",
        "landmark",
        "door",
        "hand",
    }
)
#: Words that carry no correction on their own; knowing them lets "please move that" parse.
_FILLERS: Final = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "a an the it its it's that that's thats this these those them they there here please pls "
        "plz robot now just more even still no nope yes hey um uh oh hmm hm ah oops whoops sorry "
        "thank well actually really very quite i i'm im i'd you you're youre your me my we us our "
        "move moving moved put putting place placed go going went bring shift push slide set make "
        "get got can could would should will be is are was were been to from by with in into on "
        "onto at for do does did done have has had let let's lets try trying need needs want "
        "wanted meant mean use using like what how why when which who whom some any thing things "
        "object item piece something position again instead rather than about out off own also "
        "too so as if or and then but plus right left up down little bit okay ok hold hang moment "
        "sec second minute tiny pick picked grab grabbed grasp take took lay leave keep kept "
        "carry stay where time times one ones same wrong mistake arm gripper hand said say told "
        "tell asked ask look see saw supposed intended think thought sure maybe perhaps probably "
        "almost exactly looks seems seem other another different way all over around far much "
        "less towards toward "
        "direction dear fine cheers great nice good perfect correct there's theres here's heres "
        "isn't aren't wasn't weren't don't doesn't didn't can't won't wont shouldn't couldn't "
        "wouldn't haven't hasn't not never speed pace velocity gently carefully careful easy "
        "steady drop release open close closed gripping holding held stopped came come coming "
        "getting grip give gave"
    ).split()
)

_VOCABULARY: Final = frozenset(
    _DIRECTIONS.keys()
    | _STATE_DIRECTIONS.keys()
    | {w for p in _MAG_PHRASES for w in p}
    | _UNITS_M.keys()
    | _UNITS_DEG
    | _NUMBER_WORDS.keys()
    | _STOP_WORDS
    | _WAIT_WORDS
    | _STRONG_CONTINUE
    | _WEAK_CONTINUE
    | _UNDO_WORDS
    | _RETRY_WORDS
    | _ROTATE_WORDS
    | _ROTATE_DIRS.keys()
    | {"counter", "anti", "quarter", "half", "twice", "double", "couple", "few", "way"}
    | _SLOWER_WORDS
    | _FASTER_WORDS
    | _SPEED_NOUNS
    | _SPEED_DOWN_VERBS
    | _SPEED_UP_VERBS
    | _NEGATIONS
    | _PRONOUNS
    | _KIND_NOUNS.keys()
    | _ONE_WORDS
    | _OTHER_WORDS
    | _SELF_WORDS
    | _RELATION_WORDS
    | _NOUNS
    | _FILLERS
    | COLORS.keys()
    | _COLOUR_ALIASES.keys()
)
#: "right" after these is "correct", not a direction.
_RIGHT_AS_CORRECT: Final = frozenset(
    {"thats", "that's", "is", "are", "youre", "you're", "looks", "seems", "exactly", "its", "it's"}
)
_RESTART_WORDS: Final = frozenset({"no", "nope", "sorry", "actually", "oops", "whoops"})
_MIN_EXPLICIT_M: Final = 1e-4
_MIN_EXPLICIT_DEG: Final = 0.1
_MOVE_VERBS: Final = frozenset({"move", "shift", "push", "slide", "put", "bring", "place", "nudge"})
_CLAUSE_WORDS: Final = frozenset({"and", "then", "but", "also", "plus"})

# The tokeniser: every alternative is a run of one character class (or a fixed string), so the
# scan is linear in the text whatever it holds.
_TOKEN_RE: Final = re.compile(
    r"(?P<num>-?(?:[0-9]+(?:[.,][0-9]+)?|\.[0-9]+)(?:e[-+]?[0-9]+)?)"
    r"|(?P<word>[a-z]+(?:'[a-z]+)*)"
    r"|(?P<deg>°)"
    r"|(?P<sep>[,;:!?()]|\.)"
)
_TRANSLATE: Final = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "`": "'",
        "−": "-",
        "–": "-",
        "—": "-",
        "º": "°",
        "\u02da": "°",
    }
)


# --------------------------------------------------------------------------------------------
# Scanning


@dataclass(frozen=True)
class _Tok:
    kind: Literal["num", "word", "deg", "sep"]
    text: str


@dataclass(frozen=True)
class _Mag:
    magnitude: Magnitude
    value: float | None = None  # explicit: metres or degrees
    unit: Literal["m", "deg"] | None = None


@dataclass(frozen=True)
class _Dir:
    vec: Vec
    word: str
    neg: bool
    default: Magnitude = "medium"


@dataclass(frozen=True)
class _Speed:
    sign: int  # -1 slower, +1 faster
    neg: bool
    factor: float | None = None  # an explicit factor ("half speed")
    default: Magnitude = "medium"


@dataclass(frozen=True)
class _Mention:
    colour: str | None
    kind: Literal["block", "bowl"] | None
    other: bool
    neg: bool


@dataclass
class _Clause:
    """What one clause (text between commas / "and" / "then") says."""

    neg: bool = False  # a negation word has been seen (applies to what follows it)
    restart: bool = False  # begins with "no" / "sorry" / "I mean": replaces what came before
    dirs: list[_Dir] = field(default_factory=list)
    mags: list[_Mag] = field(default_factory=list)
    rot: list[float] = field(default_factory=list)  # +1 / -1 per rotation direction word
    rot_neg: list[bool] = field(default_factory=list)
    rotate: bool = False
    speeds: list[_Speed] = field(default_factory=list)
    mentions: list[_Mention] = field(default_factory=list)
    stop: bool = False
    neg_stop: bool = False  # "don't stop"
    neg_go: bool = False  # "don't move", "don't continue"
    wait: bool = False
    strong_continue: bool = False
    weak_continue: bool = False
    undo: bool = False
    weak_undo: bool = False  # "go back", "put it back": undo unless said with an amount
    retry: bool = False
    refs: bool = False  # "the bowl", "the one": a reference to an object by kind only
    blockers: list[str] = field(default_factory=list)  # relation words, other nouns
    unknown: list[str] = field(default_factory=list)
    bare_number: bool = False
    explicit_any: bool = False
    move_verb: bool = False  # "move", "shift", "push": a left/right here is a move, not a turn

    def fine_content(self) -> bool:
        return bool(self.dirs or self.rot or self.rotate or self.speeds)


def _fail(shown: str, reason: str) -> CorrectionParseError:
    quoted = shown if len(shown) <= 80 else shown[:77] + "..."
    return CorrectionParseError(
        f"I could not understand the correction {quoted!r}: {reason}. "
        f"Corrections understood without an LLM: {_EXAMPLES} "
        "(see docs/corrections.md)."
    )


def _tokenise(low: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _TOKEN_RE.finditer(low):
        kind = m.lastgroup
        text = m.group()
        if kind == "word":
            # "don't" and "dont" are the same word; keep "it's"/"i'm" apostrophes out too.
            if text.endswith("n't"):
                toks.append(_Tok("word", "not"))
                continue
            text = text.replace("'", "") if text not in _VOCABULARY else text
        if kind == "word":
            toks.append(_Tok("word", text))
        elif kind == "num":
            toks.append(_Tok("num", text))
        elif kind == "deg":
            toks.append(_Tok("deg", text))
        else:
            toks.append(_Tok("sep", text))
    return toks


def _split(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    clauses: list[list[_Tok]] = [[]]
    for t in toks:
        if t.kind == "sep" or (t.kind == "word" and t.text in _CLAUSE_WORDS):
            if clauses[-1]:
                clauses.append([])
        else:
            clauses[-1].append(t)
    return [c for c in clauses if c]


def _words(toks: Sequence[_Tok], i: int, n: int) -> tuple[str, ...]:
    return tuple(t.text if t.kind == "word" else "\0" for t in toks[i : i + n])


class _Scanner:
    """Reads one clause left to right into a :class:`_Clause`."""

    def __init__(self, shown: str, toks: Sequence[_Tok], *, lead: bool = False) -> None:
        self.shown = shown
        # True for the first of several clauses: a lone "right" there is "right, ..." (okay).
        self.lead = lead
        self.t = toks
        self.c = _Clause()

    def word(self, i: int) -> str:
        if 0 <= i < len(self.t) and self.t[i].kind == "word":
            return self.t[i].text
        return ""

    def run(self) -> _Clause:
        first = (self.word(0), self.word(1))
        self.c.restart = first[0] in _RESTART_WORDS or first in (("i", "mean"), ("i", "meant"))
        i = 0
        while i < len(self.t):
            i += self.step(i)
        return self.c

    # -- explicit amounts --------------------------------------------------------------------

    def explicit(self, i: int) -> int:
        """Consume "3 cm", "2.5 centimetres", "half a centimetre", "30 degrees"; 0 if none."""
        t = self.t[i]
        w = self.word(i)
        value: float | None = None
        j = i + 1
        if t.kind == "num":
            # A decimal comma ("2,5 cm") is read as a point; float() never evaluates anything.
            try:
                value = float(t.text.replace(",", "."))
            except ValueError:  # pragma: no cover - the tokeniser only yields numbers here
                value = math.nan
        elif w in ("half",) and self.word(i + 1) in ("a", "an"):
            value, j = 0.5, i + 2
        elif w == "a" and self.word(i + 1) == "couple":
            value, j = 2.0, i + 2 + (self.word(i + 2) == "of")
        elif w == "couple":
            value, j = 2.0, i + 1 + (self.word(i + 1) == "of")
        elif w == "a" and self.word(i + 1) == "few":
            value, j = 3.0, i + 2
        elif w in _NUMBER_WORDS:
            value = _NUMBER_WORDS[w]
        elif w in _NOT_A_NUMBER:
            value = math.nan
        if value is None:
            return 0
        if w in ("minus", "negative") and j < len(self.t) and self.t[j].kind == "num":
            value, j = -1.0, j + 1
        if self.word(j) == "more":  # "3 more cm"
            j += 1
        unit_tok = self.t[j] if j < len(self.t) else None
        unit = unit_tok.text if unit_tok is not None and unit_tok.kind in ("word", "deg") else ""
        if unit not in _UNITS_M and unit not in _UNITS_DEG:
            if t.kind == "num":
                self.c.bare_number = True
                return 1
            if w in _NOT_A_NUMBER:
                self.c.unknown.append(w)
                return 1
            return 0
        if not math.isfinite(value) or value <= 0:
            raise _fail(
                self.shown,
                f"{' '.join(x.text for x in self.t[i : j + 1])!r} is not a possible amount "
                "(say a positive number with a unit, e.g. '3 cm' or '30 degrees')",
            )
        if unit in _UNITS_M and value * _UNITS_M[unit] < _MIN_EXPLICIT_M:
            raise _fail(self.shown, f"{value:g} {unit} is too small to act on (at least 0.1 mm)")
        if unit in _UNITS_DEG and value < _MIN_EXPLICIT_DEG:
            raise _fail(self.shown, f"{value:g} degrees is too small to act on (at least 0.1)")
        if unit in _UNITS_M:
            mag = _Mag("explicit", min(value * _UNITS_M[unit], MAX_OFFSET_M), "m")
        else:
            mag = _Mag("explicit", min(value, MAX_ROTATE_DEG), "deg")
            self.c.rotate = True
        self.c.mags.append(mag)
        self.c.explicit_any = True
        return j + 1 - i

    # -- one step ----------------------------------------------------------------------------

    def step(self, i: int) -> int:
        c = self.c
        if (
            self.t[i].kind in ("num", "deg")
            or self.word(i) in _NUMBER_WORDS
            or (self.word(i) in _NOT_A_NUMBER | {"half", "couple"})
        ):
            used = self.explicit(i)
            if used:
                return used
            if self.t[i].kind == "deg":
                c.rotate = True
                return 1
        w = self.word(i)
        if not w:
            return 1
        nxt, nxt2 = self.word(i + 1), self.word(i + 2)
        obj = 1 if nxt in _PRONOUNS else 0  # "slow it down", "put it back"

        for rule in _PHRASES:
            used = rule(self, i, w, nxt, nxt2, obj)
            if used:
                return used

        mag_len = self.mag_phrase(i)
        if mag_len:
            return mag_len
        if w in _NEGATIONS:
            c.neg = True
            return 1
        if w in _STOP_WORDS:
            if c.neg:
                c.neg_stop = True
            else:
                c.stop = True
            return 1
        if w in _WAIT_WORDS:
            c.wait = True
            return 1
        if w in _STRONG_CONTINUE:
            if c.neg:
                c.neg_go = True
            else:
                c.strong_continue = True
            return 1
        if w in _UNDO_WORDS:
            if not c.neg:
                c.undo = True
            return 1
        if w in _RETRY_WORDS:
            if not c.neg:
                c.retry = True
            return 1
        if w in _ROTATE_WORDS:
            c.rotate = True
            return 1
        if w in _ROTATE_DIRS:
            c.rot.append(_ROTATE_DIRS[w])
            c.rot_neg.append(c.neg)
            return 1
        if w in _SLOWER_WORDS or w in _FASTER_WORDS:
            c.speeds.append(_Speed(-1 if w in _SLOWER_WORDS else 1, c.neg))
            return 1
        if w in _SPEED_DOWN_VERBS or w in _SPEED_UP_VERBS:
            for k in (1, 2, 3):
                if self.word(i + k) in _SPEED_NOUNS:
                    c.speeds.append(_Speed(-1 if w in _SPEED_DOWN_VERBS else 1, c.neg))
                    return k + 1
                if self.word(i + k) not in ("the", "your", "its", "my", "this"):
                    break
        if w in _COLOURS_ALL:
            return self.colour(i, w, other=False)
        if w in _OTHER_WORDS:
            return self.other(i)
        if w in _KIND_NOUNS or w in _ONE_WORDS:
            c.refs = True
            return 1
        if w in ("toward", "towards", "to") and (
            nxt in _SELF_WORDS or (nxt == "the" and nxt2 in _SELF_WORDS)
        ):
            c.dirs.append(_Dir((-1.0, 0.0, 0.0), "toward me", c.neg))
            return 2 if nxt in _SELF_WORDS else 3
        if w in _DIRECTIONS:
            return self.direction(i, w)
        if w in _RELATION_WORDS or w in _NOUNS:
            c.blockers.append(w)
            return 1
        if w in _VOCABULARY:
            if w in _MOVE_VERBS:
                c.move_verb = True
            if w in _WEAK_CONTINUE:
                c.weak_continue = True
            return 1
        c.unknown.append(w)
        return 1

    def mag_phrase(self, i: int) -> int:
        for n in range(min(_MAG_MAX_LEN, len(self.t) - i), 0, -1):
            mag = _MAG_PHRASES.get(_words(self.t, i, n))
            if mag is not None:
                if mag == "large" and self.word(i) == "much" and self.word(i - 1) == "too":
                    return 0  # handled by "too"
                self.c.mags.append(_Mag(mag))
                return n
        return 0

    def direction(self, i: int, w: str) -> int:
        c = self.c
        nxt = self.word(i + 1)
        if w == "far" and (
            nxt in ("more", "further", "farther", "too", "to", "over")
            or nxt in _DIRECTIONS
            or nxt in _ROTATE_DIRS
        ):
            c.mags.append(_Mag("large"))
            return 1
        if w == "back" and nxt in ("toward", "towards", "to"):
            return 1  # "bring it back towards me": the direction is the one that follows
        if w == "back" and nxt == "up":
            c.blockers.append("back up")
            return 2
        prev = self.word(i - 1)
        if w == "right" and (
            prev in _RIGHT_AS_CORRECT or (i == 0 and len(self.t) == 1 and self.lead)
        ):
            c.weak_continue = True  # "you're right", "that looks right", "right, go on"
            return 1
        if w == "left" and prev in ("you", "i", "we", "they"):
            return 1  # "you left it there": the verb
        if w == "near" and (nxt in ("the", "a", "it", "that") or nxt in _COLOURS_ALL):
            c.blockers.append("near")
            return 1
        c.dirs.append(_Dir(_DIRECTIONS[w], w, c.neg))
        return 1

    def colour(self, i: int, w: str, *, other: bool) -> int:
        c = self.c
        colour = _COLOUR_ALIASES.get(w, w)
        nxt = self.word(i + 1)
        neg = c.neg
        if nxt in _KIND_NOUNS:
            c.mentions.append(_Mention(colour, _KIND_NOUNS[nxt], other, neg))
            return 2
        if nxt in _ONE_WORDS:
            c.mentions.append(_Mention(colour, None, other, neg))
            return 2
        if (
            i + 1 < len(self.t)
            and self.t[i + 1].kind == "word"
            and (nxt in _NOUNS or nxt not in _VOCABULARY)
        ):
            c.blockers.append(f"{w} {nxt}")  # "the blue cup": not one of our objects
            return 2
        c.mentions.append(_Mention(colour, None, other, neg))
        return 1

    def other(self, i: int) -> int:
        c = self.c
        nxt = self.word(i + 1)
        if nxt in _KIND_NOUNS:
            c.mentions.append(_Mention(None, _KIND_NOUNS[nxt], True, c.neg))
            return 2
        if nxt in _ONE_WORDS:
            c.mentions.append(_Mention(None, None, True, c.neg))
            return 2
        if nxt in _COLOURS_ALL:
            return 1 + self.colour(i + 1, nxt, other=True)
        if nxt in ("try", "go", "attempt", "shot"):  # "give it another try"
            c.retry = c.retry or not c.neg
            return 2
        if i + 1 < len(self.t) and (
            nxt in ("way", "direction", "end", "time") or nxt in _NOUNS or nxt not in _VOCABULARY
        ):
            c.blockers.append(f"other {nxt}")  # "the other way", "the other side"
            return 2
        c.mentions.append(_Mention(None, None, True, c.neg))  # "the other", "the other please"
        return 1


_COLOURS_ALL: Final = frozenset(COLORS.keys() | _COLOUR_ALIASES.keys())

_Rule = Callable[[_Scanner, int, str, str, str, int], int]


def _rule_phrases(s: _Scanner, i: int, w: str, nxt: str, nxt2: str, obj: int) -> int:
    """Multi-word phrases whose words would mean something else one by one."""
    c = s.c
    after_obj = s.word(i + 1 + obj)
    # Speed particles: "slow (it) down", "speed (it) up", "hurry up".
    if w == "slow" and after_obj == "down":
        c.speeds.append(_Speed(-1, c.neg))
        return 2 + obj
    if w in ("speed", "hurry") and after_obj == "up":
        c.speeds.append(_Speed(1, c.neg))
        return 2 + obj
    if w == "half" and (nxt in _SPEED_NOUNS or (nxt == "the" and nxt2 in _SPEED_NOUNS)):
        c.speeds.append(_Speed(-1, c.neg, factor=SPEED_FACTORS["half speed"]))
        return 2 if nxt in _SPEED_NOUNS else 3
    if w in ("double", "twice") and (
        nxt in _SPEED_NOUNS or (nxt == "the" and nxt2 in _SPEED_NOUNS)
    ):
        c.speeds.append(_Speed(1, c.neg, factor=SPEED_FACTORS["double speed"]))
        return 2 if nxt in _SPEED_NOUNS else 3
    if w in ("half", "twice") and nxt == "as" and nxt2 in _FASTER_WORDS:
        c.speeds.append(
            _Speed(
                -1 if w == "half" else 1,
                c.neg,
                factor=SPEED_FACTORS["half speed" if w == "half" else "double speed"],
            )
        )
        return 3
    # Verb particles that are not directions: "pick it up", "put it down", "back up".
    if w == "pick" and after_obj == "up":
        c.blockers.append("pick up")
        return 2 + obj
    if w in ("put", "set", "lay", "place") and after_obj == "down":
        c.blockers.append("put down")
        return 2 + obj
    # Undo: "go back", "put it back", "put it back where it was".
    if w == "go" and nxt == "back":
        c.weak_undo = not c.neg
        c.dirs.append(_Dir(_DIRECTIONS["back"], "back", c.neg))
        return 2
    if w in ("put", "bring", "take") and obj and after_obj == "back":
        c.weak_undo = not c.neg
        c.dirs.append(_Dir(_DIRECTIONS["back"], "back", c.neg))
        return 3
    if w == "where" and nxt in ("it", "they", "you", "i") and nxt2 in ("was", "were", "started"):
        if not c.neg:
            c.undo = True
        return 3
    # Retry.
    if w == "try" and nxt == "again":
        c.retry = c.retry or not c.neg
        return 2
    if w == "one" and nxt == "more" and nxt2 in ("time", "try", "go"):
        c.retry = c.retry or not c.neg
        return 3
    if w in ("grab", "grabbed", "grasp", "catch", "get", "pick") and c.neg:
        c.retry = True  # "you didn't grab it", "it did not pick it"
        c.neg = False
        return 1 + obj + (s.word(i + 1 + obj) == "up")
    # Continue.
    if (w, nxt) in (("carry", "on"), ("keep", "going"), ("keep", "moving"), ("go", "on")) or (
        w == "go" and nxt == "ahead"
    ):
        if c.neg:
            c.neg_go = True
        else:
            c.strong_continue = True
        return 2
    if w in ("move", "go", "touch", "do", "keep") and c.neg and not after_obj:
        c.neg_go = True  # "don't move", "do not go"
        return 1
    if w in ("thats", "that's", "all", "alright") and nxt == "right":
        c.weak_continue = True
        return 2
    if w == "that" and nxt == "is" and nxt2 == "right":
        c.weak_continue = True
        return 3
    # Wait: "hold on", "hang on", "one moment", "a sec".
    if (w, nxt) in (("hold", "on"), ("hang", "on"), ("hold", "it")):
        c.wait = True
        return 2
    if w in ("one", "a", "just") and nxt in ("moment", "sec", "second", "minute"):
        c.wait = True
        return 2
    # Rotation.
    if w in ("counter", "anti") and nxt == "clockwise":
        c.rot.append(1.0)
        c.rot_neg.append(c.neg)
        return 2
    if w in ("a", "one") and nxt == "quarter" and nxt2 in ("turn", "rotation"):
        c.rotate = True
        c.mags.append(_Mag("explicit", 90.0, "deg"))
        c.explicit_any = True
        return 3
    if w in _ROTATE_WORDS and after_obj in ("around", "over", "back", "upside"):
        c.blockers.append(f"{w} {after_obj}")
        return 2 + obj
    # Negation phrases and relation phrases.
    if w == "no" and nxt in ("more", "further", "longer", "farther"):
        c.neg = True
        return 1
    if (w, nxt) in (("instead", "of"), ("rather", "than")):
        c.neg = True
        return 2
    if (w, nxt) == ("all", "the") and nxt2 == "way":
        c.blockers.append("all the way")
        return 3
    if w == "way" and s.word(i - 1) in ("other", "wrong", "same", "this", "that", "opposite"):
        c.blockers.append("way")
        return 1
    if w == "way":
        c.mags.append(_Mag("large"))
        return 1
    if w == "in" and nxt == "front":
        c.dirs.append(_Dir(_DIRECTIONS["front"], "front", c.neg))
        return 2
    return 0


def _rule_too(s: _Scanner, i: int, w: str, nxt: str, nxt2: str, obj: int) -> int:
    """Inversions: 'too far left' -> a bit right; 'not so fast' and 'too fast' -> slower."""
    c = s.c
    if w not in ("too", "so", "as") or (w in ("so", "as") and not c.neg):
        return 0
    j = i + 1
    # "too far to the left", "too much to the right", "not so far left".
    while s.word(j) in ("far", "much", "to", "the") and j < i + 4:
        j += 1
    target = s.word(j)
    if w in ("so", "as"):
        c.neg = False  # "not so fast": the negation is the inversion, not a refusal
    if target in _DIRECTIONS or target in _STATE_DIRECTIONS:
        vec = _DIRECTIONS.get(target) or _STATE_DIRECTIONS[target]
        flipped = (-vec[0], -vec[1], -vec[2])
        c.dirs.append(_Dir(flipped, f"too {target}", False, default="small"))
        return j + 1 - i
    if target in _SLOWER_WORDS or target in _FASTER_WORDS:
        c.speeds.append(_Speed(1 if target in _SLOWER_WORDS else -1, False))
        return j + 1 - i
    if j > i + 1:  # "too far", "too much" with no direction: which way is "back"?
        c.blockers.append(" ".join(s.word(k) for k in range(i, j)))
        return j - i
    return 1


_PHRASES: Final[tuple[_Rule, ...]] = (_rule_too, _rule_phrases)


# --------------------------------------------------------------------------------------------
# Deciding


def _mag_rank(m: _Mag) -> int:
    return _MAG_ORDER[m.magnitude]


def _summary_mag(used: Sequence[_Mag]) -> Magnitude:
    kinds = {m.magnitude for m in used}
    if len(kinds) == 1:
        return used[0].magnitude
    return max(used, key=_mag_rank).magnitude


def _nudge(shown: str, clauses: Sequence[_Clause]) -> tuple[Vec, Magnitude]:
    all_mags = [m for c in clauses for m in c.mags]
    distinct = {(m.magnitude, m.value) for m in all_mags}
    shared = all_mags[0] if len(distinct) == 1 else None
    total = [0.0, 0.0, 0.0]
    used: list[_Mag] = []
    for c in clauses:
        dirs = [d for d in c.dirs if not d.neg]
        if not dirs:
            continue
        if len(dirs) > 1:  # "further back": "further" only says "more", not which way
            dirs = [d for d in dirs if d.word not in _MODIFIER_DIRECTIONS] or dirs[:1]
        unique: list[_Dir] = []
        for d in dirs:  # "raise it up", "lift it higher": one direction said twice
            if all(u.vec != d.vec for u in unique):
                unique.append(d)
        if len(c.mags) in (0, 1) or len(c.mags) == len(unique):
            pairs = [
                (
                    d,
                    c.mags[k]
                    if len(c.mags) == len(unique)
                    else c.mags[0]
                    if c.mags
                    else shared or _Mag(d.default),
                )
                for k, d in enumerate(unique)
            ]
        else:
            raise _fail(
                shown, "say each direction with its own amount, e.g. '2 cm left and 1 cm up'"
            )
        for d, m in pairs:
            if m.unit == "deg":
                raise _fail(shown, "degrees are for rotations; a move needs cm or mm")
            size = m.value if m.value is not None else MAGNITUDE_M[m.magnitude]
            for k in range(3):
                total[k] += d.vec[k] * size
            used.append(m)
    length = math.sqrt(sum(v * v for v in total))
    if length < 1e-9:
        raise _fail(shown, "the directions cancel out (say one way, e.g. 'a bit to the left')")
    if length > MAX_OFFSET_M:
        total = [v * MAX_OFFSET_M / length for v in total]
    clean = (round(total[0], 6) + 0.0, round(total[1], 6) + 0.0, round(total[2], 6) + 0.0)
    return clean, _summary_mag(used)


def _rotation(shown: str, clauses: Sequence[_Clause]) -> tuple[float, Magnitude]:
    signs: set[float] = set()
    for c in clauses:
        signs.update(s for s, n in zip(c.rot, c.rot_neg, strict=True) if not n)
        turn_here = c.rotate or bool(c.rot)
        for d in c.dirs:
            if d.neg:
                continue
            if d.vec[1] == 0.0 or (c.move_verb and not turn_here):
                raise _fail(
                    shown, "one correction at a time: say the rotation and the move separately"
                )
            signs.add(1.0 if d.vec[1] > 0 else -1.0)  # "turn it left" = counter-clockwise
    if len(signs) > 1:
        raise _fail(shown, "both clockwise and counter-clockwise")
    sign = signs.pop() if signs else 1.0
    mags = [m for c in clauses for m in c.mags]
    if any(m.unit == "m" for m in mags):
        raise _fail(shown, "a rotation is in degrees, not cm")
    if len({(m.magnitude, m.value) for m in mags}) > 1:
        raise _fail(shown, "say one amount for the rotation")
    if not mags:
        return sign * ROTATION_DEG["medium"], "medium"
    m = mags[0]
    deg = m.value if m.value is not None else ROTATION_DEG[m.magnitude]
    return sign * min(deg, MAX_ROTATE_DEG), m.magnitude


def _speed(shown: str, clauses: Sequence[_Clause]) -> tuple[float, Magnitude]:
    speeds = [s for c in clauses for s in c.speeds if not s.neg]
    if len({s.sign for s in speeds}) > 1:
        raise _fail(shown, "both slower and faster")
    mags = [m for c in clauses for m in c.mags]
    if any(m.value is not None for m in mags):
        raise _fail(shown, "a speed change takes no distance or angle: say 'slower' or 'faster'")
    explicit = [s.factor for s in speeds if s.factor is not None]
    if explicit:
        return explicit[0], "explicit"
    mag: Magnitude = mags[0].magnitude if mags else speeds[0].default
    word = "slower" if speeds[0].sign < 0 else "faster"
    return SPEED_FACTORS[_SPEED_PREFIX[mag] + word], mag


def _mention_fields(
    clauses: Sequence[_Clause],
) -> dict[str, str | bool | None] | None:
    """The structured fields of a high-level correction, or None when they would be a guess."""
    if any(c.blockers or c.unknown or c.bare_number or c.explicit_any for c in clauses):
        return None
    if any(d for c in clauses for d in c.dirs if not d.neg):
        return None  # "the bowl on the left": a reference by place, not a slot edit
    mentions = {(m.colour, m.kind, m.other) for c in clauses for m in c.mentions if not m.neg}
    retry = any(c.retry for c in clauses)
    if len(mentions) > 1:
        return None
    out: dict[str, str | bool | None] = {"retry": retry}
    if mentions:
        colour, kind, other = mentions.pop()
        if colour is not None and kind is not None:
            out["object"] = f"{colour} {kind}"
        elif colour is not None:
            out["colour"] = colour
        out["kind_word"] = kind
        out["other"] = other
    return out


def parse_correction(text: str) -> Correction:
    """Parse a person's correction without an LLM.

    Args:
        text: What the person typed or said ("a bit to the left", "stop", "no, the blue one").

    Returns:
        The correction. Fine-grained kinds (stop, continue, undo, nudge, rotate, speed) carry
        their numbers; "replan" carries the structured fields an offline planner can use, or none
        when only an LLM could act on the words.

    Raises:
        CorrectionParseError: The text is empty, too long, has no words, no word the parser
            knows, or an impossible amount ("-3 cm"); or it asks for two fine-grained things at
            once. The message lists what is understood.
    """
    if not isinstance(text, str):
        raise _fail(repr(type(text).__name__), "a correction is text")
    if len(text) > MAX_TEXT_CHARS * 10:  # do not even collapse megabytes of hostile input
        raise _fail(text[:80], f"longer than {MAX_TEXT_CHARS} characters")
    shown = " ".join(text.split())
    if not shown:
        raise _fail(shown, "it is empty")
    if len(shown) > MAX_TEXT_CHARS:
        raise _fail(shown, f"longer than {MAX_TEXT_CHARS} characters; keep a correction short")
    low = normalise_text(shown.translate(_TRANSLATE))
    toks = _tokenise(low)
    words = [t.text for t in toks if t.kind == "word"]
    if not words:
        if any(ch.isalpha() for ch in shown):
            raise _fail(shown, "no word in it is one I know (corrections are English words)")
        raise _fail(shown, "it has no words")
    if not any(w in _VOCABULARY or w == "not" for w in words):
        raise _fail(shown, "no word in it is one I know")
    parts = _split(toks)
    clauses = [
        _Scanner(shown, c, lead=k == 0 and len(parts) > 1).run() for k, c in enumerate(parts)
    ]
    return _decide(shown, clauses)


def _decide(shown: str, clauses: Sequence[_Clause]) -> Correction:
    def make(kind: CorrectionKind, **kw: object) -> Correction:
        return Correction(text=shown, kind=kind, **kw)  # type: ignore[arg-type]

    # Stop first: a person who says "stop" anywhere means it, whatever else they said.
    if any(c.stop for c in clauses):
        return make("stop")
    if any(c.neg_go for c in clauses) and not any(c.fine_content() for c in clauses):
        return make("stop")
    if any(c.undo for c in clauses):
        return make("undo")
    # A self-repair ("a bit to the left, no wait, to the right") replaces what came before it.
    restarts = [k for k, c in enumerate(clauses) if c.restart and k > 0]
    if restarts:
        clauses = clauses[restarts[-1] :]

    blocked = any(c.blockers or c.unknown or c.refs or c.mentions for c in clauses)
    dirs = [d for c in clauses for d in c.dirs if not d.neg]
    has_rotate = any(c.rotate for c in clauses) or any(not n for c in clauses for n in c.rot_neg)
    has_speed = any(not s.neg for c in clauses for s in c.speeds)
    has_mag = any(c.mags for c in clauses)
    weak_undo = any(c.weak_undo for c in clauses)

    # "go back" / "put it back" alone is undo; with an amount it is a move ("go back a bit").
    if (
        weak_undo
        and not (has_mag or has_rotate or has_speed or blocked)
        and all(d.word == "back" for d in dirs)
    ):
        return make("undo")

    if not blocked:
        if any(c.bare_number for c in clauses) and (dirs or has_rotate):
            raise _fail(shown, "a number needs a unit: 'cm', 'mm', 'm' or 'degrees'")
        kinds = [
            k
            for k, on in (
                ("nudge", dirs and not has_rotate),
                ("rotate", has_rotate),
                ("speed", has_speed),
            )
            if on
        ]
        if len(kinds) > 1:
            raise _fail(
                shown,
                f"one correction at a time (I read {' and '.join(kinds)}); send them separately",
            )
        if kinds == ["rotate"]:
            deg, mag = _rotation(shown, clauses)
            return make("rotate", rotate_deg=deg, magnitude=mag)
        if kinds == ["nudge"]:
            offset, mag = _nudge(shown, clauses)
            return make("nudge", offset=offset, magnitude=mag)
        if kinds == ["speed"]:
            scale, mag = _speed(shown, clauses)
            return make("speed", speed_scale=scale, magnitude=mag)
        if any(c.explicit_any for c in clauses) and not any(c.mentions for c in clauses):
            raise _fail(shown, "which way? say e.g. '3 cm to the left' or 'rotate it 30 degrees'")

    fields = _mention_fields(clauses)
    if fields is not None and (
        fields.get("retry") or fields.get("object") or fields.get("colour") or fields.get("other")
    ):
        return make("replan", **fields)
    if any(c.neg_stop for c in clauses) or (
        any(c.strong_continue for c in clauses)
        and not any(c.blockers or c.mentions or c.refs for c in clauses)
    ):
        return make("continue")
    only_wait_or_ok = not any(
        c.fine_content()
        or c.mags
        or c.mentions
        or c.refs
        or c.blockers
        or c.retry
        or c.neg
        or c.bare_number
        for c in clauses
    )
    if only_wait_or_ok and any(c.wait for c in clauses):
        return make("stop")
    if (
        only_wait_or_ok
        and any(c.weak_continue for c in clauses)
        and not any(c.unknown for c in clauses)
    ):
        return make("continue")
    return make("replan")
