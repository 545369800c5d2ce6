"""OfflinePlanner: retrieval from program memory plus slot filling, no model needed."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable

from policywright.agent.planner._followup import (
    Followup,
    combine_checks,
    parse_followup,
    referred_turn,
    refers_to_earlier,
)
from policywright.agent.planner._text import (
    PLACEHOLDER_RE,
    abstract_command,
    slot_names_of,
    template_tokens,
)
from policywright.agent.planner.base import PlanContext, Program, SceneObject, SessionTurn
from policywright.agent.planner.memory import MemoryEntry, ProgramMemory, read_floor_seed_text
from policywright.errors import (
    EmptyCommandError,
    InternalError,
    PlannerCannotHandle,
    UnknownNameError,
    UnknownObjectError,
)

__all__ = ["DEFAULT_THRESHOLD", "DERIVED_SLOTS", "GUARD_WORDS", "OfflinePlanner", "fill_template"]

logger = logging.getLogger(__name__)

#: Minimum similarity for a memory entry to be used. Measured on the seed examples
#: (tests/agent/planner/test_retrieval.py): the 43 tested phrasings of known tasks, 20 of them
#: paraphrases not in examples.yaml, score >= 0.49 against the right family (weakest: "line the
#: blocks up diagonally"); unrelated commands score <= 0.18 ("throw the red block at me"). Commands
#: that differ from a template by one meaning-changing word can score high: see GUARD_WORDS.
DEFAULT_THRESHOLD = 0.45

_OBJECT_SLOT_RE = re.compile(r"^(block|bowl|landmark)[0-9]+$")
_TABLETOP_KINDS = frozenset({"block", "bowl", "shape"})
_FLOOR_KINDS = frozenset({"landmark", "box"})
_DIRECTION_VECTORS = {
    "top": (1.0, 0.0),
    "bottom": (-1.0, 0.0),
    "left": (0.0, 1.0),
    "right": (0.0, -1.0),
}
_NTH_INDEX = {"first": 0, "second": 1, "third": 2, "fourth": 3}
_MEMORY_ID = re.compile(r"\boffline:memory#(\d+)\b")
_WITH_A_MODEL = (
    "plan it with a model (--llm openai:<model>, anthropic:<model>, "
    "openai-compatible:<url>#<model> or hf:<path>)"
)
# Words that change what the command asks for. A template is only used if it contains every such
# word of the command: the lexical similarity alone would happily map "don't put X in Y", "is X in
# Y?" or "put X under Y" onto "put X in/on Y" (one differing word), and running half of "put X in Y
# and then stack them", or the opposite of what was asked, is worse than refusing.
GUARD_WORDS = frozenset(
    {
        # negation and exceptions
        "not", "don", "dont", "doesn", "never", "without", "except", "unless", "avoid", "no",
        # opposites of a stored task ("mismatched colours" must not become "matching colours")
        "mismatched", "mismatch", "unmatched", "different", "opposite", "wrong",
        # sequencing and repetition (the seed programs do one task)
        "then", "after", "before", "afterwards", "also", "twice", "again", "back", "undo",
        # questions: answer, don't act
        "is", "are", "what", "which", "where", "why", "how", "does", "do",
        # spatial relations the seed programs do not implement
        "under", "below", "beneath", "underneath", "behind", "front", "near", "next",
        "beside", "between", "around", "away", "off", "out", "circle", "square", "triangle",
        # verbs whose effect differs from pick-and-place
        "remove", "swap", "switch", "unstack", "scatter", "spread", "throw", "push", "knock",
        "hide", "rotate", "shake",
    }
)  # fmt: skip


def fill_template(template: str, slots: dict[str, str]) -> str:
    """Replace "{slot}" placeholders with Python string literals of the slot values.

    Values become ``repr(str)`` literals, so whatever they contain stays data: a value can never
    end the literal or add code.

    Args:
        template: A code or check template.
        slots: Slot name -> value.

    Returns:
        The filled program text.

    Raises:
        InternalError: The template uses a slot that has no value.
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in slots:
            raise InternalError(f"template slot {{{name}}} has no value")
        return repr(str(slots[name]))

    filled: str = PLACEHOLDER_RE.sub(sub, template)
    return filled


