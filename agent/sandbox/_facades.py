"""Curated facades and builtins: the only library surface a program sees.

A facade is an object that exposes an allow-list of plain functions and constants taken from
numpy, math or shapely -- never the module itself, because whole modules reach the file
system (``np.load``, ``np.fromfile``), ctypes (``np.ctypeslib``) or subprocesses
(``np.f2py``).  Every callable member is wrapped in a plain Python function so that it exposes
nothing but dunders (which the static checker refuses) -- no ufunc methods, no class objects
with ``mro`` or subclass lists.

The allow-lists are plain data (:data:`FACADE_MEMBERS`) so that the static checker, the prompt
listing and the runtime agree.  Building the facade objects imports numpy and shapely, so it
happens only when :func:`build_facades` is called (in the zygote or a cold child), never at
import time of this module.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "BUILTIN_NAMES",
    "FACADE_MEMBERS",
    "FACADE_NAMES",
    "Facade",
    "PrimitiveError",
    "build_builtins",
    "build_facades",
]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (keeps long allow-lists readable)."""
    return frozenset(text.split())


class PrimitiveError(RuntimeError):
    """Raised inside a program when the engine rejects a primitive call; it may be caught."""


#: The builtins a program may use (``print`` is replaced by a capturing function at runtime).
_BUILTIN_FUNCTIONS: Final = (
    "abs",
    "all",
    "any",
    "bool",
    "callable",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "isinstance",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "ord",
    "pow",
    "print",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
)

#: Exception classes a program may raise or catch.  BaseException, SystemExit and
#: KeyboardInterrupt are left out on purpose: a program must not be able to fake an exit.
_BUILTIN_EXCEPTIONS: Final = (
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "Exception",
    "IndexError",
    "KeyError",
    "LookupError",
    "NotImplementedError",
    "RuntimeError",
    "StopIteration",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
)

#: Every builtin name a program may load, including :class:`PrimitiveError`.
BUILTIN_NAMES: Final[frozenset[str]] = frozenset(
    (*_BUILTIN_FUNCTIONS, *_BUILTIN_EXCEPTIONS, "PrimitiveError")
)

_NP_MEMBERS: Final = _words("""
    abs absolute all allclose amax amin any append arange arccos arcsin arctan arctan2 argmax
    argmin argsort argwhere array array_equal asarray atleast_1d atleast_2d average cbrt ceil
    clip column_stack concatenate corrcoef cos cosh count_nonzero cov cross cumprod cumsum
    deg2rad degrees delete diff digitize dot e expand_dims exp eye flip float32 float64 floor
    floor_divide fmod full full_like hstack hypot identity inf insert int32 int64 interp
    isclose isfinite isinf isnan linalg linspace log log10 log2 logical_and logical_not
    logical_or matmul max maximum mean median meshgrid min minimum mod nan nanmax nanmean
    nanmin newaxis nonzero ones ones_like outer percentile pi power prod ptp quantile
    rad2deg radians random ravel repeat reshape rint roll round searchsorted sign sin sinh
    sort sqrt square squeeze stack std sum tan tanh tile trace transpose trunc unique unwrap
    var vstack where zeros zeros_like
    """)
_NP_LINALG_MEMBERS: Final = _words("norm det inv solve pinv eig eigh svd lstsq")
_NP_RANDOM_MEMBERS: Final = _words(
    "choice normal permutation rand randint randn random seed shuffle uniform"
)
_MATH_MEMBERS: Final = _words("""
    acos asin atan atan2 ceil comb copysign cos cosh degrees dist e exp fabs factorial floor
    fmod fsum gcd hypot inf isclose isfinite isinf isnan log log10 log2 nan pi pow prod
    radians remainder sin sinh sqrt tan tanh tau trunc
    """)
_SHAPELY_MEMBERS: Final = _words("""
    LineString LinearRing MultiLineString MultiPoint MultiPolygon Point Polygon affinity box
    ops unary_union
    """)
_SHAPELY_AFFINITY_MEMBERS: Final = _words("rotate scale skew translate")
_SHAPELY_OPS_MEMBERS: Final = _words("nearest_points unary_union")

#: Allow-listed members per facade path ("np", "np.linalg", ...).  A member that is itself a
#: key of this mapping is a nested facade.
FACADE_MEMBERS: Final[Mapping[str, frozenset[str]]] = {
    "np": _NP_MEMBERS,
    "np.linalg": _NP_LINALG_MEMBERS,
    "np.random": _NP_RANDOM_MEMBERS,
    "math": _MATH_MEMBERS,
    "shapely": _SHAPELY_MEMBERS,
    "shapely.affinity": _SHAPELY_AFFINITY_MEMBERS,
    "shapely.ops": _SHAPELY_OPS_MEMBERS,
}

