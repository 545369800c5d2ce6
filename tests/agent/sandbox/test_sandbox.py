from __future__ import annotations

import math
import os
import signal
import time

import numpy as np
import pytest

from policywright.agent.sandbox import ExecReport, Sandbox, SandboxLimits
from policywright.agent.sandbox._kernel import RUN_UID_BASE, RUN_UID_SPAN

from .conftest import FakeHost

IS_ROOT = os.geteuid() == 0

# Reaches the real builtins through the capturing print function: only for tests of the
# process boundary, run with Sandbox._run_unchecked (the static checks refuse all of this).
ESCAPE = """
bi = print.__globals__['__builtins__']
bi = bi if isinstance(bi, dict) else bi.__dict__
imp = bi['__import__']
BaseException = bi['BaseException']
type = bi['type']
os = imp('os')
socket = imp('socket')
resource = imp('resource')
def attempt(label, fn):
    try:
        print(label, 'ALLOWED', repr(fn())[:60])
    except BaseException as e:
        print(label, 'BLOCKED', type(e).__name__)
"""


def lines_of(report: ExecReport) -> dict[str, str]:
    out = {}
    for line in report.output.splitlines():
        label, _, rest = line.partition(" ")
        out[label] = rest
    return out


def assert_engine_fine(sb: Sandbox, host: FakeHost) -> None:
    report = sb.run("print('still fine', len(get_pos('x')))", host)
    assert report.status == "ok", report
    assert report.output == "still fine 2\n"


def test_normal_program_reports_calls_and_output(sb: Sandbox, host: FakeHost) -> None:
    code = (
        "p = get_pos('a')\n"
        "print('pos', p.shape, (p + 1).tolist())\n"
        "move(0.25, y=-0.5)\n"
        "q = get_pos('a')\n"
        "print('moved', q[0], q[1])\n"
    )
    report = sb.run(code, host)
    assert report.status == "ok", report
    assert report.output == "pos (2,) [1.0, 1.0]\nmoved 0.25 -0.5\n"
    assert [(c.name, c.args, c.kwargs, c.line, c.ok) for c in report.calls] == [
        ("get_pos", ["a"], {}, 1, True),
        ("move", [0.25], {"y": -0.5}, 3, True),
        ("get_pos", ["a"], {}, 4, True),
    ]
    assert report.calls[2].result == [0.25, -0.5]
    assert report.duration_s > 0


def test_numpy_values_are_sent_as_json(sb: Sandbox, host: FakeHost) -> None:
    code = (
        "a = np.array([0.5, 0.25])\nmove(a[0], np.float32(a[1]))\nnoop((1, 2), {'k': np.arange(2)})"
    )
    report = sb.run(code, host)
    assert report.status == "ok", report
    assert host.seen[0][1] == [0.5, 0.25]
    assert host.seen[1][1] == [[1, 2], {"k": [0, 1]}]


def test_values_that_cannot_be_sent_raise_in_the_program(sb: Sandbox, host: FakeHost) -> None:
    report = sb.run("noop(shapely.Point(0, 0))", host)
    assert report.status == "error"
    assert report.error_type == "TypeError"
    assert "noop()" in report.message
    assert report.line == 1


def test_refused_program_never_starts_a_process(host: FakeHost) -> None:
    sandbox = Sandbox()
    try:
        report = sandbox.run("import os\nos.system('true')", host)
        assert report.status == "refused"
        assert report.rule == "import"
        assert report.line == 1
        assert report.source_line == "import os"
        assert report.violations
        assert sandbox.zygote_pid is None  # nothing was started
    finally:
        sandbox.close()


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("x = ().__class__", "dunder"),
        ("getattr(move, 'x')", "forbidden-name"),
        ("open('/etc/passwd')", "forbidden-name"),
        ("x = '{0.__class__}'.format(1)", "forbidden-attribute"),
        ("np.ctypeslib.as_array", "forbidden-attribute"),
        ("class A:\n    pass", "node-type"),
        ("with x:\n    pass", "node-type"),
        ("def f():\n    global y", "global"),
        ("move = 1", "rebind-primitive"),
        ("do_something()", "undefined-name"),
        ("x = 1\u202e", "bidi"),
        ("# coding: latin-1\nx = 1", "encoding-cookie"),
    ],
)
def test_static_refusals_through_run(code: str, rule: str, sb: Sandbox, host: FakeHost) -> None:
    report = sb.run(code, host)
    assert report.status == "refused"
    assert report.rule == rule
    assert not report.calls


