"""Text normalisation: contractions, case, apostrophes, spelled numbers, spellings.

Hand-written rather than a library: the vocabulary is small and closed (English command words
a robot tabletop needs), and the libraries that exist for this (contractions, word2number)
either pull large dependency trees or guess at ambiguous contractions ("he'd") that commands
never contain. The tables here are the whole behaviour, and each entry is tested.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

__all__ = ["normalise_text"]

_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})

_CONTRACTIONS: Final = MappingProxyType(
    {
        "can't": "cannot",
        "won't": "will not",
        "shan't": "shall not",
        "it's": "it is",
        "that's": "that is",
        "there's": "there is",
        "what's": "what is",
        "here's": "here is",
        "let's": "let us",
        "i'm": "i am",
        "you're": "you are",
        "we're": "we are",
        "they're": "they are",
        "i've": "i have",
        "you've": "you have",
        "we've": "we have",
        "i'll": "i will",
        "you'll": "you will",
        "it'll": "it will",
    }
)
# Any other "<word>n't" is "<word> not" (don't, doesn't, isn't, shouldn't, ...).
_NOT: Final = re.compile(r"\b([a-z]+)n't\b")
_CONTRACTION_RE: Final = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in _CONTRACTIONS) + r")(?![a-z])"
)

_NUMBERS: Final = MappingProxyType(
    {
        "zero": 0,
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "ten": 10,
        "eleven": 11,
        "twelve": 12,
        "fifteen": 15,
        "twenty": 20,
        "thirty": 30,
        "forty": 40,
        "fifty": 50,
    }
)
# Only a spelled number followed by a unit is a quantity ("ten centimetres"); "one" alone is
# often a pronoun ("the blue one") and stays a word.
_UNITS: Final = (
    r"(?:cm|mm|centimet(?:er|re)s?|millimet(?:er|re)s?|met(?:er|re)s?|inch(?:es)?|degrees?)"
)
_SPELLED_QUANTITY: Final = re.compile(
    r"\b(" + "|".join(_NUMBERS) + r")(?:[ -](one|two|three|four|five|six|seven|eight|nine))?"
    r"\s+(?=" + _UNITS + r"\b)"
)

#: British spellings -> the one spelling every parser's vocabulary uses.
_SPELLINGS: Final = MappingProxyType(
    {
        "colour": "color",
        "colours": "colors",
        "coloured": "colored",
        "grey": "gray",
        "centre": "center",
        "centres": "centers",
        "metre": "meter",
        "metres": "meters",
        "centimetre": "centimeter",
        "centimetres": "centimeters",
        "millimetre": "millimeter",
        "millimetres": "millimeters",
    }
)
_SPELLING_RE: Final = re.compile(r"\b(" + "|".join(_SPELLINGS) + r")\b")


def _quantity(m: re.Match[str]) -> str:
    value = _NUMBERS[m.group(1)] + (_NUMBERS[m.group(2)] if m.group(2) else 0)
    return f"{value} "


def normalise_text(text: str) -> str:
    """The text every parser reads: lower case, one space, contractions expanded.

    Also: typographic apostrophes as ``'``; spelled quantities as digits ("ten centimetres" ->
    "10 centimeters"); British spellings as American ones ("colour" -> "color"). Punctuation
    other than apostrophes is kept (parsers that split on it still can).

    Args:
        text: Any text (it is never executed).

    Returns:
        The normalised text.
    """
    out = " ".join(text.translate(_APOSTROPHES).lower().split())
    out = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], out)
    out = _NOT.sub(lambda m: f"{m.group(1)} not", out)
    out = _SPELLING_RE.sub(lambda m: _SPELLINGS[m.group(1)], out)
    return _SPELLED_QUANTITY.sub(_quantity, out)
