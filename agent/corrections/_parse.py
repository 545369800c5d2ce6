"""TEMPORARY placeholder written by the lead so the engine imports; the parser engineer replaces
this whole file with the real parser (same API)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policywright.errors import UserError

CorrectionKind = Literal["stop", "continue", "undo", "nudge", "rotate", "speed", "replan"]


class CorrectionParseError(UserError):
    """Placeholder."""


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    kind: CorrectionKind
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotate_deg: float = 0.0
    speed_scale: float = 1.0
    magnitude: str | None = None
    object: str | None = None
    colour: str | None = None
    kind_word: Literal["block", "bowl"] | None = None
    other: bool = False
    retry: bool = False

    @property
    def fine(self) -> bool:
        return self.kind != "replan"


def parse_correction(text: str) -> Correction:
    t = " ".join(str(text).split())
    low = t.lower().strip("!. ")
    if not low or not re.search("[a-z]", low) or len(t) > 300:
        raise CorrectionParseError(f"cannot understand {text!r}")
    if low in ("stop", "halt"):
        return Correction(text=t, kind="stop")
    if low in ("continue", "go on"):
        return Correction(text=t, kind="continue")
    if low in ("undo", "undo that"):
        return Correction(text=t, kind="undo")
    if "slower" in low:
        return Correction(text=t, kind="speed", speed_scale=0.5)
    if "left" in low:
        return Correction(text=t, kind="nudge", offset=(0.0, 0.02, 0.0), magnitude="small")
    m = re.search(r"the (\w+) (block|bowl)", low)
    if m:
        return Correction(text=t, kind="replan", object=f"{m.group(1)} {m.group(2)}")
    if "asdf" in low:
        raise CorrectionParseError("cannot understand")
    return Correction(text=t, kind="replan")
