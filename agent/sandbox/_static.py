"""Static checks of a program: source checks, then an AST allow-list that fails closed.

These checks are defence in depth and a source of precise feedback for the planner; the
security boundary is the child process (see ``_child.py``).  Anything not explicitly allowed
is refused: a node type missing from :data:`_ALLOWED_NODES` -- including node types added by a
future Python -- is a violation.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Collection, Iterator
from typing import Final

from policywright.agent.sandbox._facades import (
    BUILTIN_NAMES,
    FACADE_MEMBERS,
    FACADE_NAMES,
    refused_array_members,
)
from policywright.agent.sandbox._models import (
    MAX_NAME_CHARS,
    MAX_VIOLATIONS,
    UNDEFINED_NAME_RULE,
    StaticReport,
    Violation,
    clip_text,
)

__all__ = ["DEFAULT_MAX_SOURCE_CHARS", "check_program", "check_source"]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (keeps long allow-lists readable)."""
    return frozenset(text.split())


DEFAULT_MAX_SOURCE_CHARS: Final = 20_000

_ALLOWED_NODES: Final[frozenset[type[ast.AST]]] = frozenset(
    {
        ast.Module,
        ast.Expr,
        ast.Assign,
        ast.AugAssign,
        ast.AnnAssign,
        ast.For,
        ast.While,
        ast.If,
        ast.Break,
        ast.Continue,
        ast.Pass,
        ast.FunctionDef,
        ast.Return,
        ast.Lambda,
        ast.Call,
        ast.Name,
        ast.Attribute,
        ast.Subscript,
        ast.Slice,
        ast.Constant,
        ast.JoinedStr,
        ast.FormattedValue,
        ast.List,
        ast.Tuple,
        ast.Dict,
        ast.Set,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
        ast.comprehension,
        ast.BoolOp,
        ast.BinOp,
        ast.UnaryOp,
        ast.Compare,
        ast.IfExp,
        ast.Try,
        ast.ExceptHandler,
        ast.Raise,
        ast.Assert,
        ast.Starred,
        ast.keyword,
        ast.arguments,
        ast.arg,
        ast.Load,
        ast.Store,
        # operators
        ast.And,
        ast.Or,
        ast.Add,
        ast.Sub,
        ast.Mult,
        ast.MatMult,
        ast.Div,
        ast.Mod,
        ast.Pow,
        ast.LShift,
        ast.RShift,
        ast.BitOr,
        ast.BitXor,
        ast.BitAnd,
        ast.FloorDiv,
        ast.Invert,
        ast.Not,
        ast.UAdd,
        ast.USub,
        ast.Eq,
        ast.NotEq,
        ast.Lt,
        ast.LtE,
        ast.Gt,
        ast.GtE,
        ast.Is,
        ast.IsNot,
        ast.In,
        ast.NotIn,
    }
)

# Refused node types with a rule id and a hint the planner can act on.  Node types absent from
# both tables are refused as "node-type" with a generic message (fail closed).
_REFUSED_NODES: Final[dict[str, tuple[str, str]]] = {
    "Import": ("import", "imports are not allowed; np, math and shapely are already available"),
    "ImportFrom": (
        "import",
        "imports are not allowed; np, math and shapely are already available",
    ),
    "Global": ("global", "'global' is not allowed; pass values as arguments and return them"),
    "Nonlocal": ("global", "'nonlocal' is not allowed; pass values as arguments and return them"),
    "ClassDef": ("node-type", "class definitions are not allowed; use functions, dicts, lists"),
    "With": ("node-type", "'with' statements are not allowed"),
    "AsyncWith": ("node-type", "async code is not allowed"),
    "AsyncFunctionDef": ("node-type", "async functions are not allowed"),
    "AsyncFor": ("node-type", "async code is not allowed"),
    "Await": ("node-type", "async code is not allowed"),
    "Yield": ("node-type", "generators ('yield') are not allowed; return a list instead"),
    "YieldFrom": ("node-type", "generators ('yield') are not allowed; return a list instead"),
    "Match": ("node-type", "'match' statements are not allowed; use if/elif"),
    "NamedExpr": ("node-type", "the walrus operator ':=' is not allowed; assign on its own line"),
    "Delete": ("node-type", "'del' is not allowed; rebind the name or build a new value"),
    "TryStar": ("node-type", "'except*' is not allowed; use a plain 'except'"),
}

#: Builtins and escape hatches a program may never name (load, store or def).
FORBIDDEN_NAMES: Final[frozenset[str]] = _words("""
    exec eval compile open getattr setattr delattr hasattr globals locals vars dir __import__
    type object super breakpoint input memoryview help exit quit id classmethod staticmethod
    property format bytearray issubclass
    """)

