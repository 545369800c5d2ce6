"""The Python layer of issue 14: no false refusals, the numpy allow-list, bounded data."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest

from policywright.agent.sandbox import PrimitiveCallError, Sandbox, SandboxLimits, check_program
from policywright.agent.sandbox._facades import (
    ARRAY_MEMBERS,
    REFUSED_ARRAY_MEMBERS,
    refused_array_members,
)
from policywright.agent.sandbox._models import (
    MAX_ERROR_CHARS,
    MAX_RECORDED_BYTES,
    MAX_VIOLATIONS,
    clip_text,
)

from .conftest import FakeHost
from .test_sandbox import ESCAPE

PRIMS = ["move", "get_pos", "fail", "noop", "broken"]


def rules(code: str) -> list[str]:
    return [v.rule for v in check_program(code, primitive_names=PRIMS).violations]


class EchoHost(FakeHost):
    """Rejects ``echo`` calls with a message that repeats the whole argument, as pydantic does;
    ``value`` returns what its ``kind`` asks for."""

    def names(self) -> list[str]:
        return [*super().names(), "echo", "value"]

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        if name == "echo":
            raise PrimitiveCallError(f"echo(): invalid argument (got {args!r})")
        if name == "value":
            kind = args[0]
            if kind == "inf":
                return [math.inf, math.inf]
            if kind == "nan":
                return {"x": math.nan}
            if kind == "big":
                return [0.5] * 100_000
            return 1.0
        return super().call(name, args, kwargs, line)


# -- no false refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "for _ in range(3):\n    pass",
        "pairs = [(1, 2), (3, 4)]\nnames = [n for n, _ in pairs]",
        "a, _ = (1, 2)\nprint(a)",
        "d = {k: 0 for k, _ in [(1, 2)]}",
        "print(1, flush=True)",
    ],
)
def test_ordinary_code_is_not_refused(code: str) -> None:
    assert check_program(code, primitive_names=PRIMS).ok


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("_x = 1", "dunder"),
        ("__x = 1", "dunder"),
        ("for __ in range(3):\n    pass", "dunder"),
        ("y = move._", "dunder"),
        ("y = move.__name__", "dunder"),
        ("noop(_=1)", "dunder"),
    ],
)
def test_other_underscore_names_stay_refused(code: str, rule: str) -> None:
    assert rule in rules(code)


def test_underscore_programs_and_lazy_numpy_run(sb: Sandbox, host: FakeHost) -> None:
    code = (
        "total = 0\n"
        "for _ in range(3):\n"
        "    total += 1\n"
        "pairs = [(1, 'a'), (2, 'b')]\n"
        "print(total, [n for n, _ in pairs], flush=True)\n"
        "a = [3.0, 1.0, 2.0, 5.0]\n"
        "print(np.median(a), np.percentile(a, 50), np.quantile(a, 0.5))\n"
        "print(np.unique([3, 1, 3]).tolist(), np.unique(np.array([2, 2, 1])).tolist())\n"
    )
    report = sb.run(code, host)
    assert report.status == "ok", report
    assert report.output == "3 [1, 2]\n2.5 2.5 2.5\n[1, 3] [1, 2]\n"


# -- the numpy allow-list ---------------------------------------------------------------------


def test_the_refused_members_cover_every_unreviewed_numpy_member() -> None:
    refused = refused_array_members()
    assert refused >= REFUSED_ARRAY_MEMBERS
    assert not refused & ARRAY_MEMBERS
    for member in ("resize", "view", "data", "base", "ctypes", "strides", "setflags", "tofile"):
        assert member in refused


@pytest.mark.parametrize("member", sorted(refused_array_members()))
def test_each_refused_array_member(member: str) -> None:
    code = f"a = np.zeros(3)\nb = a.{member}"
    # ctypes, tofile, flags... were refused on any value before; the rest are array members.
    assert {"array-member", "forbidden-attribute"} & set(rules(code)), member


def test_resize_with_refcheck_and_the_forged_view_are_refused() -> None:
    assert set(rules("a = np.zeros(8)\nb = a[2:]\na.resize(4000, refcheck=False)")) == {
        "array-member",
        "forbidden-keyword",
    }
    assert "array-member" in rules("o = np.array([1, 'a'])\nv = o.view(np.int64)")
    assert "array-member" in rules("x = np.float64(1.5).data")


def test_array_attributes_cannot_be_assigned() -> None:
    assert "attribute-assignment" in rules("a = np.zeros(6)\na.shape = (2, 3)")
    assert "attribute-assignment" in rules("a = np.zeros(6)\na.dtype = np.int64")
    assert "array-member" in rules("a = np.zeros(6)\na.strides = (8,)")


def test_ordinary_array_members_still_work(sb: Sandbox, host: FakeHost) -> None:
    code = (
        "a = np.arange(6.0).reshape(2, 3)\n"
        "print(a.shape, a.T.shape, a.ndim, a.size, a.dtype)\n"
        "print(a.mean(), a.sum(), a.min(), a.max(), a.std().round(3), a.var().round(3))\n"
        "print(a.tolist(), a.copy().astype(np.int64).tolist(), a.flatten().tolist())\n"
        "print(a.ravel().argmax(), a.argmin(), a.cumsum().tolist(), a.clip(1, 4).tolist())\n"
        "b = a.copy()\nb.sort(axis=0)\n"
        "print(b[0].tolist(), a.transpose().tolist(), a.round(1).item(0), a.take([0, 1]))\n"
        "print(a.nonzero()[1].tolist(), a.squeeze().shape, a.dot(a.T).trace(), a.prod())\n"
        "print(get_pos('a').tolist(), np.float64(2.5).is_integer(), (1.5).is_integer())\n"
    )
    report = sb.run(code, host)
    assert report.status == "ok", report
    lines = report.output.splitlines()
    assert lines[0] == "(2, 3) (3, 2) 2 6 float64"
    assert lines[2].startswith("[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] [[0, 1, 2], [3, 4, 5]]")
    assert lines[-1] == "[0.0, 0.0] False False"


# -- bounded data at the boundary -------------------------------------------------------------


def test_clip_text_fits_its_limit() -> None:
    for n in (0, 10, 1999, 2000, 2001, 2100, 10**6):
        text = "x" * n
        out = clip_text(text)
        assert len(out) <= MAX_ERROR_CHARS
        assert out == text or "characters cut" in out


def test_echoed_errors_are_bounded_in_records_and_reports() -> None:
    code = (
        "big = 'x' * 10**6\n"
        "for i in range(40):\n"
        "    try:\n"
        "        echo(big)\n"
        "    except PrimitiveError as e:\n"
        "        n = len(str(e))\n"
        "print(n)\n"
    )
    with Sandbox(SandboxLimits(wall_seconds=20, cpu_seconds=20)) as sandbox:
        report = sandbox.run(code, EchoHost())
    assert report.status == "ok", report
    assert int(report.output) <= MAX_ERROR_CHARS  # what the program saw
    assert len(report.calls) == 40
    for call in report.calls:
        assert call.error is not None and len(call.error) <= MAX_ERROR_CHARS
        assert len(json.dumps(call.args)) < 100  # the 1 MB argument is a placeholder
    assert len(report.model_dump_json()) < 40 * (MAX_ERROR_CHARS + 500)


def test_a_200000_number_argument_gives_a_clear_error(sb: Sandbox) -> None:
    fits = sb.run("echo([0.5] * 200000)", EchoHost())  # about 800 kB: sent, then refused
    assert fits.status == "error", fits
    assert fits.error_type == "PrimitiveError"
    assert "exit code" not in fits.message and len(fits.message) <= MAX_ERROR_CHARS
    too_big = sb.run("noop([0.123456789] * 200000)", EchoHost())  # 2.4 MB: not sent
    assert too_big.error_type == "ValueError"
    assert "too large to send" in too_big.message


def test_results_are_bounded_in_records(sb: Sandbox) -> None:
    report = sb.run("x = value('big')\nprint(len(x))", EchoHost())
    assert report.status == "ok", report
    assert report.output == "100000\n"
    assert isinstance(report.calls[0].result, str)
    assert report.calls[0].result.endswith("bytes>")
    assert len(json.dumps([0.5] * 100_000)) > MAX_RECORDED_BYTES


def test_violations_are_bounded(host: FakeHost) -> None:
    code = "\n".join(f"_v{i} = undefined_{i}" for i in range(400))
    report = check_program(code, primitive_names=PRIMS)
    assert not report.ok
    assert len(report.blocking) <= MAX_VIOLATIONS + 1
    assert len(report.undefined_names) == MAX_VIOLATIONS
    assert report.violations[-1].rule == "too-many-violations"
    long_name = "y" * 10_000
    v = check_program(f"x = np.{long_name}", primitive_names=PRIMS).violations[0]
    assert len(v.message) <= MAX_ERROR_CHARS and len(v.name or "") <= 200


def test_source_line_is_bounded(sb: Sandbox, host: FakeHost) -> None:
    report = sb.run("x = 1 / 0 + len('" + "y" * 3000 + "')", host)
    assert report.status == "error"
    assert report.source_line is not None and len(report.source_line) <= 500


def test_non_finite_results_are_refused(sb: Sandbox) -> None:
    code = (
        "try:\n    value('inf')\nexcept PrimitiveError as e:\n    print('caught', e)\n"
        "value('nan')\n"
    )
    report = sb.run(code, EchoHost())
    assert report.status == "error"
    assert report.error_type == "PrimitiveError"
    assert report.output.startswith("caught value() gave a non-finite result")
    assert report.line == 5
    assert [c.ok for c in report.calls] == [False, False]


def test_normalize_xy_overflow_is_refused(sb: Sandbox) -> None:
    from policywright.sim import normalize_xy

    class Helper(FakeHost):
        def names(self) -> list[str]:
            return ["normalize_xy"]

        def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: Any) -> Any:
            return normalize_xy(args[0]).tolist()

    with pytest.warns(RuntimeWarning):
        assert not math.isfinite(normalize_xy([1e308, 1e308])[1])  # the helper overflows
    with pytest.warns(RuntimeWarning):
        report = sb.run("print(normalize_xy([1e308, 1e308]))", Helper())
    assert report.error_type == "PrimitiveError"
    assert "non-finite" in report.message


def test_huge_integers_give_a_clear_message(sb: Sandbox, host: FakeHost) -> None:
    for code in ("print(10**5000)", "noop(10**5000)", "x = str(10**5000)"):
        report = sb.run(code, host)
        assert report.status == "error", code
        assert report.error_type == "ValueError"
        assert "set_int_max_str_digits" not in report.message
        assert "digits" in report.message, report.message


def test_follow_path_has_a_minimum_speed() -> None:
    from policywright.errors import PrimitiveError
    from policywright.primitives.builtin import MIN_PATH_SPEED, TABLETOP_PRIMITIVES

    spec = next(s for s in TABLETOP_PRIMITIVES if s.name == "follow_path")
    for speed in (5e-324, 1e-6, MIN_PATH_SPEED / 2):
        with pytest.raises(PrimitiveError, match="at least"):
            spec.func(None, points=[[0.4, 0.0], [0.5, 0.0]], speed=speed)


# -- time spent in primitives -----------------------------------------------------------------


class SlowHost(FakeHost):
    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: Any) -> Any:
        time.sleep(0.6)  # physics
        return super().call(name, args, kwargs, line)


def test_a_long_primitive_ends_the_run_when_it_spends_the_total() -> None:
    with Sandbox(SandboxLimits(wall_seconds=30.0, total_wall_seconds=1.0)) as sandbox:
        report = sandbox.run("move(0, 0)\nmove(0, 0)\nmove(0, 0)\nmove(0, 0)", SlowHost())
    assert report.status == "timeout"
    assert "in total" in report.message
    assert len(report.calls) == 2  # the second call spent the total; no third was served
    assert report.duration_s < 2.0


def test_pipelined_calls_are_not_served_past_the_total() -> None:
    # An escaped program writes many calls without waiting for the replies: each buffered
    # message is checked against the clocks too.
    call = '{"type":"call","id":%d,"name":"noop","args":[],"kwargs":{},"line":1}\\n'
    code = ESCAPE + (
        f"msg = ''.join('{call}' % i for i in range(1, 50))\n"
        "os.write(3, msg.encode())\nwhile True:\n    pass\n"
    )
    with Sandbox(SandboxLimits(wall_seconds=30.0, total_wall_seconds=1.0)) as sandbox:
        report = sandbox._run_unchecked(code, SlowHost())
    assert report.status == "timeout"
    assert len(report.calls) <= 2