# -- derived slots: selections the check must know, computed from the scene at plan time --------
def _blocks(scene: list[SceneObject]) -> list[SceneObject]:
    return [o for o in scene if o.kind == "block"]


def _xy(obj: SceneObject) -> tuple[float, float]:
    return obj.position[0], obj.position[1]


def _by_name(scene: list[SceneObject], name: str) -> SceneObject:
    for o in scene:
        if o.name == name:
            return o
    raise UnknownObjectError(name, [o.name for o in scene])


def _pick_by_direction(scene: list[SceneObject], slots: dict[str, str]) -> str | None:
    # Same rule as the program: the block with the largest (along - across) among those along > 0.
    bx, by = _xy(_by_name(scene, slots["bowl1"]))
    sx, sy = _DIRECTION_VECTORS[slots["direction"]]
    best: tuple[float, str] | None = None
    for b in _blocks(scene):
        rx, ry = b.position[0] - bx, b.position[1] - by
        along, across = rx * sx + ry * sy, abs(rx * sy - ry * sx)
        if along > 0 and (best is None or along - across > best[0]):
            best = (along - across, b.name)
    return None if best is None else best[1]


def _pick_by_distance(scene: list[SceneObject], slots: dict[str, str]) -> str | None:
    bx, by = _xy(_by_name(scene, slots["bowl1"]))
    blocks = _blocks(scene)
    if not blocks:
        return None
    dists = [(math.hypot(b.position[0] - bx, b.position[1] - by), b.name) for b in blocks]
    chosen: tuple[float, str] = min(dists) if slots["distance"] == "closest" else max(dists)
    return chosen[1]


def _pick_nth(scene: list[SceneObject], slots: dict[str, str]) -> str | None:
    sx, sy = _DIRECTION_VECTORS[slots["direction"]]
    order = sorted((-(b.position[0] * sx + b.position[1] * sy), b.name) for b in _blocks(scene))
    index = _NTH_INDEX[slots["nth"]]
    return order[index][1] if index < len(order) else None


#: family -> (derived slot name, resolver). The program selects at run time (Code-as-Policies
#: style); the check runs after the block has moved, so it is told which block the selection
#: meant when the plan was made.
DERIVED_SLOTS: dict[str, tuple[str, Callable[[list[SceneObject], dict[str, str]], str | None]]] = {
    "pick_by_direction": ("picked_block", _pick_by_direction),
    "pick_by_distance": ("picked_block", _pick_by_distance),
    "pick_nth": ("picked_block", _pick_nth),
}


