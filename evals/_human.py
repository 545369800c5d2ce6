"""A simulated person with a hidden goal who watches the world and corrects the robot.

The person knows where they really want the object (a :class:`HiddenGoal`, which the command
only approximates), looks at the ground truth, classifies what is wrong (the object is on a
different target, a few centimetres off, or dropped somewhere else) and says the scripted
sentence for that kind of deviation, up to ``max_corrections`` times: while the robot works
through the live channel (:class:`LiveWatcher`, ``Engine.post_correction``), and after the task
is done through :meth:`Engine.correct` on the finished thread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from policywright.errors import UserError
from policywright.evals._checkers import goal_point, on_top_of, true_positions
from policywright.evals._schema import CorrectionScript
from policywright.sim import LOCATIONS

__all__ = [
    "CorrectionSession",
    "Deviation",
    "LiveWatcher",
    "SimulatedHuman",
    "direction_word",
    "resolve_script",
]

logger = logging.getLogger(__name__)

#: Further than this from the goal, and on no other target: the object was dropped.
DROPPED_M: Final = 0.10


@dataclass(frozen=True)
class Deviation:
    """What the person sees wrong: its kind, the sentence they say, the error (m)."""

    kind: str
    text: str
    error_m: float


@dataclass
class CorrectionSession:
    """The corrections of one episode: the engine's results after each, what was said.

    Attributes:
        results: The engine's results of the corrections made after the task finished.
        corrections: Every correction said (while the robot worked, and afterwards).
        live: Of those, the ones said while the robot worked (``Engine.post_correction``).
        said: The sentences, in order.
        satisfied: The hidden goal was met in the end.
    """

    results: list[Any] = field(default_factory=list)
    corrections: int = 0
    live: int = 0
    said: list[str] = field(default_factory=list)
    satisfied: bool = False


def resolve_script(script: CorrectionScript, slots: Mapping[str, str]) -> CorrectionScript:
    """The script with the goal's ``{slot}`` references filled from the episode's slots."""
    goal = script.goal.model_copy(
        update={
            "object": script.goal.object.format(**slots),
            "target": script.goal.target.format(**slots),
        }
    )
    return script.model_copy(update={"goal": goal})


def direction_word(dx: float, dy: float) -> str:
    """The way to move, as the person says it (top = +x, left = +y), from an xy error."""
    if abs(dx) >= abs(dy):
        return "top" if dx > 0 else "bottom"
    return "left" if dy > 0 else "right"


class SimulatedHuman:
    """The person of a :class:`CorrectionScript`.

    Args:
        script: Hidden goal, rules (deviation kind -> sentence) and patience.
    """

    def __init__(self, script: CorrectionScript) -> None:
        self.script = script

    def _other_target(self, poses: Mapping[str, tuple[float, float, float]]) -> str | None:
        goal = self.script.goal
        candidates = [n for n in poses if n.endswith((" bowl", " block")) and n != goal.object]
        candidates += list(LOCATIONS)
        for name in candidates:
            if name != goal.target and on_top_of(poses, goal.object, name)[0]:
                return name
        return None

    def deviation(self, poses: Mapping[str, tuple[float, float, float]]) -> Deviation | None:
        """What is wrong in this world state (None when the person is satisfied).

        Args:
            poses: True object positions.
        """
        goal = self.script.goal
        point = goal_point(poses, goal.target, goal.offset)
        if point is None or goal.object not in poses:
            return Deviation("dropped", "", math.inf)
        pos = poses[goal.object]
        dx, dy = point[0] - pos[0], point[1] - pos[1]
        err = math.hypot(dx, dy)
        if err <= goal.tolerance_m:
            return None
        other = self._other_target(poses)
        if other is not None and other not in LOCATIONS:
            kind = "wrong_target"
        elif err > DROPPED_M and other is None:
            kind = "dropped"
        else:
            kind = "off_target"
        values = {"object": goal.object, "target": goal.target, "direction": direction_word(dx, dy)}
        for rule in self.script.rules:
            if rule.when == kind:
                return Deviation(kind, rule.say.format(**values), err)
        return Deviation(kind, "", err)

    def watcher(self, engine: Any, world: Any, session: CorrectionSession) -> LiveWatcher:
        """A call hook with which the person watches while the robot works (see LiveWatcher)."""
        return LiveWatcher(self, engine, world, session)

    def correct_until_satisfied(
        self,
        engine: Any,
        world: Any,
        thread_id: str,
        session: CorrectionSession | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> CorrectionSession:
        """Watch the finished task and correct it until satisfied or out of patience.

        Args:
            engine: The engine that ran the task (its world is ``world``).
            world: The world (read for ground truth only).
            thread_id: The task's thread.
            session: The session begun while the robot worked (its live corrections count
                against the patience); a new one when None.
            on_event: Progress events of the corrected runs.
        """
        session = CorrectionSession() if session is None else session
        while True:
            dev = self.deviation(true_positions(world))
            if dev is None:
                session.satisfied = True
                return session
            if session.corrections >= self.script.max_corrections or not dev.text:
                return session
            session.said.append(dev.text)
            session.corrections += 1
            try:
                session.results.append(engine.correct(thread_id, dev.text, on_event=on_event))
            except UserError as exc:
                # The engine did not understand the sentence: the person has no other words.
                logger.info("correction %r refused: %s", dev.text, exc)
                session.said[-1] += f" (refused: {exc})"
                return session


class LiveWatcher:
    """The person watching the robot work, as an ``Engine.call_hooks`` entry.

    When a primitive call that moved the goal object ends, the person looks (ground truth) and,
    if the object is not where they want it, says the scripted sentence through
    ``Engine.post_correction``, the channel a chat or web front end uses. The engine takes it at
    the next primitive boundary, or after the program's last call. The person waits until the
    robot has taken one sentence before saying another.

    Args:
        human: The person (script and deviation rules).
        engine: The engine running the task.
        world: Its world (read for ground truth only).
        session: Where the corrections are counted.
    """

    def __init__(
        self, human: SimulatedHuman, engine: Any, world: Any, session: CorrectionSession
    ) -> None:
        self.human = human
        self.engine = engine
        self.world = world
        self.session = session

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") != "call" or not event.get("ok", True):
            return
        args = event.get("args") or []
        if not args or args[0] != self.human.script.goal.object:
            return
        if self.session.corrections >= self.human.script.max_corrections:
            return
        if self.engine.channel.pending():
            return
        dev = self.human.deviation(true_positions(self.world))
        if dev is None or not dev.text:
            return
        ack = self.engine.post_correction(dev.text)
        if ack.accepted:
            self.session.said.append(dev.text)
            self.session.corrections += 1
            self.session.live += 1
        else:
            logger.info("live correction %r not taken: %s", dev.text, ack.message)
