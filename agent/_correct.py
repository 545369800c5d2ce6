"""What the ``correct`` node does with one correction (the graph calls :func:`apply_correction`).

Fine-grained corrections act without any planner: a nudge re-does the last finished action
with its target shifted (or shifts the action in progress when "stop" interrupted it), "undo"
restores the snapshot taken before the last action, speed scales the skills' motion. High-level
ones become a new command for the offline planner (slot edits) or a correction the LLM planner
sees in its prompt; when neither can serve, the person is told plainly.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from policywright.agent._journal import CallRow
from policywright.agent.corrections import Correction
from policywright.agent.host import TARGET_ARGS

if TYPE_CHECKING:
    from policywright.agent.graph import EngineContext
    from policywright.agent.state import TaskState

__all__ = ["CorrectionOutcome", "apply_correction", "apply_edits"]

logger = logging.getLogger(__name__)

Next = Literal["execute", "plan", "verify", "end", "ask"]


@dataclass
class CorrectionOutcome:
    """What the correct node returns for one correction."""

    status: Literal["applied", "rejected"]
    message: str
    next: Next
    update: dict[str, Any] = field(default_factory=dict)


def _args(row: CallRow) -> tuple[list[Any], dict[str, Any]]:
    data = json.loads(row.args)
    return list(data.get("args", [])), dict(data.get("kwargs", {}))


def _arg(row: CallRow, pos: int, key: str) -> Any:
    args, kwargs = _args(row)
    return kwargs[key] if key in kwargs else (args[pos] if len(args) > pos else None)


def _placed_object(rows: Sequence[CallRow], row: CallRow) -> Any:
    """The object a finished put/place call moved."""
    if row.name == "put_first_on_second":
        return _arg(row, 0, "obj")
    for earlier in reversed([r for r in rows if r.idx < row.idx and r.status == "done"]):
        if earlier.name == "pick":
            return _arg(earlier, 0, "obj")
    return None


def _count_line(rows: Sequence[CallRow], line: int | None) -> int:
    return sum(1 for r in rows if r.line == line and r.mutating)


def apply_correction(
    ctx: EngineContext, state: TaskState, correction: Correction
) -> CorrectionOutcome:
    """Apply one correction to the world and the task; say what to do next."""
    finished = bool(state.get("finished"))
    kind = correction.kind
    thread = state.get("thread_id", "default")
    attempt = state.get("attempt", 0)
    journal = ctx.journal
    if journal is None:
        return CorrectionOutcome("rejected", "this engine keeps no journal", "end")
    rows = journal.calls(thread, attempt) if attempt else []
    if kind == "continue":
        if finished:
            return CorrectionOutcome("rejected", "the task already finished", "end")
        return CorrectionOutcome("applied", "continuing the program", "execute")
    if kind == "speed":
        scale = min(1.0, max(0.25, float(state.get("speed_scale", 1.0)) * correction.speed_scale))
        msg = f"motion speed is now {scale:.2f} of normal"
        if correction.speed_scale > 1 and scale >= 1.0:
            msg += " (the skills never go faster than their own speed)"
        return CorrectionOutcome(
            "applied", msg, "end" if finished else "execute", {"speed_scale": scale}
        )
    if kind == "undo":
        done = [r for r in rows if r.mutating and r.before_snap]
        if not done:
            return CorrectionOutcome(
                "rejected", "nothing to undo yet", "end" if finished else "execute"
            )
        last = done[-1]
        assert last.before_snap is not None
        ctx.world.restore_state(last.before_snap)
        ctx.prim.invalidate()
        ctx.prim.before_pick = None
        journal.drop_calls_from(thread, attempt, last.idx)
        return CorrectionOutcome(
            "applied",
            f"undid {last.name}() (line {last.line}); the robot waits",
            "ask",
            {"finished": False},
        )
    if kind in ("nudge", "rotate"):
        return _nudge(ctx, state, correction, rows, finished)
    if kind == "stop":
        return CorrectionOutcome("applied", "stopped", "ask")
    return _replan(ctx, state, correction)


def _nudge(
    ctx: EngineContext,
    state: TaskState,
    correction: Correction,
    rows: Sequence[CallRow],
    finished: bool,
) -> CorrectionOutcome:
    from policywright.agent.host import RegistryHost
    from policywright.agent.sandbox import PrimitiveCallError
    from policywright.errors import PolicywrightError

    resume: Next = "end" if finished else "execute"
    dx, dy, dz = correction.offset
    host = RegistryHost(ctx.registry, ctx.prim, mode="act")

    def act(name: str, args: list[Any], done: str) -> CorrectionOutcome:
        try:
            host.call(name, args, {}, None)
        except (PrimitiveCallError, PolicywrightError) as exc:
            return CorrectionOutcome("rejected", f"could not {name}: {exc}", resume)
        finally:
            ctx.prim.invalidate()
        return CorrectionOutcome("applied", done, resume)

    if correction.kind == "rotate":
        if ctx.world.kind == "floor":
            deg = float(correction.rotate_deg)
            return act("turn", [deg], f"turned {deg:+.0f} degrees")
        return CorrectionOutcome(
            "rejected",
            "rotating is supported for the walking robot only; the tabletop blocks are grasped "
            "top-down at a fixed yaw (say where to put it instead)",
            resume,
        )
    if ctx.world.kind == "floor" and rows:
        # The person's frame is the overhead view (+x up, +y left): walk there in world axes.
        return act("walk", [float(dx), float(dy)], f"walked {dx:+.2f} m, {dy:+.2f} m")
    started = [r for r in rows if r.status == "started" and r.name in TARGET_ARGS]
    if started and not finished:
        # "stop" interrupted this action: it runs again, shifted, when the program continues.
        row = started[-1]
        adjust = {**state.get("adjust", {}), str(row.idx): [dx, dy, dz]}
        return CorrectionOutcome(
            "applied",
            f"{_which(row, rows)} will aim {_cm(dx, dy, dz)}",
            "execute",
            {"adjust": adjust, **_keep(state, rows, row, correction)},
        )
    done = [r for r in rows if r.status == "done" and r.name in TARGET_ARGS]
    if not done:
        if finished:
            return CorrectionOutcome(
                "rejected", "there is no placing or moving action to adjust", "end"
            )
        adjust = {**state.get("adjust", {}), "next": [dx, dy, dz]}
        return CorrectionOutcome(
            "applied",
            f"the next placing action will aim {_cm(dx, dy, dz)}",
            "execute",
            {"adjust": adjust},
        )
    # Re-do the last finished placing or moving action with its target shifted.
    row = done[-1]
    if row.name == "move_ee_to":
        pos = _arg(row, 0, "pos")
        name, args = "move_ee_to", [[float(pos[0]) + dx, float(pos[1]) + dy, float(pos[2]) + dz]]
    else:
        from policywright.primitives import resolve_target_xy

        obj = _placed_object(rows, row)
        target = _arg(row, 1 if row.name == "put_first_on_second" else 0, "target")
        if obj is None or target is None:
            return CorrectionOutcome("rejected", "cannot tell which object to move", resume)
        ctx.prim.invalidate()
        xy = resolve_target_xy(ctx.prim, target)
        name, args = "put_first_on_second", [obj, [xy[0] + dx, xy[1] + dy]]
    which = _which(row, rows)
    if finished:
        # Only the targeted action is re-done, and it must not undo what was achieved: try it
        # in a twin first, with the task's own check; if the check fails there, nothing moves.
        broken = _breaks_the_task(ctx, state, name, args)
        if broken:
            return CorrectionOutcome(
                "rejected",
                f"not done: re-doing {which} {_cm(dx, dy, dz)} would break what was achieved "
                f"(tried in a twin first, the check said: {broken}); nothing moved. Say a "
                "smaller nudge, or give a new command",
                "end",
            )
    outcome = act(name, args, f"re-did {which} {_cm(dx, dy, dz)}")
    if outcome.status == "applied":
        outcome.next = "verify" if finished else "execute"
        outcome.update = _keep(state, rows, row, correction)
        if finished:
            # Verified again as a whole; if that fails, ask rather than re-plan on its own
            # (fresh attempts after a nudge moved blocks that were already right).
            outcome.update["max_attempts"] = int(state.get("attempt", 1))
    return outcome


def _which(row: CallRow, rows: Sequence[CallRow]) -> str:
    """The call a correction changed, as the log names it.

    "put_first_on_second() (line 12, action 2 of 2)": the line alone is ambiguous in a loop.
    """
    mutating = [r for r in rows if r.mutating]
    nth = next((i for i, r in enumerate(mutating, 1) if r.idx == row.idx), None)
    count = f", action {nth} of {len(mutating)}" if nth is not None else ""
    return f"{row.name}() (line {row.line}{count})"


def _breaks_the_task(ctx: EngineContext, state: TaskState, name: str, args: list[Any]) -> str:
    """Rehearse one re-done call in a twin of the scene as it is now, then the task's check.

    Returns:
        The check's reason when the command would no longer be achieved; "" when it still is,
        or when no twin can be built (the real verification then decides).
    """
    from policywright.agent._rehearse import rehearse_program
    from policywright.agent.planner import Program

    twins = ctx.twins
    check = str(state.get("program", {}).get("check_code", ""))
    if twins is None or twins.factory is None or not check:
        return ""
    thread = f"{state.get('thread_id', 'default')}-nudge"
    path = ctx.snapshot_dir / str(state.get("thread_id", "default")) / "nudge-twin.bullet"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ctx.prim.invalidate()
        twin = twins.build(ctx.world, thread, path)
        code = f"{name}({', '.join(repr(a) for a in args)})\n"
        result = rehearse_program(
            twin.world,
            twin.snapshot,
            Program(code=code, check_code=check, provenance="nudge"),
            str(state.get("command", "")),
            sandbox=ctx.sandbox,
            registry=ctx.registry,
            skills=dict(ctx.prim.skills),
            seed=ctx.seed,
        )
    except Exception:  # the rehearsal is a precaution; without it the real check decides
        logger.exception("could not rehearse a nudge")
        return ""
    finally:
        twins.drop(thread)
        ctx.prim.invalidate()
    if result.ok:
        return ""
    if result.verdict is not None:
        return str(result.verdict.get("reason", "not achieved"))
    return f"{result.report.status}: {result.report.message}"


def _keep(
    state: TaskState, rows: Sequence[CallRow], row: CallRow, correction: Correction
) -> dict[str, Any]:
    """The program edit that keeps a nudge for learning (only for a line that ran once)."""
    if row.line is None or _count_line(rows, row.line) > 1:
        return {}
    edit = {"line": row.line, "name": row.name, "offset": list(correction.offset)}
    return {"edits": [*state.get("edits", []), edit]}


def _cm(dx: float, dy: float, dz: float) -> str:
    parts = []
    for v, pos, neg in ((dx, "further", "closer"), (dy, "left", "right"), (dz, "up", "down")):
        if abs(v) > 1e-9:
            parts.append(f"{abs(v) * 100:.1f} cm {pos if v > 0 else neg}")
    return ", ".join(parts) or "unchanged"


def _names(ctx: EngineContext) -> list[str]:
    ctx.prim.invalidate()
    return sorted(ctx.prim.detections())


def _replan(ctx: EngineContext, state: TaskState, correction: Correction) -> CorrectionOutcome:
    names = _names(ctx)
    if correction.object is not None and correction.object not in names:
        return CorrectionOutcome(
            "rejected",
            f"there is no {correction.object} here (I see: {', '.join(names)})",
            "end" if state.get("finished") else "execute",
        )
    from policywright.agent.planner import uses_llm

    if uses_llm(ctx.planner):
        return CorrectionOutcome(
            "applied",
            "re-planning with the correction",
            "plan",
            {"feedback": [f"the person corrected the robot: {correction.text!r}"]},
        )
    command = state["command"]
    new = _slot_edit(command, state.get("program", {}).get("slots", {}), correction, names)
    if isinstance(new, CorrectionOutcome):
        return new
    return CorrectionOutcome(
        "applied",
        f"re-planning as: {new!r}",
        "plan",
        {"command": new, "feedback": [f"the person corrected the robot: {correction.text!r}"]},
    )


def _slot_edit(
    command: str, slots: dict[str, str], c: Correction, names: Sequence[str]
) -> str | CorrectionOutcome:
    """The command rewritten for the correction, by replacing one filled slot's object."""
    needs_llm = CorrectionOutcome(
        "rejected",
        f"this correction needs an LLM planner ({c.text!r}); start with --llm to use it, or "
        "give the corrected command",
        "end",
    )
    if c.retry:
        return command
    values = [v for v in slots.values() if isinstance(v, str) and v in names]
    if not values:
        return needs_llm

    def kind_of(name: str) -> str:
        return name.split()[1] if len(name.split()) > 1 else ""

    old: str | None = None
    new: str | None = None
    if c.object is not None:
        same = [v for v in values if kind_of(v) == kind_of(c.object) and v != c.object]
        if same:
            old, new = same[0], c.object
    elif c.colour is not None:
        for v in values:
            cand = f"{c.colour} {kind_of(v)}"
            if cand in names and cand != v and (c.kind_word is None or kind_of(v) == c.kind_word):
                old, new = v, cand
                break
        if old is None:
            return CorrectionOutcome(
                "rejected",
                f"there is no {c.colour} {c.kind_word or 'block or bowl'} to switch to "
                f"(I see: {', '.join(names)})",
                "end",
            )
    elif c.other:
        for v in values:
            if c.kind_word is not None and kind_of(v) != c.kind_word:
                continue
            others = [n for n in names if kind_of(n) == kind_of(v) and n not in values]
            if len(others) == 1:
                old, new = v, others[0]
                break
            if len(others) > 1:
                return CorrectionOutcome(
                    "rejected",
                    f"which {kind_of(v)} do you mean: {', '.join(others)}?",
                    "end",
                )
    if old is None or new is None:
        return needs_llm
    pattern = re.compile(rf"\b{re.escape(old)}\b", re.IGNORECASE)
    if not pattern.search(command):
        return needs_llm
    return pattern.sub(new, command, count=1)


