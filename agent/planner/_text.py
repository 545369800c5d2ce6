"""Command normalisation, slot abstraction and text similarity (no model downloads).

Why no embedding model: none can be downloaded in the environments policywright targets (offline
labs, CI without network), and the core install must stay light (no torch/transformers). The
commands are short and templated, so once the mentions are abstracted into typed slots a sparse
lexical similarity separates the task families well (see the planner tests for the evidence).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from policywright.agent.language import normalise_text

__all__ = [
    "CAP_COLORS",
    "DERIVED_SLOT_NAMES",
    "PLACEHOLDER_RE",
    "SLOT_NAMES",
    "Abstracted",
    "SimilarityIndex",
    "abstract_command",
    "placeholders_of",
    "slot_names_of",
    "template_tokens",
]

#: The ten Code-as-Policies colours (internals.md).
CAP_COLORS = ("blue", "red", "green", "orange", "yellow", "purple", "pink", "cyan", "brown", "gray")
# More colour words, so that "the magenta block" is reported as an unknown object (the person
# named something) instead of "cannot plan".
_EXTRA_COLORS = (
    "black",
    "white",
    "magenta",
    "violet",
    "teal",
    "gold",
    "silver",
    "beige",
    "maroon",
    "navy",
    "lime",
    "olive",
    "indigo",
    "turquoise",
)
_COLOR_SYNONYMS = {"grey": "gray"}

#: Slot names a template may use (objects are numbered: block1, block2, bowl1, ...).
SLOT_NAMES = ("location", "direction", "distance", "magnitude", "nth", "line")

_LOCATIONS = {
    ("top", "left", "corner"): "top left corner",
    ("top", "right", "corner"): "top right corner",
    ("bottom", "left", "corner"): "bottom left corner",
    ("bottom", "right", "corner"): "bottom right corner",
    ("upper", "left", "corner"): "top left corner",
    ("upper", "right", "corner"): "top right corner",
    ("lower", "left", "corner"): "bottom left corner",
    ("lower", "right", "corner"): "bottom right corner",
    ("top", "side"): "top side",
    ("bottom", "side"): "bottom side",
    ("left", "side"): "left side",
    ("right", "side"): "right side",
    ("middle",): "middle",
    ("center",): "middle",
    ("centre",): "middle",
}
_MAGNITUDES = {
    ("a", "little", "bit"): "a little",
    ("a", "little"): "a little",
    ("a", "bit"): "a little",
    ("slightly",): "a little",
    ("a", "lot"): "a lot",
}
_DISTANCES = {"closest": "closest", "nearest": "closest", "farthest": "farthest"}
_DISTANCES["furthest"] = "farthest"
_NTHS = {"first": "first", "second": "second", "third": "third", "fourth": "fourth"}
_LINES = {
    "horizontal": "horizontal",
    "horizontally": "horizontal",
    "vertical": "vertical",
    "vertically": "vertical",
    "diagonal": "diagonal",
    "diagonally": "diagonal",
}
_DIRECTIONS = {"left": "left", "right": "right", "top": "top", "bottom": "bottom"}

# Word-level normalisation applied after abstraction; it only merges spellings and near-synonyms
# that never change which program is right.
_SYNONYMS = {
    "colours": "colors",
    "colour": "color",
    "inside": "in",
    "into": "in",
    "onto": "on",
    "every": "all",
    "each": "all",
    "cubes": "blocks",
    "cube": "block",
    "grab": "pick",
    "build": "make",
    "create": "make",
}
_STOPWORDS = frozenset({"the", "a", "an", "please", "of"})

#: The placeholders a code or check template may contain. Only these are ever replaced; anything
#: else in braces (dict literals) is code.
PLACEHOLDER_RE = re.compile(
    r"\{((?:block|bowl|landmark)[0-9]+|(?:location|direction)[0-9]*|distance|magnitude|nth|line"
    r"|picked_block)\}"
)
#: Slots the planner computes from the scene (not from the command); see offline.DERIVED_SLOTS.
DERIVED_SLOT_NAMES = frozenset({"picked_block"})

_TOKEN_RE = re.compile(r"\{[a-z]+[0-9]*\}|[a-z0-9]+")
_SLOT_TOKEN_RE = re.compile(r"^\{([a-z]+)([0-9]*)\}$")


@dataclass(frozen=True)
class Abstracted:
    """A command with its mentions replaced by typed slots.

    Attributes:
        tokens: Normalised tokens; slots appear as "{block1}", "{location}", ...
        slots: Slot name -> the recognised value (a vocabulary word or "<colour> block/bowl").
    """

    tokens: tuple[str, ...]
    slots: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The slot-abstracted command as one string."""
        return " ".join(self.tokens)


def _words(text: str) -> list[str]:
    # Commands and templates go through the same normaliser ("don't" -> "do not").
    return _TOKEN_RE.findall(normalise_text(text))