def test_oversized_and_non_str_sources_are_refused(host: FakeHost) -> None:
    with Sandbox(SandboxLimits(max_source_chars=100)) as sandbox:
        assert sandbox.run("x = 1\n" * 50, host).rule == "source-size"
        assert sandbox.run(b"x = 1", host).rule == "source-type"  # type: ignore[arg-type]


def test_infinite_loop_times_out_and_engine_survives(sb: Sandbox, host: FakeHost) -> None:
    report = sb.run("move(0.1, 0.1)\nwhile True:\n    pass\n", host)
    assert report.status == "timeout"
    assert "line 1" in report.message  # last primitive call
    assert_engine_fine(sb, host)


def test_timeout_cannot_be_caught(sb: Sandbox, host: FakeHost) -> None:
    code = (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except Exception:\n        pass\n"
    )
    assert sb.run(code, host).status == "timeout"


def test_time_in_primitive_calls_does_not_count(host: FakeHost) -> None:
    class SlowHost(FakeHost):
        def call(self, name, args, kwargs, line):  # type: ignore[no-untyped-def]
            time.sleep(0.3)  # physics
            return super().call(name, args, kwargs, line)

    with Sandbox(SandboxLimits(wall_seconds=1.0)) as sandbox:
        report = sandbox.run("for i in range(6):\n    move(0, 0)", SlowHost())
        assert report.status == "ok", report
        assert report.duration_s > 1.0
    with Sandbox(SandboxLimits(wall_seconds=5.0, total_wall_seconds=1.0)) as sandbox:
        report = sandbox.run("for i in range(6):\n    move(0, 0)", SlowHost())
        assert report.status == "timeout"
        assert "in total" in report.message


def test_cpu_rlimit_is_a_backstop(host: FakeHost) -> None:
    with Sandbox(SandboxLimits(cpu_seconds=1, wall_seconds=60)) as sandbox:
        report = sandbox.run("while True:\n    pass", host)
        assert report.status == "timeout"
        assert "CPU" in report.message
        assert_engine_fine(sandbox, host)


@pytest.mark.parametrize(
    "code",
    [
        "x = [0] * 10**10",
        "b = 'a' * 10**11",
        "a = np.zeros(10**10)",
        "chunks = []\nwhile True:\n    chunks.append(np.ones(10**6))",
    ],
)
def test_unbounded_allocation_is_memory(code: str, sb: Sandbox, host: FakeHost) -> None:
    report = sb.run(code, host)
    assert report.status == "memory", report
    assert report.error_type == "MemoryError"
    assert_engine_fine(sb, host)


def test_unbounded_print_is_output_limit(host: FakeHost) -> None:
    with Sandbox(SandboxLimits(max_output_chars=1000)) as sandbox:
        code = (
            "try:\n    while True:\n        print('spam')\n"
            "except Exception:\n    pass\nprint('after')"
        )
        report = sandbox.run(code, host)
        assert report.status == "error"
        assert report.error_type == "OutputLimitExceeded"
        assert report.line == 3
        assert "after" not in report.output
        assert report.output.startswith("spam\nspam\n")
        assert "truncated" in report.output
        assert len(report.output) < 1100
        one_big = sandbox.run("print('x' * 10**6)", host)
        assert one_big.error_type == "OutputLimitExceeded"
        assert_engine_fine(sandbox, host)


