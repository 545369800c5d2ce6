"""LLMPlanner: a chat model writes the policy and its check, Code-as-Policies style.

One :meth:`LLMPlanner.write` is one attempt of the engine's budget:

1. The plan cache: a verified success for the same (normalised) command, in a scene with the
   same objects (names and kinds; positions do not matter) and the same previous session turn,
   is reused without a model call. Only first attempts use it: after a failure the model must
   see the feedback.
2. Otherwise the model gets a system message (rules and the generated API listing: the stable
   prefix, marked for prompt caching) and a user message: the most similar examples from
   program memory, the session's earlier turns, the scene as quoted JSON, the optional top
   camera image and the quoted command. After a failed attempt it gets the repair prompt
   instead: the previous program with line numbers, the engine's feedback and the failing lines.
3. The reply is parsed (:mod:`._extract`); functions the programs call but nobody defined are
   taken from the function library or written by the model (:mod:`._codegen`).

A reply that cannot be used (no code, truncated, a syntax error, a refused helper function)
raises :class:`~policywright.errors.ModelReplyError`; there is no retry inside the planner, so
the engine's attempt budget counts every model reply and the error's message reaches the model
as feedback on the next attempt. A program that breaks the sandbox's rules is returned as it
is: the engine's static check refuses it and feeds the violations back.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from policywright.agent.llm import (
    ChatMessage,
    ChatModel,
    ChatReply,
    ChatRequest,
    ImagePart,
    TextPart,
    Usage,
)
from policywright.agent.planner._codegen import (
    CodegenResult,
    FunctionRequest,
    complete_program,
    function_defs,
)
from policywright.agent.planner._extract import (
    ExtractedProgram,
    drop_redefinitions,
    drop_verdicts,
    extract_program,
)
from policywright.agent.planner._text import PLACEHOLDER_RE
from policywright.agent.planner.base import PlanContext, Program, SceneObject, SessionTurn
from policywright.agent.planner.memory import MemoryEntry, ProgramMemory, scene_signature
from policywright.agent.planner.offline import fill_template
from policywright.errors import EmptyCommandError, InternalError, ModelReplyError
from policywright.primitives import Registry
from policywright.prompts import render

__all__ = ["EXAMPLE_SLOT_VALUES", "LLMPlanner", "listing_entries", "strip_functions"]

logger = logging.getLogger(__name__)

#: The values that make a stored template a concrete example in the prompt (Code as Policies
#: shows concrete commands and programs, not templates).
EXAMPLE_SLOT_VALUES: dict[str, str] = {
    "block1": "red block",
    "block2": "blue block",
    "bowl1": "green bowl",
    "location": "top left corner",
    "direction": "left",
    "distance": "closest",
    "magnitude": "a little",
    "nth": "first",
    "line": "horizontal",
    "picked_block": "blue block",
}

# Words of primitive names too common to hint that a command needs that primitive.
_GENERIC_NAME_WORDS = frozenset({"name", "names", "pos", "obj", "get", "object", "first", "second"})
_ENTRY_START = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\(")
# The engine's feedback names lines as "program line 3" / "check line 2" (static refusals) or
# "ended with status 'error' at line 5" (a run). Other messages ("syntax error at line 2" of a
# reply, a helper function's "line 2") refer to code that is not the previous program.
_FEEDBACK_LINE = re.compile(r"\b(?:(program|check) line|with status '[a-z]+' at line) (\d+)\b")
MAX_PROGRAM_CHARS_IN_HISTORY = 1200
MAX_OUTCOME_CHARS = 300
MAX_FEEDBACK_ITEMS = 3
MAX_FEEDBACK_CHARS = 1500
MAX_REMEMBERED_COMMANDS = 64


def listing_entries(listing: str) -> dict[str, str]:
    """The function entries of a generated listing: name -> its signature and docstring lines.

    An entry starts with ``name(`` in column 0 and runs over the indented lines below it.
    """
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.split("\n"):
        m = _ENTRY_START.match(line)
        if m is not None:
            current = entries.setdefault(m.group(1), [])
            current.append(line)
        elif current is not None and line.startswith((" ", "\t")):
            current.append(line)
        else:
            current = None
    return {name: "\n".join(lines) for name, lines in entries.items()}


@dataclass(frozen=True)
class _Listings:
    act: str
    act_names: frozenset[str]
    check_names: frozenset[str]
    check_only: tuple[str, ...]


@dataclass(frozen=True)
class _Attempt:
    attempt: int
    code: str
    check_code: str
    plan_id: int | None


def _clip(text: str, limit: int, marker: str) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + marker


class LLMPlanner:
    """Plans with a chat model, program memory, a function library and a plan cache.

    Args:
        model: The chat model.
        memory: Program memory: retrieval examples, the function library, the plan cache.
        listing: The act-mode API listing (``api_listing(registry, "act")``), or a callable
            ``mode -> listing`` for "act" and "check" (then the check program's functions are
            listed exactly; with a plain string they are read from the act listing + verdict).
            None: the installed primitives of ``world_kind`` (``default_registry()``).
        k_examples: How many retrieved examples (distinct task families) the prompt shows.
        max_function_depth: Deepest level of generated helper functions.
        render_image: Returns the top camera image (PNG, base64) or None; used only when the
            model has vision.
        usage_sink: Receives the usage of every model call.
        max_history_turns: How many earlier session turns the prompt shows (newest kept).
        world_kind: The world ("tabletop" adds its frame conventions to the rules).
        image_size: The camera image's (width, height) in pixels, as described in the prompt.
        max_tokens: Reply budget of a planner call.
        plan_cache: Reuse verified plans for repeated commands.
        exclude_families: Program-memory families never shown as examples.
        registry: The world's primitives. When given, the prompt is compact (for CPUs): the
            stable system prefix lists the everyday primitives only, and each command's
            message adds those the command and its examples need.
    """

    def __init__(
        self,
        model: ChatModel,
        memory: ProgramMemory,
        listing: str | Callable[[str], str] | None = None,
        *,
        k_examples: int = 4,
        max_function_depth: int = 2,
        render_image: Callable[[], str | None] | None = None,
        usage_sink: Callable[[Usage], None] | None = None,
        max_history_turns: int = 5,
        world_kind: str = "tabletop",
        image_size: tuple[int, int] = (320, 240),
        max_tokens: int = 2048,
        plan_cache: bool = True,
        exclude_families: tuple[str, ...] = (),
        registry: Registry | None = None,
    ) -> None:
        #: With a registry the prompt is compact: its stable prefix lists the everyday
        #: primitives only, and each command's message adds the ones it and its examples need.
        self.registry = registry
        self.exclude_families = frozenset(exclude_families)
        self.model = model
        self.memory = memory
        self.listing = listing
        self.k_examples = k_examples
        self.max_function_depth = max_function_depth
        self.render_image = render_image
        self.usage_sink = usage_sink
        self.max_history_turns = max_history_turns
        self.world_kind = world_kind
        self.image_size = image_size
        self.max_tokens = max_tokens
        self.plan_cache = plan_cache
        #: Sampling temperature of the second and later candidates (see :meth:`candidates`).
        self.candidate_temperature = 0.7
        self.name = f"llm:{model.id}"
        #: High-level corrections are understood by the model (see the correct node).
        self.uses_llm = True
        #: Usage of the last :meth:`write` (all its model calls).
        self.last_usage = Usage()
        # The last program returned per command: the repair prompt shows it when the engine
        # does not pass ``previous_program``.
        self._last: dict[str, _Attempt] = {}
        self._concrete_cache: dict[tuple[int, str, str, str], dict[str, str] | None] = {}

    # -- prompts ---------------------------------------------------------------------------
    def _listings(self) -> _Listings:
        if self.registry is not None:
            return self._compact_listings(self.registry)
        if self.listing is None:
            self.listing = _default_listing(self.world_kind)
        if isinstance(self.listing, str):
            act, check = self.listing, None
        else:
            act, check = self.listing("act"), self.listing("check")
        act_entries = listing_entries(act)
        if check is None:
            check_names = frozenset(act_entries) | {"verdict"}
            check_only: tuple[str, ...] = (
                "verdict(success: bool, reason: str) -> None: report whether the command was "
                "achieved (check programs only; call it exactly once).",
            )
        else:
            check_entries = listing_entries(check)
            check_names = frozenset(check_entries)
            check_only = tuple(v for k, v in check_entries.items() if k not in act_entries)
        return _Listings(act, frozenset(act_entries), check_names, check_only)

    def _compact_listings(self, registry: Registry) -> _Listings:
        from policywright.agent.listing import stable_listing

        act = frozenset(s.name for s in registry if s.category != "check")
        check = frozenset(registry.names(read_only=True))
        check_only = tuple(s.listing() for s in registry if s.name in check - act)
        return _Listings(stable_listing(registry), act, check, check_only)

    def _extra_names(self, ctx: PlanContext, examples: list[dict[str, str]]) -> list[str]:
        """Primitives beyond the stable listing that this command and its examples use."""
        from policywright.agent.listing import ALWAYS_LISTED

        assert self.registry is not None
        used = _example_code(examples)
        words = set(re.findall(r"[a-z]+", ctx.command.lower()))
        out = []
        for spec in self.registry:
            if spec.name in ALWAYS_LISTED or spec.category == "check":
                continue
            named = re.search(rf"\b{spec.name}\(", used) is not None
            hinted = any(
                len(w) > 3 and w not in _GENERIC_NAME_WORDS and w in words
                for w in spec.name.split("_")
            )
            if named or hinted:
                out.append(spec.name)
        return out

    def _extra_vars(self, ctx: PlanContext, examples: list[dict[str, str]]) -> dict[str, Any]:
        """The compact prompt's per-command listing and library helpers (empty otherwise)."""
        if self.registry is None:
            return {"extra_listing": "", "extra_helpers": []}
        from policywright.agent.listing import command_listing

        used = _example_code(examples)
        helpers = [
            _signature(src)
            for name, src in self.memory.seed_helpers().items()
            if re.search(rf"\b{name}\(", used)
        ]
        return {
            "extra_listing": command_listing(self.registry, self._extra_names(ctx, examples)),
            "extra_helpers": helpers,
        }

    def system_text(self, listings: _Listings | None = None) -> str:
        """The system message: rules and the API listing (stable across calls)."""
        ls = listings or self._listings()
        return render(
            "system.j2",
            listing=ls.act,
            check_names=sorted(ls.check_names),
            check_only=list(ls.check_only),
            helpers=self._helper_signatures() if self.registry is None else [],
            world_kind=self.world_kind,
        )

    def examples(self, command: str) -> list[dict[str, str]]:
        """The ``k_examples`` most similar memory entries, one per task family, made concrete."""
        out: list[dict[str, str]] = []
        families: set[str] = set()
        helpers = self.memory.seed_helpers()
        for entry, score in self.memory.search(command, k=max(self.k_examples * 8, 20)):
            if len(out) >= self.k_examples:
                break
            if score <= 0.0 or entry.family in families or entry.family in self.exclude_families:
                continue
            key = (entry.id, entry.command_template, entry.code_template, entry.check_template)
            if key not in self._concrete_cache:
                # Parsing to strip helpers costs ~1 ms per example; entries rarely change.
                self._concrete_cache[key] = _concrete(entry, helpers)
            example = self._concrete_cache[key]
            if example is not None:
                families.add(entry.family)
                out.append(example)
        return out

    def _context_vars(self, ctx: PlanContext, image: bool) -> dict[str, Any]:
        turns = ctx.history[-self.max_history_turns :] if self.max_history_turns > 0 else []
        return {
            "command": ctx.command,
            "scene": [
                # The compact prompt leaves out kind and colour: the name already says both.
                {"name": o.name, "position": [round(float(v), 3) for v in o.position]}
                if self.registry is not None and o.name.startswith(f"{o.color} {o.kind}")
                else {
                    "name": o.name,
                    "kind": o.kind,
                    "color": o.color,
                    "position": [round(float(v), 3) for v in o.position],
                }
                for o in ctx.scene
            ],
            "turns": [_turn_vars(t) for t in turns],
            "image": {"width": self.image_size[0], "height": self.image_size[1]} if image else None,
            "corrections": list(ctx.corrections),
            "lessons": self._lessons(ctx),
        }

    def _lessons(self, ctx: PlanContext) -> list[dict[str, Any]]:
        """What corrections taught for similar commands (newest first, at most 2)."""
        from policywright.agent.planner._text import abstract_command

        wanted = abstract_command(ctx.command).tokens
        out: list[dict[str, Any]] = []
        for lesson in self.memory.lessons():
            if abstract_command(lesson.command).tokens != wanted:
                continue
            out.append(
                {"command": lesson.command, "corrections": lesson.corrections, "code": lesson.code}
            )
            if len(out) == 2:
                break
        return out

    def record_lesson(
        self, command: str, scene: list[SceneObject], corrections: list[str], program: Program
    ) -> None:
        """Remember the program a person's corrections led to (later prompts show it)."""
        self.memory.store_lesson(command, scene, corrections, program)

    def user_text(self, ctx: PlanContext, *, image: bool = False) -> str:
        """The user message of a first attempt (examples, history, scene, command)."""
        examples = self.examples(ctx.command)
        return render(
            "planner.j2",
            examples=examples,
            **self._extra_vars(ctx, examples),
            **self._context_vars(ctx, image),
        )

    def repair_text(self, ctx: PlanContext, *, image: bool = False) -> str:
        """The user message after a failed attempt (previous program, feedback, failing lines)."""
        last = self._last.get(ctx.command)
        previous: str | None
        previous_check: str | None
        if last is not None and last.attempt == ctx.attempt - 1:
            # This planner wrote the previous attempt: its code is the newest, even when it
            # never reached the engine (a helper function was refused).
            previous, previous_check = last.code, last.check_code
        else:
            previous, previous_check = ctx.previous_program, ctx.previous_check
        feedback = [
            _clip(f, MAX_FEEDBACK_CHARS, " ...(cut)") for f in ctx.feedback[-MAX_FEEDBACK_ITEMS:]
        ]
        examples = self.examples(ctx.command)
        return render(
            "repair.j2",
            examples=examples,
            attempt=ctx.attempt,
            previous_program=previous,
            previous_check=previous_check,
            feedback=feedback,
            failing_lines=_failing_lines(feedback, previous, previous_check),
            **self._extra_vars(ctx, examples),
            **self._context_vars(ctx, image),
        )

    def request(self, ctx: PlanContext) -> ChatRequest:
        """The chat request :meth:`write` sends for ``ctx`` (no model call; no plan cache)."""
        return self._request(ctx, self._listings())

    def _request(
        self, ctx: PlanContext, listings: _Listings, temperature: float = 0.0
    ) -> ChatRequest:
        png = None
        if self.render_image is not None and self.model.vision:
            png = self.render_image()
        repair = bool(ctx.feedback)
        text = (
            self.repair_text(ctx, image=png is not None)
            if repair
            else self.user_text(ctx, image=png is not None)
        )
        parts: list[TextPart | ImagePart] = [TextPart(text=text)]
        if png is not None:
            w, h = self.image_size
            parts.append(ImagePart(png_b64=png, label=f"top camera, {w}x{h}"))
        return ChatRequest(
            messages=(
                ChatMessage(
                    role="system", content=(TextPart(text=self.system_text(listings), cache=True),)
                ),
                ChatMessage(role="user", content=tuple(parts)),
            ),
            max_tokens=self.max_tokens,
            temperature=temperature,
            purpose="repair" if repair else "plan",
            reply_format="program",
        )

    # -- planning --------------------------------------------------------------------------
    def write(self, ctx: PlanContext) -> Program:
        """Write a program and its check for ``ctx.command`` (one attempt).

        Args:
            ctx: The command, scene, session history and the feedback of earlier attempts.

        Returns:
            The program; ``provenance`` says where it came from
            ("llm:openai:gpt-4o attempt=2 repair calls=1", "plan-cache hit #3 ...").

        Raises:
            EmptyCommandError: The command is empty.
            ModelReplyError: The reply could not be used (the message is the feedback).
            ModelError: The model call failed (subclasses say who must act).
        """
        return self._write(ctx, 0.0)

    def candidates(self, ctx: PlanContext, k: int) -> list[Program]:
        """Up to ``k`` distinct programs: the greedy reply, then sampled ones.

        Later replies are sampled at :attr:`candidate_temperature` (one model call each). A
        plan-cache hit is the only candidate.

        Raises:
            The errors of :meth:`write` for the first (greedy) program only; a sampled reply
            that cannot be used is skipped.
        """
        first = self._write(ctx, 0.0)
        out = [first]
        if first.provenance.startswith("plan-cache"):
            return out
        usage = self.last_usage
        for _ in range(max(0, k - 1)):
            try:
                program = self._write(ctx, self.candidate_temperature)
            except ModelReplyError as exc:
                logger.info("a sampled candidate was unusable: %s", exc)
                continue
            finally:
                usage = usage + self.last_usage
            if all(program.code != p.code for p in out):
                out.append(program)
        self.last_usage = usage
        return out

    def _write(self, ctx: PlanContext, temperature: float) -> Program:
        if not ctx.command.strip():
            raise EmptyCommandError("the command is empty: say what the robot should do")
        self.last_usage = Usage()
        last = self._last.get(ctx.command)
        if ctx.feedback and last is not None and last.plan_id is not None:
            # A reused plan failed here: stop reusing it (a new success stores it again).
            self.memory.forget_plan(last.plan_id)
            logger.info("plan #%d failed on reuse; removed from the plan cache", last.plan_id)
        if self.plan_cache and not ctx.feedback:
            hit = self.memory.find_plan(ctx.command, scene_signature(ctx.scene), _context_key(ctx))
            if hit is not None:
                self.memory.record_plan_hit(hit.id)
                logger.info("plan cache hit #%d for %r", hit.id, ctx.command)
                program = Program(
                    code=hit.code,
                    check_code=hit.check_code,
                    provenance=f"plan-cache hit #{hit.id} (written by llm:{hit.model_id})",
                )
                self._remember(ctx, program.code, program.check_code, plan_id=hit.id)
                return program
        listings = self._listings()
        request = self._request(ctx, listings, temperature)
        reply = self._chat(request)
        fallback = self._memory_check(ctx)
        extracted = extract_program(
            reply.text,
            finish_reason=reply.finish_reason,
            fallback_check=fallback[1] if fallback else None,
        )
        check_source = fallback[0] if fallback and extracted.check_code == fallback[1] else None
        code, dropped = drop_redefinitions(extracted.code, listings.act_names)
        code = drop_verdicts(code)  # a policy cannot judge itself; the check program does
        check_code, dropped_check = drop_redefinitions(extracted.check_code, listings.check_names)
        extracted = ExtractedProgram(code=code, check_code=check_code)
        # Remembered before code generation, so a repair after a refused helper shows it.
        self._remember(ctx, extracted.code, extracted.check_code)

        def write_function(req: FunctionRequest) -> str:
            return self._write_function(ctx, req, listings)

        policy = complete_program(
            extracted.code,
            primitive_names=listings.act_names,
            other_mode_names=listings.check_names - listings.act_names,
            mode="act",
            library=self.memory.function,
            write=write_function,
            max_depth=self.max_function_depth,
        )
        try:
            check = complete_program(
                extracted.check_code,
                primitive_names=listings.check_names,
                other_mode_names=listings.act_names - listings.check_names,
                mode="check",
                library=self.memory.function,
                write=write_function,
                max_depth=self.max_function_depth,
            )
        except ModelReplyError:
            if fallback is None or check_source:
                raise
            # The model's check is unusable (it moves the robot, say); the verified check of
            # this command's program-memory family decides instead.
            check = CodegenResult(code=fallback[1])
            check_source = fallback[0]
        provenance = self._provenance(ctx, request.purpose, policy, check)
        if dropped or dropped_check:
            provenance += " dropped-redefinition=" + ",".join([*dropped, *dropped_check])
        if check_source:
            provenance += f" check={check_source}"
        program = Program(
            code=policy.code,
            check_code=check.code,
            provenance=provenance,
            fallback_check=fallback[1] if fallback and not check_source else None,
        )
        self._remember(ctx, program.code, program.check_code)
        return program

    def _memory_check(self, ctx: PlanContext) -> tuple[str, str] | None:
        """A verified check for this command from program memory's templates, if one fits.

        A small model often writes a good policy and forgets the check block; when the
        command matches a stored task family, that family's check (filled for this command and
        scene) verifies the policy instead of spending an attempt on asking again.
        """
        from policywright.agent.planner.offline import OfflinePlanner

        try:
            template = OfflinePlanner(self.memory).write(ctx)
        except Exception:  # no template fits: the model must write the check itself
            return None
        return template.provenance.split(" ")[0], template.check_code

    def _helper_signatures(self) -> list[str]:
        """Shipped helpers, then functions learned from verified programs (offered to reuse)."""
        seed = self.memory.seed_helpers()
        learned = [src for name, src in self.memory.functions().items() if name not in seed][
            :MAX_LEARNED_FUNCTIONS_IN_PROMPT
        ]
        return [_signature(src) for src in [*seed.values(), *learned]]

    def _remember(
        self, ctx: PlanContext, code: str, check_code: str, *, plan_id: int | None = None
    ) -> None:
        self._last.pop(ctx.command, None)
        self._last[ctx.command] = _Attempt(ctx.attempt, code, check_code, plan_id)
        while len(self._last) > MAX_REMEMBERED_COMMANDS:
            self._last.pop(next(iter(self._last)))  # oldest first: dicts keep insertion order

    def _provenance(
        self, ctx: PlanContext, purpose: str, policy: CodegenResult, check: CodegenResult
    ) -> str:
        words = [self.name, f"attempt={ctx.attempt}"]
        if purpose == "repair":
            words.append("repair")
        written = [*policy.written, *check.written]
        reused = [*policy.reused, *check.reused]
        if written:
            words.append("wrote=" + ",".join(written))
        if reused:
            words.append("library=" + ",".join(reused))
        words.append(f"calls={self.last_usage.calls}")
        return " ".join(words)

    def _chat(self, request: ChatRequest) -> ChatReply:
        reply = self.model.chat(request)
        self.last_usage = self.last_usage + reply.usage
        if self.usage_sink is not None:
            self.usage_sink(reply.usage)
        return reply

    def _write_function(self, ctx: PlanContext, req: FunctionRequest, listings: _Listings) -> str:
        text = render(
            "function_writer.j2",
            name=req.name,
            command=ctx.command,
            call_sites=[{"number": s.number, "text": s.text} for s in req.call_sites],
            defined=list(req.defined),
            mode=req.mode,
            depth_left=req.depth_left,
        )
        request = ChatRequest(
            messages=(
                ChatMessage(
                    role="system", content=(TextPart(text=self.system_text(listings), cache=True),)
                ),
                ChatMessage(role="user", content=(TextPart(text=text),)),
            ),
            max_tokens=min(self.max_tokens, 1024),
            temperature=0.0,
            purpose="function",
        )
        reply = self._chat(request)
        if reply.truncated:
            raise ModelReplyError(
                f"truncated reply while writing the function {req.name!r}; write it shorter"
            )
        return reply.text

    # -- learning --------------------------------------------------------------------------
    def record_success(self, ctx: PlanContext, program: Program) -> None:
        """Remember a verified success: the plan (for the plan cache) and its functions.

        The engine calls this after the verifier confirmed the command was achieved.

        Args:
            ctx: The context the program was written for.
            program: The program that succeeded.
        """
        if program.provenance.startswith("plan-cache"):
            return  # already stored; its hit was counted when it was reused
        plan_id = self.memory.store_plan(
            ctx.command,
            scene_signature(ctx.scene),
            program.code,
            program.check_code,
            self.model.id,
            context_key=_context_key(ctx),
        )
        defs = {name: src for name, src in function_defs(program.code).items() if _reusable(src)}
        for name, src in defs.items():
            self.memory.store_function(name, src, self.model.id)
        logger.info("stored plan #%d and %d function(s) for %r", plan_id, len(defs), ctx.command)


def _reusable(source: str) -> bool:
    """Whether a function is a reusable helper rather than a program wrapped in a ``def``.

    A zero-argument function (``def policy():``, ``def main():``) is this command's program
    itself: offered to later prompts under its generic name, it would be called for a
    different command and replay this one.
    """
    try:
        fn = ast.parse(source).body[0]
    except (SyntaxError, IndexError):
        return False
    return isinstance(fn, ast.FunctionDef) and bool(
        fn.args.args or fn.args.posonlyargs or fn.args.kwonlyargs or fn.args.vararg
    )


def strip_functions(code: str, names: Collection[str]) -> str:
    """``code`` without its top-level definitions of ``names`` (library functions).

    Examples call the library's helpers; the prompt lists them once instead of repeating their
    bodies in every example, and code generation prepends them when a program calls them.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    drop: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            end = node.end_lineno or node.lineno
            drop.update(range(node.lineno, end + 1))
    if not drop:
        return code
    lines = [line for i, line in enumerate(code.split("\n"), start=1) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def _default_listing(world_kind: str) -> Callable[[str], str]:
    """The listings of the installed primitives for ``world_kind``, generated once per mode."""
    from policywright.agent.listing import api_listing
    from policywright.primitives import default_registry

    registry = default_registry().for_world(world_kind)
    cache: dict[str, str] = {}

    def listing(mode: str) -> str:
        if mode not in cache:
            cache[mode] = api_listing(registry, "check" if mode == "check" else "act")
        return cache[mode]

    return listing


def _concrete(entry: MemoryEntry, helpers: Collection[str]) -> dict[str, str] | None:
    """A memory entry with its slots filled by :data:`EXAMPLE_SLOT_VALUES` (None if it can't be)."""
    try:
        command = PLACEHOLDER_RE.sub(
            lambda m: EXAMPLE_SLOT_VALUES[m.group(1)], entry.command_template
        )
        code = strip_functions(fill_template(entry.code_template, EXAMPLE_SLOT_VALUES), helpers)
        check = strip_functions(fill_template(entry.check_template, EXAMPLE_SLOT_VALUES), helpers)
    except (KeyError, InternalError) as exc:  # a learned template with an unknown slot
        logger.debug("example %d skipped: %s", entry.id, exc)
        return None
    return {"command": command, "code": code, "check": check, "family": entry.family}


#: How many learned functions the system prompt offers (the newest names, by name order).
MAX_LEARNED_FUNCTIONS_IN_PROMPT = 20


def _example_code(examples: list[dict[str, str]]) -> str:
    """The examples' programs and checks as one text, to find the names they call."""
    return " ".join(f"{e['code']}\n{e['check']}" for e in examples)


def _signature(source: str) -> str:
    """``name(args)`` of a ``def`` (the first line without ``def`` and the colon)."""
    first = source.strip().split("\n", 1)[0]
    return first.removeprefix("def ").rstrip(":").strip()


def _turn_vars(turn: SessionTurn) -> dict[str, str]:
    program = turn.program.rstrip()
    if len(program) > MAX_PROGRAM_CHARS_IN_HISTORY:
        program = program[:MAX_PROGRAM_CHARS_IN_HISTORY].rstrip() + "\n# ... (cut)"
    return {
        "command": turn.command,
        "program": program,
        "outcome": _clip(turn.outcome or "unknown", MAX_OUTCOME_CHARS, " ...(cut)"),
    }


def _context_key(ctx: PlanContext) -> str:
    """Empty without history; else a digest of the previous turn (what "undo that" refers to)."""
    if not ctx.history:
        return ""
    last = ctx.history[-1]
    return hashlib.sha256(f"{last.command}\n{last.program}".encode()).hexdigest()[:16]


def _failing_lines(
    feedback: Sequence[str], program: str | None, check: str | None
) -> list[dict[str, Any]]:
    """The program lines the feedback names ("program line 3", "at line 7"), newest feedback."""
    if not feedback:
        return []
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for where, number in _FEEDBACK_LINE.findall(feedback[-1]):
        source = check if where == "check" else program
        label = "check" if where == "check" else "program"
        n = int(number)
        if source is None or (label, n) in seen:
            continue
        lines = source.split("\n")
        if 0 < n <= len(lines) and lines[n - 1].strip():
            seen.add((label, n))
            out.append({"where": label, "number": n, "text": lines[n - 1].strip()})
    return out[:5]
