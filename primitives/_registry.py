"""The `@primitive` decorator, `PrimitiveSpec` and the `Registry`.

A primitive's typed signature and Google-style docstring are the single source of truth: the
pydantic model that validates each call from a program and the listing that a planner sees are
both generated from them, so the prompt cannot drift from the API.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import logging
import math
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, get_type_hints, overload

import docstring_parser
import pydantic

from policywright.errors import RegistrationError, UnknownNameError

__all__ = [
    "BUILTIN_NAMES",
    "Category",
    "ParamSpec",
    "PrimitiveSpec",
    "Registry",
    "primitive",
]

logger = logging.getLogger(__name__)

Category = Literal["perception", "query", "action", "communication", "check"]

#: Python's built-in names: an argument called ``list`` or ``id`` would hide the built-in inside
#: the primitive and reads ambiguously in the planner's listing, so registration refuses it.
BUILTIN_NAMES: frozenset[str] = frozenset(n for n in vars(builtins) if not n.startswith("_"))

#: The name of the injected first parameter (the engine's context); never shown to a planner.
CONTEXT_PARAM = "ctx"


@dataclass(frozen=True)
class ParamSpec:
    """One argument of a primitive, as the planner sees it."""

    name: str
    annotation: Any
    type_text: str
    description: str
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        """Whether the argument has no default."""
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class PrimitiveSpec:
    """A registered primitive: the function, its validated signature and its prompt listing."""

    name: str
    func: Callable[..., Any]
    params: tuple[ParamSpec, ...]
    summary: str
    description: str
    returns: str
    return_text: str
    returns_array: bool
    read_only: bool
    category: Category
    args_model: type[pydantic.BaseModel] = field(repr=False)
    #: World kinds this primitive works in ("tabletop", "floor", "mobile", or "*" for any).
    worlds: tuple[str, ...] = ("tabletop",)

    def available_in(self, world_kind: str) -> bool:
        """Whether the primitive works in a world of kind ``world_kind``."""
        return "*" in self.worlds or world_kind in self.worlds

    def signature_text(self) -> str:
        """The signature line shown to a planner, e.g. ``pick(obj: str) -> None``."""
        parts = []
        for p in self.params:
            text = f"{p.name}: {p.type_text}"
            if not p.required:
                text += f" = {p.default!r}"
            parts.append(text)
        return f"{self.name}({', '.join(parts)}) -> {self.return_text}"

    def listing(self) -> str:
        """The full prompt listing: signature, description, arguments and return value."""
        lines = [self.signature_text(), f"    {self.summary}"]
        if self.description:
            lines += [f"    {line}".rstrip() for line in self.description.splitlines()]
        for p in self.params:
            lines.append(f"    - {p.name}: {p.description}")
        if self.returns:
            lines.append(f"    Returns: {self.returns}")
        return "\n".join(lines)

    def validate(self, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Bind positional and keyword arguments and validate them strictly.

        Raises:
            TypeError: the arguments do not fit the signature.
            pydantic.ValidationError: an argument has the wrong type or value.
        """
        if len(args) > len(self.params):
            raise TypeError(
                f"{self.name}() takes {len(self.params)} arguments but {len(args)} were given"
            )
        bound: dict[str, Any] = {}
        for p, value in zip(self.params, args, strict=False):
            bound[p.name] = value
        known = {p.name for p in self.params}
        for key, value in kwargs.items():
            if key not in known:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
            if key in bound:
                raise TypeError(f"{self.name}() got multiple values for argument {key!r}")
            bound[key] = value
        missing = [p.name for p in self.params if p.required and p.name not in bound]
        if missing:
            raise TypeError(f"{self.name}() missing required argument(s): {', '.join(missing)}")
        model = self.args_model.model_validate(bound)
        return {p.name: getattr(model, p.name) for p in self.params if p.name in bound}