def test_exception_reports_type_line_and_source_line(sb: Sandbox, host: FakeHost) -> None:
    code = "def ratio(a, b):\n    return a / b\n\nx = 1\nprint(ratio(x, 0))\n"
    report = sb.run(code, host)
    assert report.status == "error"
    assert report.error_type == "ZeroDivisionError"
    assert report.message == "division by zero"
    assert report.line == 2
    assert report.source_line == "    return a / b"


@pytest.mark.parametrize(
    ("code", "bad"),
    [
        ("move(float('nan'), 0)", math.nan),
        ("move(0, -float('inf'))", -math.inf),
        ("move(np.nan, 0)", math.nan),
        ("move(0, np.inf)", math.inf),
    ],
)
def test_nan_and_inf_reach_the_host(code: str, bad: float, sb: Sandbox, host: FakeHost) -> None:
    report = sb.run(code, host)
    assert report.status == "refused"
    assert report.rule == "safety:non-finite"
    sent = [v for v in host.seen[0][1] if not math.isfinite(v)]
    assert len(sent) == 1
    assert (math.isnan(sent[0]) and math.isnan(bad)) or sent[0] == bad


def test_safety_violation_refuses_run_at_its_line(sb: Sandbox, host: FakeHost) -> None:
    code = "move(0.5, 0.5)\nx = get_pos('a')\nmove(x[0] + 1, 0)\nprint('never')\n"
    report = sb.run(code, host)
    assert report.status == "refused"
    assert report.rule == "safety:workspace"
    assert report.line == 3
    assert report.source_line == "move(x[0] + 1, 0)"
    assert report.calls[-1].ok is False
    assert "never" not in report.output
    assert_engine_fine(sb, host)


def test_safety_violation_cannot_be_caught(sb: Sandbox, host: FakeHost) -> None:
    code = "try:\n    move(5, 5)\nexcept Exception:\n    print('caught')\nprint('after')"
    report = sb.run(code, host)
    assert report.status == "refused"
    assert report.output == ""


def test_primitive_call_error_can_be_caught(sb: Sandbox, host: FakeHost) -> None:
    code = (
        "try:\n    fail()\nexcept PrimitiveError as e:\n    print('caught:', e)\n"
        "try:\n    move('a', 1)\nexcept RuntimeError as e:\n    print('also:', e)\n"
    )
    report = sb.run(code, host)
    assert report.status == "ok", report
    assert report.output == (
        "caught: fail() always fails\nalso: move(): expected numbers, got 'a'\n"
    )
    assert [c.ok for c in report.calls] == [False, False]
    assert report.calls[0].error == "fail() always fails"


def test_uncaught_primitive_error_is_an_error(sb: Sandbox, host: FakeHost) -> None:
    report = sb.run("x = 1\nfail()", host)
    assert report.status == "error"
    assert report.error_type == "PrimitiveError"
    assert report.line == 2


def test_host_bug_is_internal_error(sb: Sandbox, host: FakeHost) -> None:
    report = sb.run("broken()", host)
    assert report.status == "error"
    assert report.error_type == "InternalError"
    assert_engine_fine(sb, host)


def test_call_budget(host: FakeHost) -> None:
    with Sandbox(SandboxLimits(max_calls=5)) as sandbox:
        report = sandbox.run("for i in range(10):\n    noop()", host)
        assert report.status == "error"
        assert report.error_type == "CallBudgetExceeded"
        assert len(report.calls) == 5


def test_facades_expose_nothing_but_their_allow_list(sb: Sandbox, host: FakeHost) -> None:
    # Aliasing a facade hides the attribute from the static checker; the facade still refuses.
    for code in [
        "m = np\nm.load('/etc/passwd')",
        "m = np\nm.ctypeslib",
        "s = shapely\ns.wkb",
        "m = math\nm.sys",
        "l = np.linalg\nl.lapack_lite",
    ]:
        report = sb.run(code, host)
        assert report.status in ("refused", "error"), code
        if report.status == "error":
            assert report.error_type == "AttributeError"
            assert "not available in the sandbox" in report.message
    ok = sb.run(
        "print(np.linalg.norm([3, 4]), math.hypot(3, 4), shapely.Point(0, 0).buffer(1).area > 3)",
        host,
    )
    assert ok.output == "5.0 5.0 True\n"


