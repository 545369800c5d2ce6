"""The offline correction parser: phrase families, the frame, magnitudes, errors, hostile text."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from policywright.agent.corrections._parse import (
    MAGNITUDE_M,
    MAX_OFFSET_M,
    MAX_ROTATE_DEG,
    ROTATION_DEG,
    SPEED_FACTORS,
    Correction,
    CorrectionParseError,
    parse_correction,
)
from policywright.errors import UserError
from policywright.sim import COLORS

DOC = Path(__file__).resolve().parents[3] / "docs" / "corrections.md"

SMALL, MED, LARGE, TINY = 0.02, 0.04, 0.08, 0.005

# (text, expected fields). Offsets are (x away from the robot, y to its left, z up) in metres.
CASES: list[tuple[str, dict[str, Any]]] = [
    # --- nudges: the frame --------------------------------------------------------------------
    ("a bit to the left", {"kind": "nudge", "offset": (0, SMALL, 0), "magnitude": "small"}),
    ("a bit more to the left", {"kind": "nudge", "offset": (0, SMALL, 0), "magnitude": "small"}),
    ("left", {"kind": "nudge", "offset": (0, MED, 0), "magnitude": "medium"}),
    ("to the left", {"kind": "nudge", "offset": (0, MED, 0), "magnitude": "medium"}),
    ("more to the left", {"kind": "nudge", "offset": (0, MED, 0), "magnitude": "medium"}),
    ("right a bit", {"kind": "nudge", "offset": (0, -SMALL, 0)}),
    ("slightly to the right", {"kind": "nudge", "offset": (0, -SMALL, 0)}),
    ("higher", {"kind": "nudge", "offset": (0, 0, MED), "magnitude": "medium"}),
    ("up", {"kind": "nudge", "offset": (0, 0, MED)}),
    ("raise it a little", {"kind": "nudge", "offset": (0, 0, SMALL)}),
    ("lift it up a little", {"kind": "nudge", "offset": (0, 0, SMALL)}),  # said twice, once
    ("lower", {"kind": "nudge", "offset": (0, 0, -MED)}),
    ("a little lower please", {"kind": "nudge", "offset": (0, 0, -SMALL)}),
    ("down a bit", {"kind": "nudge", "offset": (0, 0, -SMALL)}),
    ("forward", {"kind": "nudge", "offset": (MED, 0, 0)}),
    ("further", {"kind": "nudge", "offset": (MED, 0, 0)}),
    ("farther away", {"kind": "nudge", "offset": (MED, 0, 0)}),
    ("a lot further back", {"kind": "nudge", "offset": (LARGE, 0, 0), "magnitude": "large"}),
    ("towards the top", {"kind": "nudge", "offset": (MED, 0, 0)}),
    ("away from the robot", {"kind": "nudge", "offset": (MED, 0, 0)}),
    ("closer", {"kind": "nudge", "offset": (-MED, 0, 0)}),
    ("a bit nearer", {"kind": "nudge", "offset": (-SMALL, 0, 0)}),
    ("towards me", {"kind": "nudge", "offset": (-MED, 0, 0)}),
    ("toward the robot a bit", {"kind": "nudge", "offset": (-SMALL, 0, 0)}),
    ("closer to you", {"kind": "nudge", "offset": (-MED, 0, 0)}),
    ("to the front", {"kind": "nudge", "offset": (-MED, 0, 0)}),
    ("towards the bottom", {"kind": "nudge", "offset": (-MED, 0, 0)}),
    # --- magnitudes ---------------------------------------------------------------------------
    ("a tiny bit to the left", {"kind": "nudge", "offset": (0, TINY, 0), "magnitude": "tiny"}),
    ("a hair lower", {"kind": "nudge", "offset": (0, 0, -TINY), "magnitude": "tiny"}),
    ("a touch to the right", {"kind": "nudge", "offset": (0, -TINY, 0), "magnitude": "tiny"}),
    ("barely closer", {"kind": "nudge", "offset": (-TINY, 0, 0), "magnitude": "tiny"}),
    ("a little bit to the left", {"kind": "nudge", "offset": (0, SMALL, 0), "magnitude": "small"}),
    ("much higher", {"kind": "nudge", "offset": (0, 0, LARGE), "magnitude": "large"}),
    ("way up", {"kind": "nudge", "offset": (0, 0, LARGE), "magnitude": "large"}),
    ("far more to the left", {"kind": "nudge", "offset": (0, LARGE, 0), "magnitude": "large"}),
    ("a lot to the right", {"kind": "nudge", "offset": (0, -LARGE, 0), "magnitude": "large"}),
    ("3 cm to the left", {"kind": "nudge", "offset": (0, 0.03, 0), "magnitude": "explicit"}),
    ("2.5 centimetres higher", {"kind": "nudge", "offset": (0, 0, 0.025)}),
    ("2,5 cm higher", {"kind": "nudge", "offset": (0, 0, 0.025)}),
    ("10 mm closer", {"kind": "nudge", "offset": (-0.01, 0, 0)}),
    ("0.03 m forward", {"kind": "nudge", "offset": (0.03, 0, 0)}),
    ("3cm left", {"kind": "nudge", "offset": (0, 0.03, 0)}),
    ("move it left by 4 centimeters", {"kind": "nudge", "offset": (0, 0.04, 0)}),
    ("two centimetres further back", {"kind": "nudge", "offset": (0.02, 0, 0)}),
    ("half a centimetre down", {"kind": "nudge", "offset": (0, 0, -0.005)}),
    ("an inch to the right", {"kind": "nudge", "offset": (0, -0.0254, 0)}),
    ("50 cm to the left", {"kind": "nudge", "offset": (0, MAX_OFFSET_M, 0)}),  # clamped
    # --- combined -----------------------------------------------------------------------------
    ("a bit to the left and further back", {"kind": "nudge", "offset": (SMALL, SMALL, 0)}),
    ("a bit to the left and a lot further back", {"kind": "nudge", "offset": (LARGE, SMALL, 0)}),
    ("up and to the left a bit", {"kind": "nudge", "offset": (0, SMALL, SMALL)}),
    ("2 cm left 1 cm up", {"kind": "nudge", "offset": (0, 0.02, 0.01)}),
    ("left, then a bit higher", {"kind": "nudge", "offset": (0, SMALL, SMALL)}),
    ("not left, right", {"kind": "nudge", "offset": (0, -MED, 0)}),
    ("it's too far left", {"kind": "nudge", "offset": (0, -SMALL, 0), "magnitude": "small"}),
    ("too high", {"kind": "nudge", "offset": (0, 0, -SMALL)}),
    ("that's too close", {"kind": "nudge", "offset": (SMALL, 0, 0)}),
    ("go back a bit", {"kind": "nudge", "offset": (SMALL, 0, 0)}),
    ("no, a bit more to the left", {"kind": "nudge", "offset": (0, SMALL, 0)}),
    ("ok, now a little to the right please", {"kind": "nudge", "offset": (0, -SMALL, 0)}),
    ("try again a bit to the left", {"kind": "nudge", "offset": (0, SMALL, 0)}),
    # a self-repair replaces what came before it
    ("a bit to the left, no wait, to the right", {"kind": "nudge", "offset": (0, -MED, 0)}),
    ("a bit to the left, I mean a bit higher", {"kind": "nudge", "offset": (0, 0, SMALL)}),
    ("the red one, sorry, the blue one", {"kind": "replan", "colour": "blue"}),
    ("slower, no, stop", {"kind": "stop"}),
    # --- rotation -----------------------------------------------------------------------------
    ("rotate it a little", {"kind": "rotate", "rotate_deg": 10.0, "magnitude": "small"}),
    ("rotate it", {"kind": "rotate", "rotate_deg": 20.0, "magnitude": "medium"}),
    ("turn it clockwise", {"kind": "rotate", "rotate_deg": -20.0}),
    ("turn it counter-clockwise a tiny bit", {"kind": "rotate", "rotate_deg": 5.0}),
    ("rotate it anticlockwise a lot", {"kind": "rotate", "rotate_deg": 45.0}),
    ("rotate it left", {"kind": "rotate", "rotate_deg": 20.0}),
    ("turn it a bit to the right", {"kind": "rotate", "rotate_deg": -10.0}),
    ("rotate it 30 degrees", {"kind": "rotate", "rotate_deg": 30.0, "magnitude": "explicit"}),
    ("rotate 30° clockwise", {"kind": "rotate", "rotate_deg": -30.0}),
    ("rotate it 200 degrees", {"kind": "rotate", "rotate_deg": MAX_ROTATE_DEG}),  # clamped
    ("a quarter turn clockwise", {"kind": "rotate", "rotate_deg": -90.0}),
    # --- speed --------------------------------------------------------------------------------
    ("slower", {"kind": "speed", "speed_scale": 0.5, "magnitude": "medium"}),
    ("slow down", {"kind": "speed", "speed_scale": 0.5}),
    ("slow it down a bit", {"kind": "speed", "speed_scale": 0.75}),
    ("a bit slower", {"kind": "speed", "speed_scale": 0.75, "magnitude": "small"}),
    ("much slower", {"kind": "speed", "speed_scale": 0.25, "magnitude": "large"}),
    ("faster", {"kind": "speed", "speed_scale": 1.5}),
    ("a bit faster", {"kind": "speed", "speed_scale": 1.25}),
    ("speed up", {"kind": "speed", "speed_scale": 1.5}),
    ("not so fast", {"kind": "speed", "speed_scale": 0.5}),
    ("you're going too fast", {"kind": "speed", "speed_scale": 0.5}),
    ("lower the speed", {"kind": "speed", "speed_scale": 0.5}),
    ("half speed", {"kind": "speed", "speed_scale": 0.5, "magnitude": "explicit"}),
    ("continue but slower", {"kind": "speed", "speed_scale": 0.5}),
    # --- stop / continue / undo ---------------------------------------------------------------
    ("stop", {"kind": "stop"}),
    ("stop!", {"kind": "stop"}),
    ("STOP", {"kind": "stop"}),
    ("halt", {"kind": "stop"}),
    ("freeze", {"kind": "stop"}),
    ("wait", {"kind": "stop"}),
    ("wait a second", {"kind": "stop"}),
    ("hold on", {"kind": "stop"}),
    ("Stop moving it to the left!", {"kind": "stop"}),  # "stop" anywhere wins
    ("don't move", {"kind": "stop"}),
    ("continue", {"kind": "continue"}),
    ("go on", {"kind": "continue"}),
    ("carry on", {"kind": "continue"}),
    ("resume", {"kind": "continue"}),
    ("keep going", {"kind": "continue"}),
    ("ok go", {"kind": "continue"}),
    ("don't stop", {"kind": "continue"}),
    ("that's right", {"kind": "continue"}),
    ("you're right", {"kind": "continue"}),  # "right" = correct, not a direction
    ("right, go on", {"kind": "continue"}),
    ("right", {"kind": "nudge", "offset": (0, -MED, 0)}),
    ("undo", {"kind": "undo"}),
    ("undo that", {"kind": "undo"}),
    ("go back", {"kind": "undo"}),
    ("revert", {"kind": "undo"}),
    ("put it back", {"kind": "undo"}),
    ("put it back where it was", {"kind": "undo"}),
    # --- high level: slot edits the offline planner can apply ---------------------------------
    ("no, the blue one", {"kind": "replan", "colour": "blue", "object": None, "kind_word": None}),
    ("the red one", {"kind": "replan", "colour": "red"}),
    ("wait, no, the blue one", {"kind": "replan", "colour": "blue"}),
    ("not the red one, the blue one", {"kind": "replan", "colour": "blue"}),
    ("no, the green bowl", {"kind": "replan", "object": "green bowl", "colour": None}),
    ("I meant the green bowl", {"kind": "replan", "object": "green bowl"}),
    ("use the green bowl", {"kind": "replan", "object": "green bowl", "kind_word": "bowl"}),
    ("no, the grey bowl", {"kind": "replan", "object": "gray bowl"}),
    ("put it on the blue block instead", {"kind": "replan", "object": "blue block"}),
    ("the yellow cube", {"kind": "replan", "object": "yellow block"}),
    ("the green bowl not the red bowl", {"kind": "replan", "object": "green bowl"}),
    ("put it in the other bowl", {"kind": "replan", "other": True, "kind_word": "bowl"}),
    ("the other one", {"kind": "replan", "other": True, "kind_word": None}),
    ("another block", {"kind": "replan", "other": True, "kind_word": "block"}),
    ("you dropped it", {"kind": "replan", "retry": True}),
    ("it fell", {"kind": "replan", "retry": True}),
    ("try again", {"kind": "replan", "retry": True}),
    ("you didn't grab it", {"kind": "replan", "retry": True}),
    ("give it another try", {"kind": "replan", "retry": True}),
    # --- re-plan with nothing structured: an LLM is needed --------------------------------------
    ("put it next to the cup instead", {"kind": "replan"}),
    ("please move that", {"kind": "replan"}),
    ("no", {"kind": "replan"}),
    ("the bowl on the left", {"kind": "replan"}),
    ("a bit to the left of the blue bowl", {"kind": "replan"}),
    ("put it in front of the red block", {"kind": "replan"}),
    ("the blue cup", {"kind": "replan"}),
    ("the other way", {"kind": "replan"}),
    ("you went too far", {"kind": "replan"}),
    ("that's not right", {"kind": "replan"}),
    ("don't go left", {"kind": "replan"}),
    ("pick it up", {"kind": "replan"}),
    ("put it down", {"kind": "replan"}),
    ("rotate it back", {"kind": "replan"}),
    ("a bit", {"kind": "replan"}),
    ("a bit to the lfet", {"kind": "replan"}),  # a typo is not guessed at
    ("you left it there", {"kind": "replan"}),  # "left" the verb
]

_EMPTY_FIELDS = {"object": None, "colour": None, "kind_word": None, "other": False, "retry": False}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_phrasings(text: str, expected: dict[str, Any]) -> None:
    c = parse_correction(text)
    assert c.text == " ".join(text.split())
    for key, want in expected.items():
        got = getattr(c, key)
        if key == "offset":
            assert got == pytest.approx(want, abs=1e-9), key
        elif isinstance(want, float):
            assert got == pytest.approx(want), key
        else:
            assert got == want, key
    if c.kind != "nudge":
        assert c.offset == (0.0, 0.0, 0.0)
    if c.kind != "rotate":
        assert c.rotate_deg == 0.0
    if c.kind != "speed":
        assert c.speed_scale == 1.0
    if c.kind != "replan":
        assert {k: getattr(c, k) for k in _EMPTY_FIELDS} == _EMPTY_FIELDS
        assert c.fine
    else:
        assert not c.fine


@pytest.mark.parametrize(
    "text",
    [
        "put it next to the cup instead",
        "please move that",
        "no",
        "the bowl on the left",
        "you went too far",
        "a bit",
    ],
)
def test_unmappable_replans_carry_no_structured_fields(text: str) -> None:
    c = parse_correction(text)
    assert c.kind == "replan"
    assert {k: getattr(c, k) for k in _EMPTY_FIELDS} == _EMPTY_FIELDS


@pytest.mark.parametrize("colour", sorted(COLORS))
@pytest.mark.parametrize("kind", ["block", "bowl"])
def test_every_cap_colour_and_kind(colour: str, kind: str) -> None:
    assert parse_correction(f"no, the {colour} {kind}").object == f"{colour} {kind}"
    assert parse_correction(f"No, the {colour.upper()} one!").colour == colour


def test_whitespace_is_collapsed_and_case_ignored() -> None:
    c = parse_correction("  A   BIT\tto the\nLEFT  ")
    assert c.text == "A BIT to the LEFT"
    assert c.offset == pytest.approx((0.0, SMALL, 0.0))


ERRORS: list[tuple[str, str]] = [
    ("", "empty"),
    ("   \t\n ", "empty"),
    ("x" * 301, "longer than 300"),
    ("left " * 61, "longer than 300"),
    ("!!! ???", "no words"),
    ("12345", "no words"),
    ("asdf qwer", "no word in it is one I know"),
    ("日本語", "no word in it is one I know"),
    ("-3 cm to the left", "not a possible amount"),
    ("nan cm to the left", "not a possible amount"),
    ("inf mm higher", "not a possible amount"),
    ("minus 3 cm left", "not a possible amount"),
    ("0 cm left", "not a possible amount"),
    ("1e400 cm left", "not a possible amount"),
    ("0.00001 mm left", "too small to act on"),
    ("move it 3 to the left", "needs a unit"),
    ("3 cm", "which way"),
    ("left right", "cancel out"),
    ("rotate it and move it left", "one correction at a time"),
    ("a bit to the left and slower", "one correction at a time"),
    ("rotate it up", "one correction at a time"),
    ("turn it 3 cm", "degrees, not cm"),
    ("30 degrees higher", "one correction at a time"),
    ("slower and faster", "both slower and faster"),
    ("turn it clockwise to the left", "both clockwise and counter-clockwise"),
    ("2 cm slower", "takes no distance"),
]


@pytest.mark.parametrize(("text", "reason"), ERRORS, ids=[e[0][:30] for e in ERRORS])
def test_errors_say_why_and_what_is_understood(text: str, reason: str) -> None:
    with pytest.raises(CorrectionParseError) as info:
        parse_correction(text)
    message = str(info.value)
    assert reason in message
    assert "'a bit to the left'" in message and "'stop'" in message  # the examples
    assert "docs/corrections.md" in message
    assert len(message) < 800  # a hostile 300-char text is not echoed in full
    assert isinstance(info.value, UserError) and info.value.actor == "user"


def test_non_text_is_refused() -> None:
    with pytest.raises(CorrectionParseError):
        parse_correction(None)  # type: ignore[arg-type]


def test_documented_tables() -> None:
    assert dict(MAGNITUDE_M) == {"tiny": 0.005, "small": 0.02, "medium": 0.04, "large": 0.08}
    assert dict(ROTATION_DEG) == {"tiny": 5.0, "small": 10.0, "medium": 20.0, "large": 45.0}
    assert SPEED_FACTORS["slower"] == 0.5 and SPEED_FACTORS["a bit slower"] == 0.75
    assert SPEED_FACTORS["much slower"] == 0.25 and SPEED_FACTORS["faster"] == 1.5
    assert SPEED_FACTORS["a bit faster"] == 1.25
    # Every speed phrase is itself understood with the factor it names.
    for phrase, factor in SPEED_FACTORS.items():
        assert parse_correction(phrase).speed_scale == factor, phrase


def test_the_doc_page_matches_the_tables() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for mag, metres in MAGNITUDE_M.items():
        row = re.search(rf"^\| {mag} \|.*$", doc, re.MULTILINE)
        assert row is not None, mag
        assert f"{metres * 100:g} cm" in row.group(), row.group()
        assert f"{ROTATION_DEG[mag]:g}°" in row.group(), row.group()
    for phrase, factor in SPEED_FACTORS.items():
        assert re.search(rf"\| {re.escape(phrase)} \| {factor:g} \|", doc), phrase
    assert "## How the engine applies them" in doc


def test_the_model_refuses_impossible_numbers_from_anywhere() -> None:
    # A correction also comes back from checkpoints and the journal as JSON.
    ok = parse_correction("a bit to the left").model_dump(mode="json")
    assert Correction.model_validate(ok) == parse_correction("a bit to the left")
    for bad in (
        {"offset": [math.nan, 0.0, 0.0]},
        {"offset": [1.0, 0.0, 0.0]},
        {"rotate_deg": 720.0},
        {"speed_scale": 50.0},
        {"speed_scale": 0.0},
        {"colour_name": "blue"},
    ):
        with pytest.raises(ValidationError):
            Correction.model_validate({**ok, **bad})
    with pytest.raises(ValidationError):
        parse_correction("stop").model_copy(update={}).__setattr__("kind", "undo")


# --- hostile text ---------------------------------------------------------------------------

_WORDS = [
    "a", "bit", "little", "tiny", "lot", "way", "far", "much", "more", "too", "so", "not",
    "don't", "no", "left", "right", "up", "down", "higher", "lower", "further", "back",
    "closer", "toward", "me", "rotate", "turn", "clockwise", "counter", "slower", "faster",
    "slow", "speed", "stop", "wait", "continue", "go", "on", "undo", "put", "it", "other",
    "one", "the", "blue", "grey", "bowl", "block", "dropped", "again", "try", "and", "then",
    ",", "!", "3", "-3", "2.5", "1e9", "nan", "cm", "mm", "m", "degrees", "°", "half",
    "next", "cup", "of", "asdf", "€", "\u202e", "\x00",
]  # fmt: skip


def _check(text: str) -> None:
    try:
        c = parse_correction(text)
    except CorrectionParseError:
        return
    assert all(math.isfinite(v) for v in (*c.offset, c.rotate_deg, c.speed_scale))
    assert math.hypot(*c.offset) <= MAX_OFFSET_M + 1e-6
    assert abs(c.rotate_deg) <= MAX_ROTATE_DEG
    assert min(SPEED_FACTORS.values()) <= c.speed_scale <= max(SPEED_FACTORS.values())
    assert c.fine == (c.kind != "replan")
    assert (c.kind == "nudge") == (c.offset != (0.0, 0.0, 0.0))
    if c.object is not None:
        colour, kind = c.object.split()
        assert colour in COLORS and kind in ("block", "bowl")
    if c.colour is not None:
        assert c.colour in COLORS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text_never_breaks_the_parser(text: str) -> None:
    _check(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=40))
def test_arbitrary_word_salad_never_breaks_the_parser(words: list[str]) -> None:
    _check(" ".join(words))


@pytest.mark.timeout(20)  # catastrophic backtracking would take astronomically longer
@pytest.mark.parametrize(
    "text",
    [
        "1" * 300,
        "1." * 150,
        "1,1" * 100,
        "a'" * 150,
        "-1e" * 100,
        "left " * 60,
        "a bit " * 50,
        "too far " * 37,
        "not so " * 42,
        "the other " * 30,
        "3 cm " * 60,
        "°" * 300,
    ],
)
def test_adversarial_300_char_strings_are_linear(text: str) -> None:
    for _ in range(50):
        _check(text[:300])
