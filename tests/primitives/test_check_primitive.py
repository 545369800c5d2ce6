"""check_primitive and the registration rules for bad primitives (issue 4's bad-input list)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from policywright.errors import RegistrationError
from policywright.primitives import (
    PrimitiveCheckError,
    PrimitiveContext,
    Registry,
    check_primitive,
    default_registry,
    primitive,
)
from policywright.primitives._check import transport_problem
from policywright.primitives._types import XY, Array2


@pytest.mark.parametrize("spec", list(default_registry()), ids=lambda s: s.name)
def test_every_installed_primitive_passes(spec):
    assert check_primitive(spec) == []


def _good() -> Any:
    @primitive(read_only=True, category="query")
    def halfway(ctx: PrimitiveContext, a: XY, b: XY) -> Array2:
        """The point halfway between two positions.

        Args:
            a: first [x, y].
            b: second [x, y].

        Returns:
            np.array([x, y]).
        """
        return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]

    return halfway


def test_good_primitive_passes():
    assert check_primitive(_good()) == []


# --- the four bad inputs of the issue, each reported clearly -----------------------------


def test_registered_twice():
    spec = _good()
    reg = Registry([spec])
    with pytest.raises(RegistrationError, match="'halfway' is registered twice"):
        reg.add(spec)


def test_without_docstring():
    with pytest.raises(RegistrationError, match="has no docstring; its docstring is its prompt"):

        @primitive
        def nodoc(ctx: PrimitiveContext, n: int) -> int:
            return n


def test_untyped_argument():
    with pytest.raises(RegistrationError, match="argument 'n' has no type annotation"):

        @primitive
        def untyped(ctx: PrimitiveContext, n) -> int:  # type: ignore[no-untyped-def]
            """Echo.

            Args:
                n: a number.
            """
            return int(n)


@pytest.mark.parametrize("arg", ["list", "id", "max", "input"])
def test_argument_shadowing_a_builtin(arg):
    src = f'''
def f(ctx: PrimitiveContext, {arg}: int) -> int:
    """Echo.

    Args:
        {arg}: a number.
    """
    return 0
'''
    ns: dict[str, Any] = {"PrimitiveContext": PrimitiveContext}
    exec(src, ns)
    with pytest.raises(RegistrationError, match=f"argument '{arg}' shadows the Python built-in"):
        primitive(ns["f"])


# --- what only check_primitive sees ------------------------------------------------------


def test_names_shadowing_sandbox_facades_and_builtins():
    @primitive(name="np")
    def numpy_like(ctx: PrimitiveContext, math: float) -> float:
        """Shadows two facades.

        Args:
            math: a number.
        """
        return math

    problems = check_primitive(numpy_like, raise_on_error=False)
    assert "name 'np' shadows the sandbox facade 'np'" in problems
    assert "argument 'math' shadows the sandbox facade 'math'" in problems

    @primitive(name="sorted")
    def s(ctx: PrimitiveContext) -> None:
        """Shadows a builtin."""

    with pytest.raises(PrimitiveCheckError, match="name 'sorted' shadows the built-in"):
        check_primitive(s)


class Pose:
    pass


def test_return_the_sandbox_cannot_transport():
    @primitive
    def get_pose(ctx: PrimitiveContext) -> Pose:
        """A custom object."""
        return Pose()

    (problem,) = check_primitive(get_pose, raise_on_error=False)
    assert problem.startswith("return value: the sandbox cannot transport it")


def test_unknown_world_is_reported():
    @primitive(worlds=("moon",))
    def hop(ctx: PrimitiveContext) -> None:
        """Hop."""

    assert check_primitive(hop, raise_on_error=False) == [
        "worlds ['moon'] must be some of ['*', 'floor', 'mobile', 'tabletop']"
    ]


@pytest.mark.parametrize(
    ("ann", "ok"),
    [
        (None, True),
        (int, True),
        (list[float], True),
        (dict[str, list[int]], True),
        (tuple[float, ...], True),
        (str | None, True),
        (Annotated[list[float], "np.ndarray"], True),
        (dict[int, str], False),
        (set[int], False),
        (bytes, False),
        (Any, False),
    ],
)
def test_transport_rules(ann, ok):
    assert (transport_problem(ann) is None) is ok


def test_not_a_spec():
    with pytest.raises(PrimitiveCheckError, match="decorate it with @primitive"):
        check_primitive(lambda ctx: None)  # type: ignore[arg-type]
