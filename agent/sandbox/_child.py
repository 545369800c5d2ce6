"""The child side of a run: isolate the process, then execute the program.

This module runs in the sandboxed process, either forked from the zygote (warm) or as a fresh
interpreter (cold: ``python -m policywright.agent.sandbox._child FD WORKDIR UNSHARE``).  The
order of :func:`isolate` matters: things that need privileges (unsharing the network
namespace) come before the privilege drop, and the resource limits come after everything that
opens files or maps memory, just before the untrusted code runs.

``exec`` is used on purpose: the code passed the static checks in the parent, and the boundary
is this process (its uid, rlimits, empty environment and closed file descriptors), not Python.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import socket
import sys
from types import FrameType, TracebackType
from typing import Any, Final, NoReturn

import numpy as np

from policywright.agent.sandbox._channel import ChannelError, LineReader, encode, to_jsonable
from policywright.agent.sandbox._facades import (
    Facade,
    PrimitiveError,
    build_builtins,
    build_facades,
)
from policywright.agent.sandbox._kernel import (
    KernelPlan,
    apply_in_child,
    apply_seccomp,
    prepare,
    strict_gaps,
)
from policywright.agent.sandbox._models import clip_text

__all__ = [
    "CHANNEL_FD",
    "EXIT_INTERNAL",
    "EXIT_ISOLATION",
    "EXIT_MEMORY",
    "EXIT_OUTPUT",
    "EXIT_PROTOCOL",
    "PROGRAM_FILENAME",
    "child_main",
    "isolate",
]

PROGRAM_FILENAME: Final = "<program>"
#: The channel socket always sits on this descriptor in the child; RLIMIT_NOFILE is set just
#: above it so that the program cannot open any new file or socket.
CHANNEL_FD: Final = 3

# Exit codes the parent understands when the child could not report by message.
EXIT_MEMORY: Final = 3
EXIT_OUTPUT: Final = 4
EXIT_PROTOCOL: Final = 5
EXIT_INTERNAL: Final = 6
EXIT_ISOLATION: Final = 7

_PR_SET_PDEATHSIG: Final = 1
_OUTPUT_FLUSH_CHARS: Final = 4096
# Python's own message tells the program to call sys.set_int_max_str_digits(), which it
# cannot: say what it can do instead.
_INT_DIGITS_HINT: Final = (
    "an integer has more than {n} digits, too many to convert to text or send; use a float "
    "(e.g. 10.0 ** 300) or a smaller number"
)


def _set_pdeathsig() -> None:
    # Die with the zygote: if it is killed, nobody is left to reap or kill this child.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def isolate(
    channel_fd: int, workdir: str, *, plan: KernelPlan | None, parent_pid: int | None
) -> KernelPlan:
    """Cut the process off from the engine before any untrusted code runs.

    The kernel layers (``_kernel.py``) apply here, in an order that matters: the uid change
    and Landlock need descriptors and rights that seccomp then takes away, and the resource
    limits come later still (:func:`run_program`), after everything that opens files or maps
    memory.

    Args:
        channel_fd: The socket to the parent; it is moved to :data:`CHANNEL_FD`.
        workdir: An empty, read-only directory to run in.
        plan: The zygote's kernel plan; None in a cold child, which prepares its own (its
            namespaces included).
        parent_pid: The zygote's pid, to detect that it died before PR_SET_PDEATHSIG was set.

    Returns:
        The plan applied; its seccomp filter is loaded by :func:`lock_down`.

    Raises:
        OSError: A kernel layer that the plan says works could not be applied.
    """
    # Own session and process group, so that the parent kills the whole group (a cold child
    # is a session leader already: start_new_session).
    with contextlib.suppress(OSError):
        os.setsid()
    if plan is None:
        plan = prepare()  # a cold child: namespaces before the privilege drop
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDWR)  # before Landlock, which denies /dev
    # Before the descriptors move: the dup2 below may land on the ruleset's descriptor.
    apply_in_child(plan)  # uid, capabilities, no_new_privs, Landlock
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if channel_fd != CHANNEL_FD:
        os.dup2(channel_fd, CHANNEL_FD)
    if parent_pid is not None:
        _set_pdeathsig()  # after setuid, which clears the parent-death signal
        if os.getppid() != parent_pid:
            os._exit(EXIT_INTERNAL)
    # The zygote's control socket, pidfds, the Landlock ruleset, devnull...
    os.closerange(CHANNEL_FD + 1, 1 << 20)
    os.environ.clear()
    return plan


def lock_down(plan: KernelPlan) -> None:
    """Load the seccomp filter: the last layer, once nothing but the program is left to run.

    Raises:
        OSError: The filter could not be loaded although the probe loaded it.
    """
    if plan.seccomp is not None:
        apply_seccomp(plan.seccomp, os.getpid())


def _lower_limit(which: int, soft: int, hard: int) -> None:
    _, cur_hard = resource.getrlimit(which)
    if cur_hard != resource.RLIM_INFINITY:
        hard = min(hard, cur_hard)
    resource.setrlimit(which, (min(soft, hard), hard))


def _apply_rlimits(cpu_seconds: int, memory_bytes: int) -> None:
    _lower_limit(resource.RLIMIT_CORE, 0, 0)
    _lower_limit(resource.RLIMIT_FSIZE, 0, 0)
    _lower_limit(resource.RLIMIT_NPROC, 0, 0)  # no fork, no threads
    _lower_limit(resource.RLIMIT_NOFILE, CHANNEL_FD + 1, CHANNEL_FD + 1)  # no new descriptors
    # SIGXCPU at the soft limit, SIGKILL one second later at the hard limit.
    _lower_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    _lower_limit(resource.RLIMIT_AS, memory_bytes, memory_bytes)


def _program_line_of_frame(frame: FrameType | None) -> int | None:
    while frame is not None:
        if frame.f_code.co_filename == PROGRAM_FILENAME:
            return frame.f_lineno
        frame = frame.f_back
    return None


def _program_line_of_traceback(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM_FILENAME:
            line = tb.tb_lineno  # keep the innermost program frame
        tb = tb.tb_next
    return line


class _Runtime:
    """The program's side of the channel: primitive stubs and captured ``print``."""

    def __init__(self, sock: socket.socket, start: dict[str, Any]) -> None:
        import numpy

        self._np = numpy
        self._sock = sock
        self._max_bytes = int(start["max_message_bytes"])
        self._reader = LineReader(sock, self._max_bytes)
        self._array_returning = frozenset(str(n) for n in start["array_returning"])
        self._max_output = int(start["max_output_chars"])
        self._out: list[str] = []
        self._out_pending = 0
        self._out_total = 0
        self._next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        self._sock.sendall(encode(message))

    def flush(self) -> None:
        if self._out:
            text = "".join(self._out)
            self._out.clear()
            self._out_pending = 0
            self.send({"type": "print", "text": text})

    def print(
        self, *args: object, sep: str | None = " ", end: str | None = "\n", flush: bool = False
    ) -> None:
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("print(): sep and end must be strings")
        try:
            text = sep.join(str(a) for a in args) + end
        except ValueError as exc:
            raise _readable(exc) from None
        room = self._max_output - self._out_total
        if len(text) > room:
            # Hard exit, so that the program cannot catch the limit and carry on.
            self._out.append(text[:room])
            self.flush()
            self.send(
                {
                    "type": "error",
                    "error_type": "OutputLimitExceeded",
                    "message": (
                        f"the program printed more than {self._max_output} characters; print less"
                    ),
                    "line": _program_line_of_frame(sys._getframe(1)),
                }
            )
            os._exit(EXIT_OUTPUT)
        self._out_total += len(text)
        self._out.append(text)
        self._out_pending += len(text)
        if flush or self._out_pending >= _OUTPUT_FLUSH_CHARS:
            self.flush()

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        line = _program_line_of_frame(sys._getframe(2))
        try:
            message = {
                "type": "call",
                "id": self._next_id + 1,
                "name": name,
                "args": to_jsonable(list(args)),
                "kwargs": to_jsonable(kwargs),
                "line": line,
            }
        except TypeError as exc:
            raise TypeError(f"{name}(): {exc}") from None
        try:
            data = encode(message)
        except ValueError as exc:  # an int too long for JSON text
            raise ValueError(f"{name}(): {_readable(exc)}") from None
        if len(data) > self._max_bytes:
            raise ValueError(
                f"{name}(): the arguments are too large to send ({len(data)} bytes, "
                f"limit {self._max_bytes})"
            )
        self.flush()
        self._next_id += 1
        self._sock.sendall(data)
        try:
            reply = self._reader.read()
        except ChannelError:
            os._exit(EXIT_PROTOCOL)
        if reply.get("id") != self._next_id:
            os._exit(EXIT_PROTOCOL)
        if reply["type"] == "result":
            value = reply.get("value")
            if name in self._array_returning and isinstance(value, list):
                return self._np.array(value)
            return value
        if reply["type"] == "raise":
            raise PrimitiveError(str(reply.get("message", "")))
        os._exit(EXIT_PROTOCOL)

    def stub(self, name: str) -> Any:
        call = self.call

        def primitive(*args: Any, **kwargs: Any) -> Any:
            return call(name, args, kwargs)

        primitive.__name__ = primitive.__qualname__ = name
        return primitive