def _finish(tokens: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for tok in tokens:
        tok = _SYNONYMS.get(tok, tok)
        if tok not in _STOPWORDS:
            out.append(tok)
    return tuple(out)


def template_tokens(template: str) -> tuple[str, ...]:
    """Normalise a stored command template (its slots are already written as "{slot}")."""
    words = _words(template)
    # "on top of" is a preposition, not a direction: same rewrite as for commands.
    return _finish(_rewrite_on_top_of(words))


def _rewrite_on_top_of(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i : i + 3] == ["on", "top", "of"]:
            out.append("on")
            i += 3
        else:
            out.append(words[i])
            i += 1
    return out


def abstract_command(command: str, extra_colors: Iterable[str] = ()) -> Abstracted:
    """Replace the mentions in a command with typed slots.

    "put the red block on the top left corner" becomes "put {block1} on {location}" with
    slots {"block1": "red block", "location": "top left corner"}.

    Args:
        command: The raw command (any text; it is only tokenised, never executed).
        extra_colors: Colour words of the current scene, besides the built-in ones.

    Returns:
        The abstracted tokens and the slot values. Values are always built from the fixed
        vocabulary (or a purely alphabetic scene colour), never copied from free text.
    """
    colors = set(CAP_COLORS) | set(_EXTRA_COLORS) | set(_COLOR_SYNONYMS)
    colors |= {c for c in extra_colors if re.fullmatch(r"[a-z]+", c)}
    words = _rewrite_on_top_of(_words(command))
    tokens: list[str] = []
    slots: dict[str, str] = {}
    object_slots: dict[str, str] = {}  # value -> slot name, so a repeated mention reuses its slot
    counters: Counter[str] = Counter()

    def add_slot(kind: str, value: str, numbered: bool) -> None:
        if numbered:
            if value not in object_slots:
                counters[kind] += 1
                object_slots[value] = f"{kind}{counters[kind]}"
                slots[object_slots[value]] = value
            tokens.append("{" + object_slots[value] + "}")
            return
        counters[kind] += 1
        name = kind if counters[kind] == 1 else f"{kind}{counters[kind]}"
        slots[name] = value
        tokens.append("{" + name + "}")

    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in colors and nxt in ("block", "cube", "bowl", "landmark", "post"):
            colour = _COLOR_SYNONYMS.get(w, w)
            kind = {"bowl": "bowl", "landmark": "landmark", "post": "landmark"}.get(nxt, "block")
            third = words[i + 2] if i + 2 < len(words) else ""
            # A second object of the same colour and kind is named "<colour> <kind> 2".
            if len(third) == 1 and third in "23456789":
                add_slot(kind, f"{colour} {kind} {third}", numbered=True)
                i += 3
                continue
            add_slot(kind, f"{colour} {kind}", numbered=True)
            i += 2
            continue
        matched = False
        phrases: tuple[tuple[dict[tuple[str, ...], str], str], ...] = (
            (_LOCATIONS, "location"),
            (_MAGNITUDES, "magnitude"),
        )
        for table, kind in phrases:
            for phrase, value in sorted(table.items(), key=lambda kv: -len(kv[0])):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    add_slot(kind, value, numbered=False)
                    i += len(phrase)
                    matched = True
                    break
            if matched:
                break
        if matched:
            continue
        single: tuple[tuple[dict[str, str], str], ...] = (
            (_DISTANCES, "distance"),
            (_NTHS, "nth"),
            (_LINES, "line"),
            (_DIRECTIONS, "direction"),
        )
        for words_table, kind in single:
            if w in words_table:
                add_slot(kind, words_table[w], numbered=False)
                matched = True
                break
        if not matched:
            tokens.append(w)
        i += 1
    return Abstracted(tokens=_finish(tokens), slots=slots)


def slot_names_of(tokens: Sequence[str]) -> frozenset[str]:
    """The slot names that occur in normalised tokens ("{block1}" -> "block1")."""
    return frozenset(t[1:-1] for t in tokens if _SLOT_TOKEN_RE.match(t))


def placeholders_of(template: str) -> set[str]:
    """The slot placeholders a code or check template uses ("{block1}" -> "block1")."""
    return set(PLACEHOLDER_RE.findall(template))


def _features(tokens: Sequence[str]) -> Counter[str]:
    feats: Counter[str] = Counter(tokens)
    feats.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    return feats


def _trigrams(tokens: Sequence[str]) -> Counter[str]:
    text = " " + " ".join(tokens) + " "
    return Counter(text[i : i + 3] for i in range(len(text) - 2))


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


class SimilarityIndex:
    """TF-IDF cosine over word unigrams + bigrams, blended with character-trigram cosine.

    The word part rewards the right content words ("stack", "matching", "line") and word order
    (bigrams); IDF discounts the words every template shares ("put", "blocks", "{location}").
    The trigram part forgives inflections and small typos ("stacking", "colurs") that the
    word part misses. Query words unseen in the corpus get the maximal IDF, so a command full of
    unknown words ("sing me a song") scores near zero instead of matching on "me" or "a".
    """

    #: Weight of the word TF-IDF cosine; the trigram cosine gets the rest.
    WORD_WEIGHT = 0.7

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        """Index the token sequences of the stored command templates."""
        self._n = len(documents)
        df: Counter[str] = Counter()
        feats = [_features(d) for d in documents]
        for f in feats:
            df.update(f.keys())
        self._df = df
        self._doc_vecs = [self._weigh(f) for f in feats]
        self._doc_tri = [self._tri_vec(d) for d in documents]

    def _idf(self, feature: str) -> float:
        # Smoothed IDF (as in scikit-learn): never zero, maximal for unseen features.
        return math.log((1 + self._n) / (1 + self._df.get(feature, 0))) + 1.0

    def _weigh(self, feats: Counter[str]) -> dict[str, float]:
        return {k: (1.0 + math.log(v)) * self._idf(k) for k, v in feats.items()}

    @staticmethod
    def _tri_vec(tokens: Sequence[str]) -> dict[str, float]:
        return {k: float(v) for k, v in _trigrams(tokens).items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        """Similarity in [0, 1] of the query tokens to every indexed document, in order."""
        q_vec = self._weigh(_features(query))
        q_tri = self._tri_vec(query)
        w = self.WORD_WEIGHT
        return [
            w * _cosine(q_vec, dv) + (1.0 - w) * _cosine(q_tri, dt)
            for dv, dt in zip(self._doc_vecs, self._doc_tri, strict=True)
        ]