def test_child_cannot_read_files_or_open_sockets(sb: Sandbox, host: FakeHost) -> None:
    code = (
        ESCAPE
        + """
attempt('open', lambda: bi['open']('/etc/passwd').read(10))
attempt('write', lambda: bi['open']('out.txt', 'w'))
attempt('listdir', lambda: os.listdir('/'))
attempt('np.load', lambda: imp('numpy').load('/etc/passwd'))
attempt('np.fromfile', lambda: imp('numpy').fromfile('/etc/passwd'))
attempt('shapely.wkb', lambda: imp('shapely').from_wkb(bi['open']('/etc/passwd', 'rb').read()))
attempt('socket', lambda: socket.socket())
attempt('socketpair', lambda: socket.socketpair())
attempt('connect', lambda: socket.create_connection(('127.0.0.1', 22)))
attempt('new-import', lambda: imp('xml.dom.minidom'))
attempt('raise-nofile', lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
"""
    )
    report = sb._run_unchecked(code, host)
    assert report.status == "ok", report
    results = lines_of(report)
    for label in (
        "open",
        "write",
        "listdir",
        "np.load",
        "np.fromfile",
        "shapely.wkb",
        "socket",
        "socketpair",
        "connect",
        "new-import",
        "raise-nofile",
    ):
        assert results[label].startswith("BLOCKED"), (label, results[label])


def test_child_runs_unprivileged_isolated_and_cannot_fork(sb: Sandbox, host: FakeHost) -> None:
    code = (
        ESCAPE
        + """
print('uid', os.getuid(), os.geteuid())
print('env', len(os.environ))
print('cwd', os.getcwd())
print('pgid', os.getpgid(0) == os.getpid())
print('netns', os.readlink('/proc/self/ns/net'))
attempt('fork', lambda: os.fork())
attempt('kill-parent', lambda: os.kill(os.getppid(), 0))
attempt('setuid', lambda: os.setuid(0))
attempt('threads', lambda: imp('threading').Thread(target=print).start())
"""
    )
    report = sb._run_unchecked(code, host)
    assert report.status == "ok", report
    results = lines_of(report)
    assert results["env"] == "0"
    assert results["pgid"] == "True"
    assert results["cwd"] != os.getcwd()
    assert results["fork"].startswith("BLOCKED")
    assert results["threads"].startswith("BLOCKED")
    if IS_ROOT:
        # Each run has its own uid from a reserved range (issue 14), no longer the shared
        # nobody (65534): runs cannot signal or read one another.
        uid, euid = (int(v) for v in results["uid"].split())
        assert uid == euid
        assert RUN_UID_BASE <= uid < RUN_UID_BASE + RUN_UID_SPAN
        assert results["setuid"].startswith("BLOCKED")
        assert results["kill-parent"].startswith("BLOCKED")
        assert results["netns"] != os.readlink("/proc/self/ns/net")
    else:
        assert results["uid"] == f"{os.getuid()} {os.geteuid()}"


def test_protocol_violations_end_the_run(sb: Sandbox, host: FakeHost) -> None:
    garbage = ESCAPE + "os.write(3, b'not json\\n')\nwhile True:\n    pass\n"
    report = sb._run_unchecked(garbage, host)
    assert report.status == "error"
    assert report.error_type == "ProtocolError"
    unknown = (
        ESCAPE
        + 'msg = b\'{"type": "call", "id": 1, "name": "rm", \'\n'
        + 'msg += b\'"args": [], "kwargs": {}, "line": 1}\\n\'\n'
        + "os.write(3, msg)\n"
    )
    assert sb._run_unchecked(unknown, host).error_type == "ProtocolError"
    huge = ESCAPE + "os.write(3, b'x' * (2 << 20))\nwhile True:\n    pass\n"
    report = sb._run_unchecked(huge, host)
    assert report.error_type == "ProtocolError"
    assert_engine_fine(sb, host)


