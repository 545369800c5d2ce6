"""The engine-side context every primitive receives as ``ctx`` (never visible to programs)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policywright.errors import PrimitiveError, UnknownObjectError

if TYPE_CHECKING:
    from policywright.sim import DetectedObject, TabletopWorld, World

__all__ = ["PrimitiveContext"]

logger = logging.getLogger(__name__)


def normalise_name(name: str) -> str:
    """Case, surrounding space, a leading "the" and underscores do not matter; nothing else."""
    text = " ".join(name.replace("_", " ").lower().split())
    return text[4:] if text.startswith("the ") else text


@dataclass
class PrimitiveContext:
    """What a primitive may touch: the world, the user-facing channel, the verdict sink.

    Detections are cached until an action changes the world, because rendering both cameras
    costs tens of milliseconds and a program asks for positions many times between moves.
    """

    world: World
    #: Skill selection: family ("grasp", "path", "locomotion", ...) -> versioned skill id.
    skills: Mapping[str, str] = field(default_factory=dict)
    say_sink: Callable[[str], None] = field(default=lambda msg: logger.info("robot says: %s", msg))
    verdicts: list[tuple[bool, str]] = field(default_factory=list)
    #: Detections from just before the current pick (None when nothing is held by a pick):
    #: a held object hides part of the scene, so placing resolves targets from this view.
    before_pick: dict[str, DetectedObject] | None = None
    _detections: dict[str, DetectedObject] | None = field(default=None, repr=False)

    @property
    def tabletop(self) -> TabletopWorld:
        """The world as a tabletop world (tabletop primitives only run in one)."""
        from policywright.sim import TabletopWorld

        if not isinstance(self.world, TabletopWorld):
            raise PrimitiveError(
                f"this primitive needs the tabletop world, not {self.world.kind!r}"
            )
        return self.world

    def skill_id(self, family: str, default: str) -> str:
        """The skill id configured for ``family``, else ``default``."""
        return self.skills.get(family, default)

    def detections(self) -> dict[str, DetectedObject]:
        """The objects the cameras see now (cached until :meth:`invalidate`)."""
        if self._detections is None:
            self._detections = self.world.detect()
        return self._detections

    def invalidate(self) -> None:
        """Forget cached detections: the world has changed."""
        self._detections = None

    def resolve(self, name: str) -> DetectedObject:
        """The detected object called ``name``.

        Raises:
            PrimitiveError: no such object (the message lists what is there).
        """
        found = self.detections()
        key = normalise_name(name)
        if key in found:
            return found[key]
        raise PrimitiveError(str(UnknownObjectError(name, list(found))))

    def say(self, msg: str) -> None:
        """Send a message to the user."""
        self.say_sink(msg)
