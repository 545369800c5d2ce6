"""``check_primitive``: the rules a primitive must satisfy to be safe to hand to a planner.

``@primitive`` already refuses, at decoration: no docstring or summary, an untyped or
undocumented argument, ``*args``, a private name, an argument shadowing a Python built-in. This
check adds what needs the sandbox's view: names that would hide one of the sandbox's builtins or
facades (``np``, ``math``, ``shapely``), argument and return types the JSON channel cannot carry,
world kinds no registered world has, and a listing that renders.
"""

from __future__ import annotations

import inspect
import keyword
import types
import typing
from typing import Any, Final, Literal

from policywright.errors import RegistrationError
from policywright.primitives._registry import BUILTIN_NAMES, CONTEXT_PARAM, PrimitiveSpec
from policywright.sim import default_world_registry

__all__ = [
    "KNOWN_WORLD_KINDS",  # noqa: F822 -- served by the module __getattr__ (the world registry)
    "PrimitiveCheckError",
    "check_primitive",
    "known_world_kinds",
    "transport_problem",
]

_CATEGORIES: Final[frozenset[str]] = frozenset(
    {"perception", "query", "action", "communication", "check"}
)
_SCALARS: Final[tuple[type, ...]] = (bool, int, float, str)
_MAX_SUMMARY: Final[int] = 160


def known_world_kinds() -> frozenset[str]:
    """World kinds a primitive may declare: every registered world's kind, and "*" (any)."""
    return frozenset({*default_world_registry().kinds(), "*"})


def __getattr__(name: str) -> Any:
    # Read from the world registry when asked for, not at import: loading the registry
    # imports the plugins' entry points, and a plugin imports this package.
    if name == "KNOWN_WORLD_KINDS":
        return known_world_kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PrimitiveCheckError(RegistrationError):
    """A primitive failed :func:`check_primitive`; ``problems`` lists every finding."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name, self.problems = name, list(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"primitive {name!r} failed its checks:\n{lines}")


def transport_problem(annotation: Any) -> str | None:
    """Why values of ``annotation`` cannot cross the sandbox's JSON channel (None if they can).

    JSON-like means None, bool, int, float, str, and list / tuple / dict (str keys) of those,
    unions and ``Literal`` of them, optionally inside ``Annotated`` (``ArrayReturn`` included).
    """
    if annotation is None or annotation is type(None):
        return None
    if annotation in _SCALARS:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return transport_problem(args[0])
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            problem = transport_problem(arg)
            if problem:
                return problem
        return None
    if origin is Literal:
        bad = [a for a in args if not (a is None or isinstance(a, _SCALARS))]
        return f"Literal value {bad[0]!r} is not JSON" if bad else None
    if annotation in (list, tuple, dict):
        return None
    if origin in (list, tuple):
        for arg in args:
            if arg is Ellipsis:
                continue
            problem = transport_problem(arg)
            if problem:
                return problem
        return None
    if origin is dict:
        if args and args[0] is not str:
            return f"dict keys must be str, not {args[0]!r}"
        return transport_problem(args[1]) if args else None
    return f"{annotation!r} is not JSON-like (None, bool, int, float, str, list, tuple, dict)"


def _sandbox_names() -> tuple[frozenset[str], frozenset[str]]:
    # The sandbox lives in the agent layer; imported here (only when checking) so that the
    # check and the sandbox cannot disagree about which names a program already has. Its
    # public API, read lazily: the one deliberate upward import (tests/core/test_imports.py).
    from policywright.agent.sandbox import BUILTIN_NAMES as SANDBOX_BUILTINS
    from policywright.agent.sandbox import FACADE_NAMES

    return SANDBOX_BUILTINS, FACADE_NAMES


def _shadow(name: str, sandbox_builtins: frozenset[str], facades: frozenset[str]) -> str | None:
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"the Python keyword {name!r}"
    if name in facades:
        return f"the sandbox facade {name!r}"
    if name in BUILTIN_NAMES or name in sandbox_builtins:
        return f"the built-in {name!r}"
    return None


def check_primitive(spec: PrimitiveSpec, *, raise_on_error: bool = True) -> list[str]:
    """Check a primitive the way the sandbox and the planner will use it.

    Args:
        spec: The primitive (made with ``@primitive``).
        raise_on_error: Raise :class:`PrimitiveCheckError` if anything is wrong (else return the
            problems).

    Returns:
        The problems found (empty when the primitive is fine).

    Raises:
        PrimitiveCheckError: with ``raise_on_error``, listing every problem.
    """
    if not isinstance(spec, PrimitiveSpec):
        problems = [f"not a PrimitiveSpec: {type(spec).__name__} (decorate it with @primitive)"]
        if raise_on_error:
            raise PrimitiveCheckError(repr(spec), problems)
        return problems
    problems = []
    sandbox_builtins, facades = _sandbox_names()
    if not spec.name.isidentifier() or spec.name.startswith("_"):
        problems.append(f"name {spec.name!r} is not a public identifier")
    shadowed = _shadow(spec.name, sandbox_builtins, facades)
    if shadowed:
        problems.append(f"name {spec.name!r} shadows {shadowed}")
    for p in spec.params:
        shadowed = _shadow(p.name, sandbox_builtins, facades)
        if shadowed:
            problems.append(f"argument {p.name!r} shadows {shadowed}")
        if p.name == CONTEXT_PARAM:
            problems.append(f"argument {CONTEXT_PARAM!r} is reserved for the injected context")
        problem = transport_problem(p.annotation)
        if problem:
            problems.append(f"argument {p.name!r}: the sandbox cannot transport it: {problem}")
    try:
        ret = typing.get_type_hints(spec.func, include_extras=True).get("return")
    except Exception as exc:  # a forward reference that no longer resolves
        problems.append(f"cannot resolve the type hints: {exc}")
    else:
        problem = transport_problem(ret)
        if problem:
            problems.append(f"return value: the sandbox cannot transport it: {problem}")
        if spec.returns_array and typing.get_origin(typing.get_args(ret)[0]) is not list:
            problems.append("an ArrayReturn must annotate a list of numbers")
    kinds = known_world_kinds()
    unknown = sorted(set(spec.worlds) - kinds)
    if not spec.worlds or unknown:
        problems.append(f"worlds {list(spec.worlds)} must be some of {sorted(kinds)}")
    if spec.category not in _CATEGORIES:
        problems.append(f"category {spec.category!r} is not one of {sorted(_CATEGORIES)}")
    if spec.category == "check" and not spec.read_only:
        problems.append("a check primitive must be read_only")
    if "\n" in spec.summary or len(spec.summary) > _MAX_SUMMARY:
        problems.append(f"the docstring summary must be one line of <= {_MAX_SUMMARY} characters")
    try:
        listing = spec.listing()
        spec.args_model.model_json_schema()
    except Exception as exc:  # the listing or the schema does not render
        problems.append(f"the listing does not render: {type(exc).__name__}: {exc}")
    else:
        if not listing.startswith(f"{spec.name}("):
            problems.append("the listing does not start with the signature")
    if inspect.iscoroutinefunction(spec.func):
        problems.append("async primitives are not supported (the host calls it synchronously)")
    if problems and raise_on_error:
        raise PrimitiveCheckError(spec.name, problems)
    return problems