def test_child_dying_silently_is_reported(sb: Sandbox, host: FakeHost) -> None:
    report = sb._run_unchecked(ESCAPE + "os._exit(0)", host)
    assert report.status == "error"
    assert report.error_type == "ChildCrashed"
    report = sb._run_unchecked(ESCAPE + "os.kill(os.getpid(), 11)", host)
    assert report.status == "memory"  # a segfault is most likely a failed allocation
    assert_engine_fine(sb, host)


def test_zygote_death_is_repaired(host: FakeHost) -> None:
    with Sandbox() as sandbox:
        first = sandbox.zygote_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert_engine_fine(sandbox, host)
        assert sandbox.zygote_pid not in (None, first)


def test_zygote_death_mid_run(host: FakeHost) -> None:
    with Sandbox() as sandbox:
        zygote = sandbox.zygote_pid
        assert zygote is not None

        class KillerHost(FakeHost):
            def call(self, name, args, kwargs, line):  # type: ignore[no-untyped-def]
                os.kill(zygote, signal.SIGKILL)
                time.sleep(0.2)
                return None

        report = sandbox.run("noop()\nprint('x')", KillerHost())
        assert report.status == "error"
        assert_engine_fine(sandbox, host)


def test_fifty_consecutive_runs(sb: Sandbox, host: FakeHost) -> None:
    for i in range(50):
        report = sb.run(f"move({i / 100}, 0)\nprint(get_pos('a')[0])", host)
        assert report.status == "ok", (i, report)
        assert report.output == f"{i / 100}\n"


def test_warm_runs_fork_from_the_zygote_and_cold_runs_do_not(host: FakeHost) -> None:
    probe = ESCAPE + "print('ppid', os.getppid())\nprint('numpy', 'numpy' in imp('sys').modules)"
    with Sandbox() as warm:
        zygote = warm.zygote_pid
        a = lines_of(warm._run_unchecked(probe, host))
        b = lines_of(warm._run_unchecked(probe, host))
        # Both children were forked by the same pre-imported zygote: no interpreter start.
        assert a["ppid"] == b["ppid"] == str(zygote)
        assert warm.zygote_pid == zygote
    with Sandbox(warm=False) as cold:
        c = lines_of(cold._run_unchecked(probe, host))
        assert cold.zygote_pid is None
        assert c["ppid"] == str(os.getpid())  # a fresh interpreter spawned by the engine
        assert c["numpy"] == "True"
        report = cold.run("print(np.linalg.norm(get_pos('a') + 3))", host)
        assert report.status == "ok"
        assert float(report.output) == pytest.approx(np.hypot(3, 3))


def test_cold_sandbox_enforces_the_same_limits(host: FakeHost) -> None:
    with Sandbox(SandboxLimits(wall_seconds=1.0), warm=False) as cold:
        assert cold.run("while True:\n    pass", host).status == "timeout"
        assert cold.run("x = [0] * 10**10", host).status == "memory"
        assert cold.run("move(5, 0)", host).rule == "safety:workspace"


def test_limits_forbid_unknown_fields() -> None:
    with pytest.raises(ValueError):
        SandboxLimits(wall_secs=3)  # type: ignore[call-arg]


def test_np_random_is_seeded_per_run(sb: Sandbox, host: FakeHost) -> None:
    code = "print(np.random.randint(0, 10**9))\n"
    a = sb.run(code, host, seed=7)
    b = sb.run(code, host, seed=7)
    c = sb.run(code, host, seed=8)
    assert a.status == b.status == c.status == "ok"
    assert a.output == b.output != c.output