# Attributes refused on any value.  Each reaches files, native memory, code objects or frames:
#   ctypes, ctypeslib, tofile, fromfile, dump, dumps, load, loads, save, savez, savetxt,
#   loadtxt, genfromtxt, memmap, open: file or raw-memory I/O (ndarray.ctypes, ndarray.tofile,
#       ndarray.dump pickles to a path, np.lib.npyio...).
#   lib, f2py, testing, distutils, os, sys, subprocess, builtins, modules: reach whole modules
#       (np.lib, shapely.lib, np.testing runs subprocesses).
#   format, format_map: str.format resolves "{0.__class__}" attribute paths at runtime.
#   mro: walks the class hierarchy (the first step of every subclass escape).
#   setflags, flags: make read-only arrays writeable.
#   with_traceback: hands traceback objects around (tb_frame -> f_globals).
#   gi_*, cr_*, ag_*, f_*, tb_*, co_*, func_* (prefixes below): generator, coroutine, frame,
#       traceback, code and py2 function internals -- frames lead to f_globals/f_builtins.
FORBIDDEN_ATTRIBUTES: Final[frozenset[str]] = _words("""
    ctypes ctypeslib tofile fromfile dump dumps load loads save savez savez_compressed savetxt
    loadtxt genfromtxt fromregex memmap open lib f2py testing distutils os sys subprocess
    builtins modules format format_map mro setflags flags with_traceback
    """)
_FORBIDDEN_ATTRIBUTE_PREFIXES: Final = ("gi_", "cr_", "ag_", "f_", "tb_", "co_", "func_", "im_")
#: Keyword arguments refused in any call: ``refcheck=False`` lets ``resize`` free memory that
#: live views still point to.
FORBIDDEN_KEYWORDS: Final[frozenset[str]] = _words("refcheck")
#: The one underscore name a program may use: the throwaway variable (``for _ in range(3)``).
#: It is a plain local; ``_x``, dunders and ``._`` attributes stay refused.
THROWAWAY_NAME: Final = "_"

# Any character of Unicode category "Cf" (format: zero-width, bidi controls, BOM, tags) or one
# of these invisible fillers.  Bidi controls make the code a reviewer reads differ from the code
# Python runs (Trojan Source, CVE-2021-42574).
_BIDI_CHARS: Final = frozenset(
    chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
)
_INVISIBLE_EXTRA: Final = frozenset(
    chr(c)
    for c in [
        0x115F,
        0x1160,
        0x3164,
        0xFFA0,
        0x034F,
        0x17B4,
        0x17B5,
        0x180E,
        0x2800,
        *range(0xFE00, 0xFE10),
    ]
)
# PEP 263: a comment on line 1 or 2 matching this regex declares the source encoding.
_CODING_RE: Final = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def _v(rule: str, node: ast.AST | None, message: str, name: str | None = None) -> Violation:
    line = getattr(node, "lineno", 0) if node is not None else 0
    col = getattr(node, "col_offset", 0) if node is not None else 0
    # A name can be as long as the program: keep what goes back into prompts and reports small.
    name = clip_text(name, MAX_NAME_CHARS) if name is not None else None
    return Violation(rule=rule, line=line, col=col, message=clip_text(message), name=name)


def check_source(
    code: object, *, max_source_chars: int = DEFAULT_MAX_SOURCE_CHARS
) -> list[Violation]:
    """Check the raw program text (before parsing).

    Args:
        code: The program; anything but ``str`` is refused.
        max_source_chars: The longest program accepted.

    Returns:
        The violations (empty when the source may be parsed).
    """
    if not isinstance(code, str):
        return [
            Violation(
                rule="source-type",
                line=0,
                col=0,
                message=f"the program must be Python source text (str), not {type(code).__name__}",
            )
        ]
    if len(code) > max_source_chars:
        return [
            Violation(
                rule="source-size",
                line=0,
                col=0,
                message=(
                    f"the program is {len(code)} characters long; the limit is "
                    f"{max_source_chars}: write a shorter program"
                ),
            )
        ]
    out: list[Violation] = []
    for lineno, text in enumerate(code.split("\n"), start=1):
        if lineno <= 2 and _CODING_RE.match(text):
            out.append(
                Violation(
                    rule="encoding-cookie",
                    line=lineno,
                    col=0,
                    message="encoding declarations ('# coding: ...') are not allowed; remove it",
                )
            )
        for col, ch in enumerate(text):
            if ch == "\x00":
                out.append(
                    Violation(
                        rule="nul-byte",
                        line=lineno,
                        col=col,
                        message="NUL characters are not allowed",
                    )
                )
            elif ch in _BIDI_CHARS:
                out.append(
                    Violation(
                        rule="bidi",
                        line=lineno,
                        col=col,
                        message=(
                            f"bidirectional control character U+{ord(ch):04X} is not allowed; "
                            "remove it"
                        ),
                    )
                )
            elif ch in _INVISIBLE_EXTRA or (ord(ch) > 127 and unicodedata.category(ch) == "Cf"):
                out.append(
                    Violation(
                        rule="invisible-char",
                        line=lineno,
                        col=col,
                        message=(
                            f"invisible character U+{ord(ch):04X} "
                            f"({unicodedata.name(ch, 'unnamed')}) is not allowed; remove it"
                        ),
                    )
                )
    return out