def _readable(exc: ValueError) -> ValueError:
    """``exc``, or a clearer ValueError when it is Python's integer-digits limit."""
    if "set_int_max_str_digits" in str(exc):
        return ValueError(_INT_DIGITS_HINT.format(n=sys.get_int_max_str_digits()))
    return exc


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        exc = _readable(exc)
    try:
        text = str(exc)
    except Exception:  # a value whose str() fails must not kill the report
        text = "<unprintable message>"
    return clip_text(text)


def isolation_refusal(gaps: dict[str, str]) -> str:
    """The message of a run refused because strict isolation lacks layers."""
    listed = "; ".join(f"{name}: {why}" for name, why in gaps.items())
    return (
        f"sandbox isolation is strict and these kernel layers are unavailable: {listed}. "
        "An administrator must enable them (`policywright doctor` shows what is on), or the "
        "operator can accept weaker isolation with sandbox.isolation = 'best-effort'"
    )


def run_program(
    sock: socket.socket,
    facades: dict[str, Facade],
    plan: KernelPlan | None = None,
    *,
    strict: bool = False,
) -> NoReturn:
    """Read the start message, apply the last layers and run the program; never returns.

    Args:
        sock: The channel, already isolated.
        facades: The pre-built facades.
        plan: The kernel plan whose seccomp filter is loaded just before the program runs.
        strict: Refuse to run when a layer of strict isolation is off (cold children; the
            parent checks a zygote's layers itself).
    """
    reader = LineReader(sock, 1 << 24)  # the parent is trusted; its start message holds code
    try:
        start = reader.read()
    except ChannelError:
        os._exit(EXIT_PROTOCOL)
    gaps = strict_gaps(plan.layers) if strict and plan is not None else {}
    if gaps:
        sock.sendall(
            encode(
                {
                    "type": "error",
                    "error_type": "IsolationUnavailable",
                    "message": isolation_refusal(gaps),
                    "line": None,
                }
            )
        )
        os._exit(EXIT_ISOLATION)
    runtime = _Runtime(sock, start)
    namespace: dict[str, Any] = {"__builtins__": build_builtins(runtime.print)}
    namespace.update(facades)
    for name in start["primitives"]:
        namespace[str(name)] = runtime.stub(str(name))
    # A forked child inherits the zygote's RNG state, and a restarted zygote has a new one:
    # seed it from the run so that the same seed gives the same run.
    np.random.seed(int(start.get("seed", 0)) % (2**32))
    if plan is not None:
        try:
            lock_down(plan)
        except OSError:
            os._exit(EXIT_ISOLATION)
    _apply_rlimits(int(start["cpu_seconds"]), int(start["memory_bytes"]))
    status = 0
    try:
        code = compile(str(start["code"]), PROGRAM_FILENAME, "exec", dont_inherit=True)
        exec(code, namespace)
        runtime.flush()
        runtime.send({"type": "done"})
    except BaseException as exc:
        error_type = "MemoryError" if isinstance(exc, MemoryError) else type(exc).__name__
        line = _program_line_of_traceback(exc.__traceback__)
        if line is None and isinstance(exc, SyntaxError):
            line = exc.lineno
        message = _error_text(exc)
        del exc
        namespace.clear()  # free what the program built before reporting (MemoryError)
        try:
            runtime.flush()
            runtime.send(
                {"type": "error", "error_type": error_type, "message": message, "line": line}
            )
        except MemoryError:
            status = EXIT_MEMORY
        except OSError:
            status = EXIT_PROTOCOL
    os._exit(status)


