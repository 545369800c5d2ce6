"""Hierarchical code generation (Code as Policies' "fgen"): write the functions a program calls.

A program may call a function it does not define (``stack_blocks_in_order(...)``). Each such
name that is neither a primitive, a sandbox facade or builtin, nor defined in the program is
resolved in turn: from the function library (no model call) or by asking the model for a
``def``; the names the new function calls are resolved the same way, one level deeper, up to a
depth limit. Every function is held to the sandbox's static rules before it is accepted, and
the definitions are prepended to the program.

Only *called* names are written: an undefined variable is a plain mistake that the static
check reports to the model as such.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from policywright.agent.planner._extract import extract_function
from policywright.agent.sandbox import check_program
from policywright.errors import ModelReplyError

__all__ = [
    "CallSite",
    "CodegenResult",
    "FunctionRequest",
    "complete_program",
    "function_defs",
    "undefined_calls",
]

logger = logging.getLogger(__name__)

#: At most this many call sites are shown to the function writer.
MAX_CALL_SITES = 3


@dataclass(frozen=True)
class CallSite:
    """A line that calls the missing function.

    Attributes:
        number: Line number in the code that calls it.
        text: The line, stripped.
    """

    number: int
    text: str


@dataclass(frozen=True)
class FunctionRequest:
    """What the function writer is asked for.

    Attributes:
        name: The function to write.
        call_sites: Where it is called.
        defined: Functions already available to it.
        mode: "act" (policy program) or "check" (check program).
        depth: Its level (1 = called by the program itself).
        depth_left: How many more levels of new functions it may call.
    """

    name: str
    call_sites: tuple[CallSite, ...]
    defined: tuple[str, ...]
    mode: str
    depth: int
    depth_left: int


@dataclass
class CodegenResult:
    """A program with the definitions of the functions it called prepended.

    Attributes:
        code: The complete program.
        written: Functions the model wrote, in order.
        reused: Functions taken from the library, in order.
        definitions: name -> source of every prepended function.
    """

    code: str
    written: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    definitions: dict[str, str] = field(default_factory=dict)


def function_defs(code: str) -> dict[str, str]:
    """The top-level ``def`` statements of ``code``, name -> source (empty if it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            src = ast.get_source_segment(code, node)
            if src is not None:
                out[node.name] = src.rstrip() + "\n"
    return out


def _called_names(tree: ast.AST) -> dict[str, list[int]]:
    calls: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.setdefault(node.func.id, []).append(node.lineno)
    return calls


def undefined_calls(
    code: str, primitive_names: Collection[str], extra_names: Collection[str] = ()
) -> tuple[list[str], bool]:
    """Names ``code`` calls that are defined nowhere, and whether other violations exist.

    Args:
        code: A program (or function definitions).
        primitive_names: The primitives the code may call.
        extra_names: Names defined elsewhere (functions prepended to the same program).

    Returns:
        (undefined called names in order of first use, True if the static check found any
        violation other than undefined names).
    """
    report = check_program(code, primitive_names=primitive_names, extra_names=extra_names)
    undefined = report.undefined_names
    if not undefined:
        return [], bool(report.blocking)
    called = _called_names(ast.parse(code))
    return [n for n in undefined if n in called], bool(report.blocking)


def _call_sites(code: str, name: str) -> tuple[CallSite, ...]:
    lines = code.split("\n")
    numbers = sorted(set(_called_names(ast.parse(code)).get(name, [])))
    return tuple(CallSite(n, lines[n - 1].strip()) for n in numbers[:MAX_CALL_SITES])


def _refusal(name: str, code: str, primitive_names: Collection[str], known: set[str]) -> str | None:
    """Why the static rules refuse the function ``name`` (None when they accept it)."""
    report = check_program(code, primitive_names=primitive_names, extra_names=known)
    if not report.blocking:
        return None
    lines = "; ".join(f"line {v.line}: [{v.rule}] {v.message}" for v in report.blocking[:5])
    return f"the function {name!r} was refused by the static checks: {lines}"


def complete_program(
    code: str,
    *,
    primitive_names: Collection[str],
    other_mode_names: Collection[str] = (),
    mode: str = "act",
    library: Callable[[str], str | None] = lambda _name: None,
    write: Callable[[FunctionRequest], str] | None = None,
    max_depth: int = 2,
) -> CodegenResult:
    """Prepend definitions for every function ``code`` calls but nobody defined.

    Args:
        code: The program (it parses).
        primitive_names: The primitives of ``mode``.
        other_mode_names: Primitives of the other mode (a check program calling an action
            primitive): never written as functions, reported instead.
        mode: "act" or "check" (told to the function writer).
        library: name -> stored definition, or None (tried before the model).
        write: Asks the model for a definition; returns the reply text. None: no model.
        max_depth: Deepest level of written functions (1 = only those the program calls).

    Returns:
        The complete program and what was written or reused.

    Raises:
        ModelReplyError: A function is needed beyond the depth limit, a written function is
            refused by the static rules or malformed, or the code calls a primitive its mode
            may not use.
    """
    missing, blocking = undefined_calls(code, primitive_names)
    result = CodegenResult(code=code)
    if not missing:
        return result
    if blocking:
        # A program the static rules refuse anyway gets no model-written helpers (that would
        # waste model calls), but the library functions it calls are added: the prompt said
        # they exist, and feedback claiming they are undefined would mislead the model.
        return _with_library(code, missing, primitive_names, library, result)
    known: set[str] = set(function_defs(code))
    # (name, depth, chain of callers, source calling it)
    queue: list[tuple[str, int, tuple[str, ...], str]] = [(n, 1, (), code) for n in missing]
    while queue:
        name, depth, chain, caller_src = queue.pop(0)
        if name in known:
            continue
        path = " -> ".join([*chain, name])
        if name in other_mode_names:
            raise ModelReplyError(
                f"the {'check' if mode == 'check' else 'policy'} program calls {name!r} "
                f"({path}), which this kind of program may not use"
                + (": check programs may call only read-only functions" if mode == "check" else "")
            )
        if depth > max_depth:
            raise ModelReplyError(
                f"function generation stopped at the depth limit (max_function_depth="
                f"{max_depth}): {path} is still undefined; define it inside its caller or "
                "call listed functions only"
            )
        source: str | None = None
        stored = library(name)
        if stored is not None and name in function_defs(stored):
            stored_known = known | set(function_defs(stored))
            wrong_mode = set(undefined_calls(stored, primitive_names, stored_known)[0]) & set(
                other_mode_names
            )
            if not wrong_mode and _refusal(name, stored, primitive_names, stored_known) is None:
                source = stored
                result.reused.append(name)
            else:
                logger.info("library function %r does not fit a %s program; rewriting", name, mode)
        if source is None:
            if write is None:
                raise ModelReplyError(f"the program calls {name!r}, which is not defined")
            request = FunctionRequest(
                name=name,
                call_sites=_call_sites(caller_src, name),
                defined=tuple(sorted(known)),
                mode=mode,
                depth=depth,
                depth_left=max_depth - depth,
            )
            source = extract_function(write(request), name)
            problem = _refusal(name, source, primitive_names, known | set(function_defs(source)))
            if problem is not None:
                raise ModelReplyError(problem)
            result.written.append(name)
        new_defs = function_defs(source)
        known |= set(new_defs)
        result.definitions.update(new_defs)
        nested, _ = undefined_calls(source, primitive_names, known)
        queue.extend((n, depth + 1, (*chain, name), source) for n in nested if n not in known)
    prefix = "\n".join(src.rstrip() + "\n" for src in result.definitions.values())
    result.code = prefix + "\n" + code if prefix else code
    return result


def _with_library(
    code: str,
    missing: Collection[str],
    primitive_names: Collection[str],
    library: Callable[[str], str | None],
    result: CodegenResult,
) -> CodegenResult:
    """``code`` with the library functions it (and they) call prepended; nothing written."""
    known: set[str] = set(function_defs(code))
    queue = list(missing)
    while queue:
        name = queue.pop(0)
        if name in known:
            continue
        stored = library(name)
        if stored is None or name not in function_defs(stored):
            continue
        defs = function_defs(stored)
        known |= set(defs)
        result.definitions.update(defs)
        result.reused.append(name)
        queue.extend(undefined_calls(stored, primitive_names, known)[0])
    if not result.definitions:
        return result
    prefix = "\n".join(src.rstrip() + "\n" for src in result.definitions.values())
    result.code = prefix + "\n" + code
    return result