class _Checker:
    """One pass over the tree collecting violations, definitions and loads."""

    def __init__(self, primitive_names: Collection[str], extra_names: Collection[str]) -> None:
        self.primitives = frozenset(primitive_names)
        self.protected = self.primitives | FACADE_NAMES
        self.known = BUILTIN_NAMES | FACADE_NAMES | self.primitives | frozenset(extra_names)
        self.violations: list[Violation] = []
        self.defined: set[str] = set()
        self.loads: list[ast.Name] = []

    def add(self, rule: str, node: ast.AST, message: str, name: str | None = None) -> None:
        self.violations.append(_v(rule, node, message, name))

    def check_binding(self, name: str, node: ast.AST) -> None:
        """A name is bound (assignment target, def, parameter, except-as)."""
        self.defined.add(name)
        if self.check_identifier(name, node):
            return
        if name in self.protected:
            what = "primitive" if name in self.primitives else "module"
            self.add(
                "rebind-primitive",
                node,
                f"'{name}' is a {what} provided by the sandbox and cannot be redefined; "
                "choose another name",
                name,
            )

    def check_identifier(self, name: str, node: ast.AST) -> bool:
        """Refuse underscore-prefixed and forbidden names; True when refused."""
        if name.startswith("_") and name != THROWAWAY_NAME:
            self.add(
                "dunder",
                node,
                f"names starting with '_' are not allowed ('{name}'); rename it ('_' alone "
                "is allowed as a throwaway variable)",
                name,
            )
            return True
        if name in FORBIDDEN_NAMES:
            self.add(
                "forbidden-name",
                node,
                f"'{name}' is not available in the sandbox; use the provided functions instead",
                name,
            )
            return True
        return False

    def facade_path(self, node: ast.expr) -> str | None:
        """The facade path ("np", "np.linalg") an expression denotes, if any."""
        if isinstance(node, ast.Name) and node.id in FACADE_NAMES:
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.facade_path(node.value)
            if base is not None and f"{base}.{node.attr}" in FACADE_MEMBERS:
                return f"{base}.{node.attr}"
        return None

    def visit(self, tree: ast.AST) -> None:
        stack = [tree]
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind not in _ALLOWED_NODES:
                rule, hint = _REFUSED_NODES.get(
                    kind.__name__,
                    ("node-type", f"'{kind.__name__}' syntax is not allowed in the sandbox"),
                )
                self.add(rule, node, hint)
                continue  # one violation per refused construct, not one per child node
            stack.extend(ast.iter_child_nodes(node))
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Store):
                    self.check_binding(node.id, node)
                elif not self.check_identifier(node.id, node):
                    self.loads.append(node)
            elif isinstance(node, ast.Attribute):
                self.check_attribute(node)
            elif isinstance(node, ast.FunctionDef):
                if node.decorator_list:
                    self.add("decorator", node.decorator_list[0], "decorators are not allowed")
                self.check_binding(node.name, node)
            elif isinstance(node, ast.arg):
                self.check_binding(node.arg, node)
            elif isinstance(node, ast.ExceptHandler) and node.name is not None:
                self.check_binding(node.name, node)
            elif isinstance(node, ast.comprehension) and node.is_async:
                self.add("node-type", node.target, "async comprehensions are not allowed")
            elif isinstance(node, ast.keyword) and node.arg is not None:
                self.check_keyword(node, node.arg)

    def check_keyword(self, node: ast.keyword, arg: str) -> None:
        if arg.startswith("_"):
            self.add(
                "dunder",
                node,
                f"keyword arguments starting with '_' are not allowed ('{arg}')",
                arg,
            )
        elif arg in FORBIDDEN_KEYWORDS:
            self.add(
                "forbidden-keyword",
                node,
                f"the keyword argument '{arg}=' is not allowed in the sandbox",
                arg,
            )

    def check_attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            self.add(
                "dunder",
                node,
                f"attributes starting with '_' are not allowed ('.{attr}')",
                attr,
            )
            return
        if attr in FORBIDDEN_ATTRIBUTES or attr.startswith(_FORBIDDEN_ATTRIBUTE_PREFIXES):
            hint = "; use f-strings instead" if attr in ("format", "format_map") else ""
            self.add(
                "forbidden-attribute",
                node,
                f"the attribute '.{attr}' is not allowed in the sandbox{hint}",
                attr,
            )
            return
        if attr in refused_array_members():
            self.add(
                "array-member",
                node,
                f"the array attribute '.{attr}' is not allowed in the sandbox (it reaches raw "
                "memory, files or the buffer's layout); use np functions or .copy(), .reshape(), "
                ".astype(), .tolist() instead",
                attr,
            )
            return
        if not isinstance(node.ctx, ast.Load):
            self.add(
                "attribute-assignment",
                node,
                f"assigning to an attribute ('.{attr} = ...') is not allowed in the sandbox; "
                "build a new value instead (e.g. a = a.reshape(2, 3))",
                attr,
            )
            return
        base = self.facade_path(node.value)
        if base is not None and attr not in FACADE_MEMBERS[base]:
            available = ", ".join(sorted(FACADE_MEMBERS[base]))
            self.add(
                "facade-member",
                node,
                f"'{base}.{attr}' is not available in the sandbox; {base} offers: {available}",
                f"{base}.{attr}",
            )

    def undefined(self) -> Iterator[Violation]:
        known = self.known | self.defined
        for node in self.loads:
            if node.id not in known:
                yield _v(
                    UNDEFINED_NAME_RULE,
                    node,
                    f"name '{node.id}' is not defined: it is not a primitive, a builtin, a "
                    "module (np, math, shapely) or assigned anywhere in the program; define it "
                    "or use an existing name",
                    node.id,
                )