#: The top-level facade names a program sees.
FACADE_NAMES: Final[frozenset[str]] = frozenset(p for p in FACADE_MEMBERS if "." not in p)

# numpy scalar types are passed through unwrapped: they are needed as ``dtype=np.float64``
# arguments and as constructors; the static checker still refuses their dunders and ``mro``.
_PASS_THROUGH_TYPES: Final = frozenset({"np.float32", "np.float64", "np.int32", "np.int64"})


class Facade:
    """A read-only namespace holding an allow-list of members.

    Attribute access outside the allow-list raises AttributeError naming the members that
    exist, so that the message helps a planner fix its code.
    """

    __slots__ = ("_pw_members", "_pw_path")

    def __init__(self, path: str, members: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_pw_path", path)
        object.__setattr__(self, "_pw_members", dict(members))

    def __getattr__(self, attr: str) -> Any:
        members: dict[str, Any] = object.__getattribute__(self, "_pw_members")
        try:
            return members[attr]
        except KeyError:
            path: str = object.__getattribute__(self, "_pw_path")
            raise AttributeError(
                f"{path}.{attr} is not available in the sandbox; "
                f"available: {', '.join(sorted(members))}"
            ) from None

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError("sandbox facades are read-only")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError("sandbox facades are read-only")

    def __dir__(self) -> Iterable[str]:
        members: dict[str, Any] = object.__getattribute__(self, "_pw_members")
        return sorted(members)

    def __repr__(self) -> str:
        return f"<sandbox facade {object.__getattribute__(self, '_pw_path')}>"


def _wrap(fn: Callable[..., Any], qualname: str) -> Callable[..., Any]:
    """Wrap ``fn`` in a plain function so that only dunders are reachable from it."""

    def member(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    member.__name__ = qualname.rsplit(".", 1)[-1]
    member.__qualname__ = qualname
    member.__doc__ = getattr(fn, "__doc__", None)
    return member


def _build(path: str, source: Any) -> Facade:
    members: dict[str, Any] = {}
    for name in sorted(FACADE_MEMBERS[path]):
        qual = f"{path}.{name}"
        if qual in FACADE_MEMBERS:
            members[name] = _build(qual, getattr(source, name))
            continue
        value = getattr(source, name)
        if qual in _PASS_THROUGH_TYPES or value is None or isinstance(value, int | float):
            members[name] = value
        elif callable(value):
            members[name] = _wrap(value, qual)
        else:  # pragma: no cover - the allow-list holds only functions and numbers
            raise TypeError(f"facade member {qual} is neither callable nor a number")
    return Facade(path, members)


def build_facades() -> dict[str, Facade]:
    """Build the facade objects (imports numpy and shapely).

    Returns:
        A mapping from each name in :data:`FACADE_NAMES` to its facade.
    """
    import math

    import numpy
    import shapely
    import shapely.affinity
    import shapely.ops

    sources = {"np": numpy, "math": math, "shapely": shapely}
    return {name: _build(name, sources[name]) for name in sorted(FACADE_NAMES)}


# Top-level packages whose already-loaded modules the C parts of numpy may re-import.
_INTERNAL_IMPORT_PACKAGES: Final = frozenset({"numpy", "shapely"})


def _internal_import(
    name: str,
    globals: Mapping[str, object] | None = None,
    locals: Mapping[str, object] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> Any:
    """``__import__`` for library code running under the program's builtins.

    C functions such as ``ndarray.sum`` import helper modules lazily through the builtins of
    the calling frame, which is the program's frame.  This hook returns modules of numpy and
    shapely that are already loaded (no file is opened) and refuses everything else.  Programs
    cannot name it: import statements and ``_``-names are refused by the static checks.
    """
    if level == 0 and name.partition(".")[0] in _INTERNAL_IMPORT_PACKAGES and name in sys.modules:
        return builtins.__import__(name, globals, locals, fromlist, level)
    raise ImportError(f"import of {name!r} is not allowed in the sandbox")


def build_builtins(print_fn: Callable[..., None]) -> dict[str, Any]:
    """Build the curated ``__builtins__`` dict of a program.

    Args:
        print_fn: The function that replaces ``print`` (it captures the output).

    Returns:
        A fresh dict holding :data:`BUILTIN_NAMES`, plus a restricted ``__import__`` that
        library code needs (see :func:`_internal_import`).
    """
    table: dict[str, Any] = {
        name: getattr(builtins, name) for name in (*_BUILTIN_FUNCTIONS, *_BUILTIN_EXCEPTIONS)
    }
    table["print"] = print_fn
    table["PrimitiveError"] = PrimitiveError
    table["__import__"] = _internal_import
    return table