def apply_edits(code: str, edits: Sequence[dict[str, Any]]) -> str | None:
    """The program with each nudge kept as ``shift_target(...)`` around the call's target.

    Returns None when an edit cannot be expressed (the call is not where the edit says).
    """
    if not edits:
        return code
    merged: dict[tuple[int, str], list[float]] = {}
    for e in edits:
        key = (int(e["line"]), str(e["name"]))
        prev = merged.get(key, [0.0, 0.0, 0.0])
        merged[key] = [a + float(b) for a, b in zip(prev, e["offset"], strict=False)]
    edits = [{"line": k[0], "name": k[1], "offset": v} for k, v in merged.items()]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    lines = code.splitlines(keepends=True)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))
    spans: list[tuple[int, int, str]] = []
    for edit in edits:
        target_node = None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == edit["name"]
                and node.lineno == edit["line"]
            ):
                target_node = node
                break
        if target_node is None:
            return None
        name = edit["name"]
        dx, dy, dz = (float(v) for v in edit["offset"])
        arg: ast.expr | None = None
        if name == "move_ee_to":
            arg = target_node.args[0] if target_node.args else None
        else:
            pos = 1 if name == "put_first_on_second" else 0
            kw = [k for k in target_node.keywords if k.arg == "target"]
            arg = (
                kw[0].value
                if kw
                else (target_node.args[pos] if len(target_node.args) > pos else None)
            )
        if arg is None or arg.end_lineno is None or arg.end_col_offset is None:
            return None
        start = offsets[arg.lineno - 1] + arg.col_offset
        end = offsets[arg.end_lineno - 1] + arg.end_col_offset
        src = code[start:end]
        if name == "move_ee_to":
            text = f"[float({src}[0]) + {dx!r}, float({src}[1]) + {dy!r}, float({src}[2]) + {dz!r}]"
        else:
            # Merge with an earlier shift of the same target rather than nesting.
            m = re.fullmatch(r"shift_target\((.*), (-?[0-9.e-]+), (-?[0-9.e-]+)\)", src, re.S)
            if m:
                src, dx, dy = m.group(1), dx + float(m.group(2)), dy + float(m.group(3))
            text = f"shift_target({src}, {round(dx, 4)!r}, {round(dy, 4)!r})"
        spans.append((start, end, text))
    for start, end, text in sorted(spans, reverse=True):
        code = code[:start] + text + code[end:]
    return code
