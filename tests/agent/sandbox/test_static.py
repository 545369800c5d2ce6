from __future__ import annotations

import pytest

from policywright.agent.sandbox import (
    BUILTIN_NAMES,
    FACADE_MEMBERS,
    FACADE_NAMES,
    check_program,
)

PRIMS = ["move", "get_pos", "fail"]


def rules(code: object, **kw: object) -> list[str]:
    report = check_program(code, primitive_names=PRIMS, **kw)  # type: ignore[arg-type]
    assert report.ok == (not report.violations)
    return [v.rule for v in report.violations]


def test_typical_program_passes() -> None:
    code = """
def closest(names, target):
    dists = [np.linalg.norm(get_pos(n) - target) for n in names]
    return names[int(np.argmin(dists))]

pts = np.stack([np.cos(np.linspace(0, 2 * np.pi, 8)), np.sin(np.linspace(0, 2 * np.pi, 8))], axis=1)
for i, (x, y) in enumerate(pts * 0.5):
    if i % 2 == 0:
        move(x, y)
    else:
        try:
            fail()
        except PrimitiveError as e:
            print(f"line {i}: {e!r:>10}")
area = shapely.affinity.rotate(shapely.Polygon([(0, 0), (1, 0), (1, 1)]), 30).area
total = sum(v for v in {1, 2} if v > 1) + math.sqrt(2) + (lambda a, *b, **c: a)(1)
assert total > 0, "positive"
d = {k: v for k, v in zip("ab", [1, 2])}
while False:
    break
"""
    report = check_program(code, primitive_names=PRIMS)
    assert report.ok, report.feedback()


@pytest.mark.parametrize(
    ("code", "rule", "line"),
    [
        ("x = 1\nimport os", "import", 2),
        ("from os import path", "import", 1),
        ("x = ().__class__", "dunder", 1),
        ("_secret = 1", "dunder", 1),
        ("getattr(move, 'x')", "forbidden-name", 1),
        ("open('/etc/passwd')", "forbidden-name", 1),
        ("eval('1')", "forbidden-name", 1),
        ("type(1)", "forbidden-name", 1),
        ("x = 1\ny = '{0.__class__}'.format(x)", "forbidden-attribute", 2),
        ("'{a}'.format_map({})", "forbidden-attribute", 1),
        ("np.ctypeslib", "forbidden-attribute", 1),
        ("np.zeros(3).tofile('x')", "forbidden-attribute", 1),
        ("np.zeros(3).ctypes", "forbidden-attribute", 1),
        ("g = (x for x in [1])\ng.gi_frame", "forbidden-attribute", 2),
        ("np.load('x.npy')", "forbidden-attribute", 1),
        ("np.fromfile('x')", "forbidden-attribute", 1),
        ("np.genfromtxt('x')", "forbidden-attribute", 1),
        ("np.frombuffer(b'x')", "facade-member", 1),
        ("np.linalg.lapack_lite", "facade-member", 1),
        ("shapely.wkb", "facade-member", 1),
        ("shapely.from_wkb(b'')", "facade-member", 1),
        ("math.sys", "forbidden-attribute", 1),
        ("class A:\n    pass", "node-type", 1),
        ("with move() as m:\n    pass", "node-type", 1),
        ("def f():\n    global x\n    x = 1", "global", 2),
        ("def f():\n    yield 1", "node-type", 2),
        ("async def f():\n    pass", "node-type", 1),
        ("if (n := 1):\n    pass", "node-type", 1),
        ("x = 1\ndel x", "node-type", 2),
        ("match 1:\n    case 1:\n        pass", "node-type", 1),
        ("def deco(f):\n    return f\n@deco\ndef g():\n    pass", "decorator", 3),
        ("move = 3", "rebind-primitive", 1),
        ("def get_pos():\n    return 1", "rebind-primitive", 1),
        ("def f(move):\n    return move", "rebind-primitive", 1),
        ("np = 1", "rebind-primitive", 1),
        ("for math in [1]:\n    pass", "rebind-primitive", 1),
        ("x = 1\nfoo(x)", "undefined-name", 2),
        ("print(__builtins__)", "dunder", 1),
        ("x = 1 +", "syntax", 1),
    ],
)
def test_static_rules(code: str, rule: str, line: int) -> None:
    report = check_program(code, primitive_names=PRIMS)
    assert not report.ok
    first = [v for v in report.violations if v.rule == rule]
    assert first, report.feedback()
    assert first[0].line == line
    assert first[0].message  # written for the planner


def test_undefined_names_are_queryable_and_extra_names_define_them() -> None:
    code = "x = pick_best(get_pos('a'))\ny = helper(x)\nz = helper(1)\nprint(undefined_thing)"
    report = check_program(code, primitive_names=PRIMS)
    assert report.undefined_names == ["pick_best", "helper", "undefined_thing"]
    assert report.blocking == []
    ok = check_program(
        code, primitive_names=PRIMS, extra_names=["pick_best", "helper", "undefined_thing"]
    )
    assert ok.ok


def test_names_defined_later_or_in_functions_count_as_defined() -> None:
    code = "def f(a):\n    return g(a) + b\ndef g(c):\n    return c\nb = 2\nprint(f(1))"
    assert check_program(code, primitive_names=PRIMS).ok


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("x = 1\ny = 2\u202e", "bidi"),
        ("x = 1\u2066", "bidi"),
        ("x\u200b = 1", "invisible-char"),
        ("\ufeffx = 1", "invisible-char"),
        ("x = '\x00'", "nul-byte"),
        ("# -*- coding: latin-1 -*-\nx = 1", "encoding-cookie"),
        ("#!/usr/bin/env python\n# vim: set fileencoding=utf-8 :\nx = 1", "encoding-cookie"),
    ],
)
def test_source_rules(code: str, rule: str) -> None:
    assert rule in rules(code)


def test_bidi_violation_names_line() -> None:
    report = check_program("x = 1\ny = 'a\u202eb'", primitive_names=PRIMS)
    assert report.violations[0].line == 2


def test_oversized_source() -> None:
    assert rules("x = 1\n" * 5000, max_source_chars=20_000) == ["source-size"]


@pytest.mark.parametrize("code", [b"x = 1", None, 42, ["x = 1"]])
def test_non_str_input(code: object) -> None:
    assert rules(code) == ["source-type"]


def test_fullwidth_identifiers_are_normalised_before_checking() -> None:
    # Python folds identifiers with NFKC: "ｅｖａｌ" is eval.
    assert "forbidden-name" in rules("\uff45\uff56\uff41\uff4c('1')")


def test_unknown_node_types_fail_closed() -> None:
    # Starred-except (3.11 TryStar) is not on the allow-list.
    assert "node-type" in rules("try:\n    pass\nexcept* ValueError:\n    pass")


def test_exported_names_are_consistent() -> None:
    assert {"np", "math", "shapely"} <= FACADE_NAMES
    assert "norm" in FACADE_MEMBERS["np.linalg"]
    assert "linalg" in FACADE_MEMBERS["np"]
    assert {"print", "len", "PrimitiveError", "ValueError"} <= BUILTIN_NAMES
    assert not any(n.startswith("_") for n in BUILTIN_NAMES)
    # Nothing that reaches files, ctypes or subprocesses is exported.
    for bad in ("load", "save", "fromfile", "ctypeslib", "f2py", "lib", "memmap", "testing"):
        assert bad not in FACADE_MEMBERS["np"]
