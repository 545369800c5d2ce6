import pydantic
import pytest

from policywright.errors import RegistrationError, UnknownNameError
from policywright.primitives import XY, PrimitiveContext, Registry, primitive


def _good():
    @primitive(read_only=True, category="query")
    def scale(ctx: PrimitiveContext, pos: XY, factor: float = 2.0) -> list[float]:
        """Scale a position.

        Longer text that explains more.

        Args:
            pos: the position.
            factor: the scale factor.

        Returns:
            The scaled position.
        """
        return [pos[0] * factor, pos[1] * factor]

    return scale


def test_spec_from_signature_and_docstring():
    spec = _good()
    assert spec.name == "scale"
    assert [p.name for p in spec.params] == ["pos", "factor"]
    assert spec.signature_text() == "scale(pos: [x, y], factor: float = 2.0) -> list[float]"
    listing = spec.listing()
    assert "Scale a position." in listing
    assert "- pos: the position." in listing
    assert "Returns: The scaled position." in listing
    assert "ctx" not in listing


def test_validation_is_strict_and_finite():
    spec = _good()
    assert spec.validate([[1, 2]], {}) == {"pos": [1.0, 2.0]}
    assert spec.validate([], {"pos": [1, 2], "factor": 3}) == {"pos": [1.0, 2.0], "factor": 3.0}
    with pytest.raises(pydantic.ValidationError):
        spec.validate([[1, float("nan")]], {})
    with pytest.raises(pydantic.ValidationError):
        spec.validate(["1,2"], {})
    with pytest.raises(pydantic.ValidationError):
        spec.validate([[1, 2, 3]], {})
    with pytest.raises(TypeError, match="missing required"):
        spec.validate([], {})
    with pytest.raises(TypeError, match="unexpected keyword"):
        spec.validate([[1, 2]], {"bogus": 1})
    with pytest.raises(TypeError, match="takes 2 arguments"):
        spec.validate([[1, 2], 1.0, 3], {})


def test_undocumented_argument_fails():
    with pytest.raises(RegistrationError, match="'b' is not documented"):

        @primitive
        def f(ctx: PrimitiveContext, a: int, b: int) -> None:
            """Do.

            Args:
                a: documented.
            """


def test_missing_docstring_untyped_and_bad_context_fail():
    with pytest.raises(RegistrationError, match="no docstring"):

        @primitive
        def f(ctx: PrimitiveContext, a: int) -> None:
            pass

    with pytest.raises(RegistrationError, match="no type annotation"):

        @primitive
        def g(ctx: PrimitiveContext, a) -> None:  # type: ignore[no-untyped-def]
            """Do.

            Args:
                a: documented.
            """

    with pytest.raises(RegistrationError, match="first parameter"):

        @primitive
        def h(a: int) -> None:
            """Do.

            Args:
                a: documented.
            """

    with pytest.raises(RegistrationError, match="unknown argument"):

        @primitive
        def k(ctx: PrimitiveContext) -> None:
            """Do.

            Args:
                ghost: not a parameter.
            """

    with pytest.raises(RegistrationError, match="return annotation"):

        @primitive
        def m(ctx: PrimitiveContext):  # type: ignore[no-untyped-def]
            """Do."""


def test_duplicate_and_did_you_mean():
    reg = Registry([_good()])
    with pytest.raises(RegistrationError, match="registered twice"):
        reg.add(_good())
    with pytest.raises(UnknownNameError, match="did you mean 'scale'"):
        reg.get("scal")


def test_builtin_registry_from_entry_points():
    from policywright.primitives import default_registry

    reg = default_registry()
    names = reg.names()
    for expected in (
        "get_obj_names",
        "get_obj_pos",
        "put_first_on_second",
        "follow_path",
        "say",
        "verdict",
        "denormalize_xy",
        "get_corner_name",
        "get_bbox",
    ):
        assert expected in names
    read_only = reg.names(read_only=True)
    assert "put_first_on_second" not in read_only and "get_obj_pos" in read_only
    assert reg.get("get_obj_pos").returns_array
    listing = reg.listing()
    assert "put_first_on_second(obj: str | [x, y], target: str | [x, y]) -> None" in listing