def _bounded(violations: list[Violation]) -> list[Violation]:
    """At most :data:`MAX_VIOLATIONS` blocking violations and as many undefined names.

    A 20,000-character program can hold thousands of violations; the first ones are enough
    for a planner to act on.  Each undefined name is kept once (the planner writes them).
    """
    blocking = [v for v in violations if v.rule != UNDEFINED_NAME_RULE]
    first_use: dict[str | None, Violation] = {}
    for v in violations:
        if v.rule == UNDEFINED_NAME_RULE:
            first_use.setdefault(v.name, v)
    undefined = list(first_use.values())
    dropped = max(len(blocking) - MAX_VIOLATIONS, 0) + max(len(undefined) - MAX_VIOLATIONS, 0)
    kept = [*blocking[:MAX_VIOLATIONS], *undefined[:MAX_VIOLATIONS]]
    kept.sort(key=lambda v: (v.line, v.col))
    if dropped:
        kept.append(
            Violation(
                rule="too-many-violations",
                line=0,
                col=0,
                message=f"{dropped} more violations are not listed; fix the ones above first",
            )
        )
    return kept


def check_program(
    code: str,
    *,
    primitive_names: Collection[str],
    extra_names: Collection[str] = (),
    max_source_chars: int = DEFAULT_MAX_SOURCE_CHARS,
) -> StaticReport:
    """Check a program before it runs (source checks, then the AST allow-list).

    The check fails closed: every syntax not explicitly allowed is a violation.  Names that
    are loaded but defined nowhere are reported with rule "undefined-name" (see
    :attr:`StaticReport.undefined_names`) so that a planner can write them.

    Args:
        code: The program text.
        primitive_names: The primitives the program may call (they cannot be rebound).
        extra_names: More names that count as defined (e.g. functions the planner will add).
        max_source_chars: The longest program accepted.

    Returns:
        The report; ``ok`` is True when there is no violation.
    """
    source_violations = check_source(code, max_source_chars=max_source_chars)
    if source_violations:
        return StaticReport(ok=False, violations=source_violations)
    try:
        tree = ast.parse(code, filename="<program>", mode="exec")
    except SyntaxError as exc:
        return StaticReport(
            ok=False,
            violations=[
                Violation(
                    rule="syntax",
                    line=exc.lineno or 0,
                    col=max((exc.offset or 1) - 1, 0),
                    message=f"syntax error: {exc.msg}",
                )
            ],
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        # Deeply nested expressions exhaust the parser; treat them as unreadable code.
        return StaticReport(
            ok=False,
            violations=[
                Violation(
                    rule="syntax",
                    line=0,
                    col=0,
                    message=f"the program cannot be parsed ({type(exc).__name__}); simplify it",
                )
            ],
        )
    checker = _Checker(primitive_names, extra_names)
    checker.visit(tree)
    violations = [*checker.violations, *checker.undefined()]
    violations.sort(key=lambda v: (v.line, v.col))
    if len(violations) > MAX_VIOLATIONS:
        violations = _bounded(violations)
    return StaticReport(ok=not violations, violations=violations)