def _type_text(annotation: Any) -> str:
    """A short, planner-friendly rendering of a type annotation."""
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:
        for item in metadata:
            if isinstance(item, str):
                return item
        return _type_text(typing.get_args(annotation)[0])
    if annotation is type(None) or annotation is None:
        return "None"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_text(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_text(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def _returns_array(annotation: Any) -> bool:
    metadata = getattr(annotation, "__metadata__", ())
    return any(getattr(m, "returns_array", False) for m in metadata)


@dataclass(frozen=True)
class ArrayReturn:
    """Marker in ``Annotated[...]`` return types: the program receives a numpy array."""

    returns_array: bool = True


def _build_spec(
    func: Callable[..., Any],
    *,
    name: str | None,
    read_only: bool,
    category: Category,
    worlds: Sequence[str] = ("tabletop",),
) -> PrimitiveSpec:
    pname = name or func.__name__
    where = f"primitive {pname!r} ({func.__module__}.{func.__qualname__})"
    if not pname.isidentifier() or pname.startswith("_"):
        raise RegistrationError(f"{where}: the name must be a public identifier")
    if not func.__doc__ or not func.__doc__.strip():
        raise RegistrationError(f"{where}: has no docstring; its docstring is its prompt listing")
    doc = docstring_parser.parse(func.__doc__, style=docstring_parser.DocstringStyle.GOOGLE)
    if not doc.short_description:
        raise RegistrationError(f"{where}: the docstring needs a one-line summary")
    try:
        hints = get_type_hints(func, include_extras=True)
    except Exception as exc:  # a NameError in a forward reference, for example
        raise RegistrationError(f"{where}: cannot resolve its type hints: {exc}") from exc

    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if not params or params[0].name != CONTEXT_PARAM:
        raise RegistrationError(
            f"{where}: the first parameter must be {CONTEXT_PARAM!r} (the injected context)"
        )
    documented = {p.arg_name: (p.description or "").strip() for p in doc.params}
    specs: list[ParamSpec] = []
    fields: dict[str, Any] = {}
    for p in params[1:]:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise RegistrationError(f"{where}: *args/**kwargs are not allowed ({p.name})")
        if p.name not in hints:
            raise RegistrationError(f"{where}: argument {p.name!r} has no type annotation")
        if p.name.startswith("_"):
            raise RegistrationError(f"{where}: argument {p.name!r} must not start with '_'")
        if p.name in BUILTIN_NAMES or keyword.iskeyword(p.name):
            raise RegistrationError(
                f"{where}: argument {p.name!r} shadows the Python built-in {p.name!r}; rename it"
            )
        if not documented.get(p.name):
            raise RegistrationError(
                f"{where}: argument {p.name!r} is not documented in the docstring's Args section"
            )
        ann = hints[p.name]
        specs.append(ParamSpec(p.name, ann, _type_text(ann), documented[p.name], p.default))
        fields[p.name] = (ann, ... if p.default is p.empty else p.default)
    extra_doc = set(documented) - {s.name for s in specs}
    if extra_doc:
        raise RegistrationError(
            f"{where}: the docstring documents unknown argument(s) {sorted(extra_doc)}"
        )
    if "return" not in hints:
        raise RegistrationError(f"{where}: has no return annotation")
    ret = hints["return"]
    model = pydantic.create_model(
        f"{pname}_args",
        __config__=pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False),
        **fields,
    )
    return PrimitiveSpec(
        name=pname,
        func=func,
        params=tuple(specs),
        summary=doc.short_description.strip(),
        description=(doc.long_description or "").strip(),
        returns=(doc.returns.description or "").strip() if doc.returns else "",
        return_text=_type_text(ret),
        returns_array=_returns_array(ret),
        read_only=read_only,
        category=category,
        args_model=model,
        worlds=tuple(worlds),
    )


@overload
def primitive(func: Callable[..., Any], /) -> PrimitiveSpec: ...


@overload
def primitive(
    *,
    name: str | None = None,
    read_only: bool = False,
    category: Category = "action",
    worlds: Sequence[str] = ("tabletop",),
) -> Callable[[Callable[..., Any]], PrimitiveSpec]: ...


def primitive(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    read_only: bool = False,
    category: Category = "action",
    worlds: Sequence[str] = ("tabletop",),
) -> PrimitiveSpec | Callable[[Callable[..., Any]], PrimitiveSpec]:
    """Turn a typed, documented function into a :class:`PrimitiveSpec`.

    The function's first parameter must be ``ctx`` (the engine injects it); every other
    parameter needs a type annotation and a line in the docstring's ``Args:`` section.
    Decoration validates all of that and fails with :class:`RegistrationError` otherwise.
    It registers nothing: add the spec to a :class:`Registry` (or expose it through the
    ``policywright.primitives`` entry point).

    Args:
        func: the function (when used without parentheses).
        name: the name programs call it by; defaults to the function's name.
        read_only: whether it only observes (then check programs may call it).
        category: its group in the listing.
        worlds: the world kinds it works in ("tabletop", "floor", "mobile"; "*" for any).

    Returns:
        The spec, or a decorator producing it.
    """

    def wrap(f: Callable[..., Any]) -> PrimitiveSpec:
        return _build_spec(f, name=name, read_only=read_only, category=category, worlds=worlds)

    return wrap(func) if func is not None else wrap


def _iter_specs(obj: Any, source: str) -> Iterator[PrimitiveSpec]:
    if isinstance(obj, PrimitiveSpec):
        yield obj
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        for item in obj:
            yield from _iter_specs(item, source)
    else:
        raise RegistrationError(f"{source} provides {type(obj).__name__}, not a PrimitiveSpec")


def has_non_finite(value: Any) -> bool:
    """Whether a JSON-like value holds NaN or an infinity anywhere."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    return False


class Registry:
    """Primitives keyed by name, with did-you-mean lookups and a generated prompt listing."""

    def __init__(self, specs: Iterable[PrimitiveSpec] = ()) -> None:
        """Create a registry holding ``specs``.

        Args:
            specs: primitives to add; a duplicate name raises RegistrationError.
        """
        self._specs: dict[str, PrimitiveSpec] = {}
        for spec in specs:
            self.add(spec)

    @classmethod
    def from_entry_points(cls, group: str = "policywright.primitives") -> Registry:
        """Build a registry from every installed package's entry points in ``group``.

        Args:
            group: the entry point group to load.

        Returns:
            The registry; the built-in tabletop API comes through the same mechanism.
        """
        reg = cls()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            for spec in _iter_specs(ep.load(), f"entry point {ep.name!r} ({ep.value})"):
                reg.add(spec)
        return reg

    def add(self, spec: PrimitiveSpec) -> None:
        """Register a primitive.

        Args:
            spec: the primitive (made with ``@primitive``).

        Raises:
            RegistrationError: the name is taken.
        """
        if not isinstance(spec, PrimitiveSpec):
            raise RegistrationError(f"not a PrimitiveSpec: {spec!r} (decorate it with @primitive)")
        if spec.name in self._specs:
            raise RegistrationError(f"primitive {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def for_world(self, world_kind: str) -> Registry:
        """A registry holding only the primitives that work in a world of ``world_kind``."""
        return Registry(s for s in self._specs.values() if s.available_in(world_kind))

    def get(self, name: str) -> PrimitiveSpec:
        """The primitive called ``name``.

        Raises:
            UnknownNameError: no such primitive (the message suggests close names).
        """
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownNameError("primitive", name, list(self._specs)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[PrimitiveSpec]:
        return iter(self._specs.values())

    def names(self, *, read_only: bool = False) -> list[str]:
        """Names of the primitives (only the read-only ones if asked)."""
        return [s.name for s in self._specs.values() if s.read_only or not read_only]

    def listing(self, *, read_only: bool = False) -> str:
        """The prompt listing a planner sees, grouped by category."""
        order: list[Category] = ["perception", "query", "action", "communication", "check"]
        blocks: list[str] = []
        for cat in order:
            specs = [
                s
                for s in self._specs.values()
                if s.category == cat and (s.read_only or not read_only)
            ]
            if specs:
                blocks.append(f"# {cat}\n" + "\n\n".join(s.listing() for s in specs))
        return "\n\n".join(blocks)