def child_main(
    channel_fd: int,
    workdir: str,
    facades: dict[str, Facade],
    *,
    plan: KernelPlan | None,
    parent_pid: int | None,
    strict: bool = False,
) -> NoReturn:
    """Entry point of a sandboxed child (after fork or in a fresh interpreter); never returns.

    Args:
        channel_fd: The socket to the parent.
        workdir: The empty read-only directory to run in.
        facades: The pre-built facades.
        plan: The zygote's kernel plan (None: a cold child prepares its own).
        parent_pid: The zygote's pid (warm) or None (cold).
        strict: Refuse to run without every layer of strict isolation (cold children).
    """
    try:
        plan = isolate(channel_fd, workdir, plan=plan, parent_pid=parent_pid)
        sock = socket.socket(fileno=CHANNEL_FD)
    except OSError:
        os._exit(EXIT_ISOLATION)
    except BaseException:
        os._exit(EXIT_INTERNAL)
    try:
        run_program(sock, facades, plan, strict=strict)
    except BaseException:
        os._exit(EXIT_INTERNAL)


def _main(argv: list[str]) -> NoReturn:
    channel_fd, workdir, strict = int(argv[1]), argv[2], argv[3] == "strict"
    facades = build_facades()  # imports numpy and shapely before the limits apply
    child_main(channel_fd, workdir, facades, plan=None, parent_pid=None, strict=strict)


if __name__ == "__main__":
    _main(sys.argv)