class OfflinePlanner:
    """Plans by retrieving a stored program template and filling its slots from the command.

    Deterministic: a retry (``ctx.attempt > 1``) gets the same program, so feedback cannot improve
    it; the caller should stop or switch to an LLM planner after an offline plan fails.

    Args:
        memory: The program memory to retrieve from.
        threshold: Minimum similarity score for an entry to be used.
    """

    name = "offline"
    #: Corrections that need understanding (not a slot edit) need an LLM planner.
    uses_llm = False

    def __init__(
        self,
        memory: ProgramMemory,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        exclude_families: tuple[str, ...] = (),
    ) -> None:
        self.memory = memory
        self.threshold = threshold
        self.exclude_families = frozenset(exclude_families)
        self._floor_memory: ProgramMemory | None = None

    def _memory_for(self, kinds: set[str]) -> ProgramMemory:
        """The tabletop memory, or (for a floor scene) the floor-world seed examples."""
        if not kinds or kinds <= _TABLETOP_KINDS:
            return self.memory
        if kinds <= _FLOOR_KINDS:
            # The floor examples live in a throw-away memory, not in the user's program memory:
            # the tabletop retrieval (and its measured threshold) must not see them, and learned
            # floor programs are not kept yet.
            if self._floor_memory is None:
                self._floor_memory = ProgramMemory(":memory:", seed_text=read_floor_seed_text())
            return self._floor_memory
        raise PlannerCannotHandle(
            "the offline planner knows tabletop tasks (blocks and bowls) and floor navigation "
            "(landmarks) only; plan in this world with a model: --llm openai:<model>, "
            "anthropic:<model>, openai-compatible:<url>#<model> or hf:<path>"
        )

    def record_success(self, ctx: PlanContext, program: Program) -> None:
        """Nothing to remember: a success came from the memory, which already holds it."""

    def record_lesson(
        self, command: str, scene: list[SceneObject], corrections: list[str], program: Program
    ) -> None:
        """Remember the program a person's corrections led to, for this command and scene."""
        self.memory.store_lesson(command, scene, corrections, program)

    def write(self, ctx: PlanContext) -> Program:
        """Write a program for ``ctx.command`` from the closest stored template.

        Args:
            ctx: The command and the scene.

        Returns:
            The filled program and check program.

        Raises:
            EmptyCommandError: The command is empty or whitespace.
            UnknownObjectError: The command names an object that is not in the scene.
            PlannerCannotHandle: No stored template is similar enough, or none fits the slots.
        """
        return self.candidates(ctx, 1)[0]

    def candidates(self, ctx: PlanContext, k: int) -> list[Program]:
        """The programs of the ``k`` closest fitting templates, best first (for rehearsal).

        A taught lesson for this command comes first. Templates whose filled programs are
        identical count once.

        A known session follow-up ("again", "do the same with the other blocks") is planned
        from ``ctx.history`` instead (one program).

        Raises:
            The errors of :meth:`write`, when not even one template fits; PlannerCannotHandle
            saying a model is needed, and which turn the command refers to, for a command that
            points back at an earlier turn in words this planner does not know.
        """
        if not ctx.command.strip():
            raise EmptyCommandError("the command is empty; say what the robot should do")
        followup = parse_followup(ctx.command)
        if followup is not None:
            return [self._followup(ctx, followup)]
        try:
            return self._retrieve(ctx, k)
        except PlannerCannotHandle as exc:
            turn = referred_turn(ctx.command, ctx.history)
            if turn is None or not refers_to_earlier(ctx.command):
                raise
            raise PlannerCannotHandle(
                f"{ctx.command.strip()[:200]!r} refers to an earlier task, {_label(turn)}, in "
                f"words the offline planner does not know; {_WITH_A_MODEL}. Offline follow-ups: "
                "'undo that', 'put it back', 'again', 'do the same with the other blocks|bowls'"
            ) from exc

    # -- session follow-ups ----------------------------------------------------------------------

    def undo_target(self, ctx: PlanContext) -> SessionTurn | None:
        """The newest earlier turn that changed the world, when ``ctx.command`` says "undo that".

        Turns that moved nothing (a refused follow-up, a task that failed before the robot
        moved) are skipped: "undo that" after them means the task before. An undo is a turn
        too: "undo that" twice puts back what the first undo took away.

        Raises:
            PlannerCannotHandle: no earlier turn of the session moved anything.
        """
        followup = parse_followup(ctx.command)
        if followup is None or followup.kind != "undo":
            return None
        for turn in reversed(ctx.history):
            if turn.moved:
                return turn
        raise PlannerCannotHandle(
            f"nothing to undo: no earlier task of this session moved anything "
            f"({len(ctx.history)} turn(s)); the world is as it was"
        )

    def _followup(self, ctx: PlanContext, followup: Followup) -> Program:
        """The program of a known follow-up, from the session's turns."""
        if followup.kind == "undo":
            # The engine undoes a session's turn before any planning; here there is none.
            raise PlannerCannotHandle(
                f"{ctx.command.strip()[:200]!r} undoes an earlier task of a session, and there "
                "is none to undo here: run the task with --session NAME (Engine.run(..., "
                "session=NAME)), then say it in the same session"
            )
        ran = [t for t in ctx.history if t.program.strip() and t.followup != "undo"]
        if not ran:
            raise PlannerCannotHandle(
                f"{ctx.command.strip()[:200]!r} repeats an earlier task of this session, and "
                "no earlier task ran a program (run follow-ups with --session NAME)"
            )
        last = ran[-1]
        if followup.kind == "again":
            return self._again(ctx, last)
        return self._same_with_others(ctx, last, followup.of_kind)

    def _again(self, ctx: PlanContext, last: SessionTurn) -> Program:
        """``last``'s task once more: planned again for the scene as it is now."""
        label = _label(last)
        if last.family and parse_followup(last.command) is None:
            # Derived slots ("the block closest to the bowl") are chosen in the current scene.
            again = ctx.model_copy(update={"command": last.command, "history": [], "feedback": []})
            program = self._retrieve(again, 1)[0]
        elif last.check_program.strip():
            program = Program(
                code=last.program, check_code=last.check_program, provenance="session"
            )
        else:
            raise PlannerCannotHandle(f"{label} has no check program to repeat it with")
        return program.model_copy(
            update={"provenance": f"offline:again of {label}; {program.provenance}"}
        )

    def _same_with_others(self, ctx: PlanContext, last: SessionTurn, of_kind: str) -> Program:
        """``last``'s program once per group of objects it did not touch, in one program."""
        label = _label(last)
        objects = {k: v for k, v in last.slots.items() if _OBJECT_SLOT_RE.match(k)}
        if not last.family or not objects:
            raise PlannerCannotHandle(
                f"'the same' as {label} needs the objects its program was written for, and "
                f"its program names none I can swap; {_WITH_A_MODEL}"
            )
        kinds = sorted({re.sub(r"[0-9]+$", "", k) for k in objects})
        kind = of_kind or (kinds[0] if len(kinds) == 1 else "")
        rebind = sorted(k for k in objects if re.sub(r"[0-9]+$", "", k) == kind)
        if not rebind:
            raise PlannerCannotHandle(
                f"{label} names no {kind or 'single kind of object'} I can swap for the others "
                f"(it names {', '.join(sorted(objects.values()))}); {_WITH_A_MODEL}"
            )
        derived = DERIVED_SLOTS.get(last.family, ("", None))[0]
        touched = set(objects.values()) | set(last.moved)
        if derived and derived in last.slots:
            touched.add(last.slots[derived])
        others = sorted(o.name for o in ctx.scene if o.kind == kind and o.name not in touched)
        if not others:
            raise PlannerCannotHandle(
                f"there are no other {kind}s: {label} used or moved every {kind} here; "
                "the world is as it was"
            )
        if len(others) % len(rebind):
            raise PlannerCannotHandle(
                f"{label} takes {len(rebind)} {kind}s at a time and {len(others)} other "
                f"{kind}(s) are left ({', '.join(others)}): say which to use; the world is as "
                "it was"
            )
        entry = self._entry_of(last, ctx.scene)
        codes: list[str] = []
        checks: list[str] = []
        slots: dict[str, str] = {}
        for start in range(0, len(others), len(rebind)):
            slots = {k: v for k, v in last.slots.items() if k != derived}
            slots.update(zip(rebind, others[start : start + len(rebind)], strict=True))
            self._add_derived(entry, ctx.scene, slots)
            codes.append(fill_template(entry.code_template, slots))
            checks.append(fill_template(entry.check_template, slots))
        check = combine_checks(checks)
        if check is None:
            raise PlannerCannotHandle(
                f"the check of {label} cannot be run once per group of {kind}s; "
                f"{_WITH_A_MODEL}, or name the {kind}s one command at a time"
            )
        return Program(
            code="\n".join(codes),
            check_code=check,
            provenance=f"offline:the same as {label} with {', '.join(others)}",
            family=last.family,
            slots=slots,
        )

    def _entry_of(self, turn: SessionTurn, scene: list[SceneObject]) -> MemoryEntry:
        """The memory entry ``turn``'s program was filled from (else its family's first)."""
        memory = self._memory_for({o.kind for o in scene})
        for ref in _MEMORY_ID.findall(turn.provenance):
            try:
                return memory.get(int(ref))
            except UnknownNameError:
                break
        for entry in memory.all():
            if entry.family == turn.family:
                return entry
        raise PlannerCannotHandle(f"program memory has no {turn.family!r} task any more")

    def _retrieve(self, ctx: PlanContext, k: int) -> list[Program]:
        """The programs of the ``k`` closest fitting templates (see :meth:`candidates`)."""
        command = ctx.command
        memory = self._memory_for({o.kind for o in ctx.scene})
        if not command.strip():
            raise EmptyCommandError("the command is empty; say what the robot should do")
        present = [o.name for o in ctx.scene]
        out: list[Program] = []
        if not ctx.feedback:
            lesson = self.memory.find_lesson(command, present)
            if lesson is not None:
                logger.info("offline plan from lesson #%d for %r", lesson.id, command)
                out.append(
                    Program(
                        code=lesson.code,
                        check_code=lesson.check_code,
                        provenance=(
                            f"offline:lesson#{lesson.id} (taught: {'; '.join(lesson.corrections)})"
                        ),
                        family=lesson.family,
                        slots=dict(lesson.slots),
                    )
                )
                if k <= 1:
                    return out
        abstracted = abstract_command(command, extra_colors=[o.color for o in ctx.scene])
        for slot, value in abstracted.slots.items():
            if _OBJECT_SLOT_RE.match(slot) and value not in present:
                raise UnknownObjectError(value, present)
        ranked = memory.rank(abstracted.tokens)
        wanted = set(abstracted.slots)
        guards = GUARD_WORDS.intersection(abstracted.tokens)
        if self.exclude_families:
            ranked = [(e, sc) for e, sc in ranked if e.family not in self.exclude_families]
        fitting = [
            (e, s) for e, s in ranked if s >= self.threshold and self._fits(e, wanted, guards)
        ]
        if not fitting and not out:
            raise self._cannot(command, ranked)
        first_error: PlannerCannotHandle | None = None
        seen = {(p.code, p.check_code) for p in out}
        for entry, score in fitting:
            if len(out) >= max(1, k):
                break
            slots = dict(abstracted.slots)
            try:
                self._add_derived(entry, ctx.scene, slots)
            except PlannerCannotHandle as exc:
                if k <= 1:
                    raise  # one program asked for: the best template decides, as always
                first_error = first_error or exc
                continue
            code = fill_template(entry.code_template, slots)
            check = fill_template(entry.check_template, slots)
            if (code, check) in seen:
                continue
            seen.add((code, check))
            logger.info(
                "offline plan for attempt %d: memory #%d (%s) score=%.2f",
                ctx.attempt,
                entry.id,
                entry.family,
                score,
            )
            out.append(
                Program(
                    code=code,
                    check_code=check,
                    provenance=f"offline:memory#{entry.id} score={score:.2f}",
                    family=entry.family,
                    slots=slots,
                )
            )
        if not out:
            assert first_error is not None
            raise first_error
        return out

    @staticmethod
    def _fits(entry: MemoryEntry, wanted: set[str], guards: frozenset[str]) -> bool:
        # The template must use exactly the command's slots (no mention dropped, none missing).
        tokens = template_tokens(entry.command_template)
        return slot_names_of(tokens) == wanted and guards.issubset(tokens)

    @staticmethod
    def _add_derived(entry: MemoryEntry, scene: list[SceneObject], slots: dict[str, str]) -> None:
        derived = DERIVED_SLOTS.get(entry.family)
        if derived is None:
            return
        slot, resolve = derived
        value = resolve(scene, slots)
        if value is None:
            raise PlannerCannotHandle(
                f"no block in the scene fits the description in this command "
                f"({', '.join(f'{k}={v!r}' for k, v in sorted(slots.items()))})"
            )
        slots[slot] = value

    @staticmethod
    def _cannot(command: str, ranked: list[tuple[MemoryEntry, float]]) -> PlannerCannotHandle:
        closest: list[str] = []
        for e, _ in ranked:
            if e.command_template not in closest:
                closest.append(e.command_template)
            if len(closest) == 3:
                break
        shown = command.strip()
        if len(shown) > 200:
            shown = shown[:200] + "..."
        known = "; ".join(f'"{c}"' for c in closest) or "nothing"
        return PlannerCannotHandle(
            f"I can't plan {shown!r} offline; closest I know: {known}; "
            "rephrase it, or plan with a model (--llm openai:<model>, anthropic:<model>, "
            "openai-compatible:<url>#<model> or hf:<path>)"
        )


def _label(turn: SessionTurn) -> str:
    """How a message names a turn: "turn 2 (s-2, 'put the red block in the blue bowl')"."""
    number = f"turn {turn.index}" if turn.index is not None else "the last turn"
    where = f"{turn.thread_id}, " if turn.thread_id else ""
    return f"{number} ({where}{turn.command[:120]!r})"
