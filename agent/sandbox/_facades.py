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
    "ARRAY_MEMBERS",
    "BUILTIN_NAMES",
    "FACADE_MEMBERS",
    "FACADE_NAMES",
    "REFUSED_ARRAY_MEMBERS",
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

#: The members of ``np.ndarray`` and numpy scalars a program may use (an allow-list: every other
#: public member of those types is refused, see :func:`refused_array_members`).  None of them
#: frees, re-points or reinterprets an array's memory, or hands out a raw pointer.
ARRAY_MEMBERS: Final[frozenset[str]] = _words("""
    T mT all any argmax argmin argpartition argsort astype clip compress conj conjugate copy
    cumprod cumsum diagonal dot dtype fill flat flatten imag item itemsize max mean min nbytes
    ndim nonzero partition prod ptp ravel real repeat reshape round searchsorted shape size
    sort squeeze std sum swapaxes take tolist trace transpose var
    """)

#: Members of arrays and numpy scalars that are refused, whatever numpy is installed (the
#: numpy installed adds its own new members, see :func:`refused_array_members`):
#:   resize: frees the buffer under live views (``refcheck=False``: use after free).
#:   view, getfield, setfield, byteswap, newbyteorder: reinterpret memory (an int64 view of an
#:       object array forges object pointers).
#:   base, data, ctypes, strides, flags, setflags: the owner, the raw buffer, a pointer,
#:       the memory layout, and making read-only memory writeable.
#:   tofile, dump, dumps, tobytes, tostring: files, pickles and raw bytes.
#:   put, itemset, choose, device, to_device: not needed by policies (allow-list, fail closed).
REFUSED_ARRAY_MEMBERS: Final[frozenset[str]] = _words("""
    resize view getfield setfield byteswap newbyteorder base data ctypes strides flags setflags
    tofile dump dumps tobytes tostring put itemset choose device to_device
    """)

#: The top-level facade names a program sees.
FACADE_NAMES: Final[frozenset[str]] = frozenset(p for p in FACADE_MEMBERS if "." not in p)

# numpy scalar types are passed through unwrapped: they are needed as ``dtype=np.float64``
# arguments and as constructors; the static checker still refuses their dunders and ``mro``.
_PASS_THROUGH_TYPES: Final = frozenset({"np.float32", "np.float64", "np.int32", "np.int64"})


def refused_array_members() -> frozenset[str]:
    """Every public member of ``np.ndarray`` and numpy scalars outside :data:`ARRAY_MEMBERS`.

    Computed from the numpy installed (and cached), so that a member added by a newer numpy
    is refused until someone reviews it and adds it to the allow-list: fail closed.

    Returns:
        :data:`REFUSED_ARRAY_MEMBERS` plus the installed numpy's unreviewed members.
    """
    global _refused_cache
    if _refused_cache is None:
        import numpy

        public = {
            name
            for kind in (numpy.ndarray, numpy.generic, numpy.float64, numpy.int64)
            for name in dir(kind)
            if not name.startswith("_")
        }
        # Plain float and int have these too (x.is_integer(), x.numerator): they are safe.
        public -= _SCALAR_NUMBER_MEMBERS
        _refused_cache = frozenset(REFUSED_ARRAY_MEMBERS | (public - ARRAY_MEMBERS))
    return _refused_cache


_refused_cache: frozenset[str] | None = None
_SCALAR_NUMBER_MEMBERS: Final = _words("""
    as_integer_ratio bit_count bit_length conjugate denominator fromhex hex is_integer
    numerator
    """)


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

    # np.median, np.percentile, np.quantile and np.unique import numpy.ma on first use; a
    # child cannot open the files of a lazy import (RLIMIT_NOFILE, Landlock), so load it here.
    import numpy.ma
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
