"""The parent side: spawn a sandboxed child per run, serve its primitive calls, report.

The engine process never runs program code.  Each run gets a fresh child process (forked by
the zygote, or a fresh interpreter when ``warm=False``); the parent talks to it over a
socket pair in JSON lines, validates every message, forwards primitive calls to the
:class:`PrimitiveHost`, and kills the child's process group when a limit is hit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection
from types import TracebackType
from typing import Any, Final, Protocol, runtime_checkable

from policywright.agent.sandbox._channel import ChannelError, LineReader, encode, to_jsonable
from policywright.agent.sandbox._child import (
    EXIT_INTERNAL,
    EXIT_ISOLATION,
    EXIT_MEMORY,
    EXIT_OUTPUT,
    EXIT_PROTOCOL,
    isolation_refusal,
)
from policywright.agent.sandbox._kernel import LAYER_NAMES, Layers, strict_gaps
from policywright.agent.sandbox._models import (
    MAX_RECORDED_BYTES,
    MAX_SOURCE_LINE_CHARS,
    CallRecord,
    ExecReport,
    ExecStatus,
    SandboxLimits,
    clip_text,
)
from policywright.agent.sandbox._static import check_program
from policywright.errors import Preempted, ProgramError, SafetyViolation, UserError

__all__ = ["IsolationUnavailable", "PrimitiveCallError", "PrimitiveHost", "Sandbox"]

_log = logging.getLogger(__name__)

_ZYGOTE_READY_TIMEOUT: Final = 60.0
_ZYGOTE_REPLY_TIMEOUT: Final = 10.0
_REAP_TIMEOUT: Final = 5.0
_TRUNCATION_MARKER: Final = "\n[... output truncated at {n} characters]"


class PrimitiveCallError(ProgramError):
    """A host rejects a primitive call; the program sees a catchable ``PrimitiveError``.

    Args:
        message: Why the call was rejected, written for the planner.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IsolationUnavailable(UserError):
    """Strict isolation is asked for and a kernel layer is missing; an administrator must act.

    Args:
        gaps: Layer name -> why it is off and how to get it.
    """

    def __init__(self, gaps: dict[str, str]) -> None:
        super().__init__(isolation_refusal(gaps))
        self.gaps = dict(gaps)


@runtime_checkable
class PrimitiveHost(Protocol):
    """What the sandbox needs from the engine to serve a program's primitive calls."""

    def names(self) -> Collection[str]:
        """The primitive names a program may call."""
        ...

    def array_returning(self) -> Collection[str]:
        """The primitives whose list results become ``np.ndarray`` in the program."""
        ...

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        """Validate and execute one call; return a JSON value.

        Raises:
            PrimitiveCallError: The call is rejected; the program gets an exception.
            SafetyViolation: The call breaks a safety limit; the run is refused.
        """
        ...


def _minimal_env() -> dict[str, str]:
    env = {
        "PATH": os.defpath,
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # One BLAS thread: threads do not survive fork, and RLIMIT_NPROC 0 forbids new ones.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for key in ("PYTHONPATH", "LD_LIBRARY_PATH"):  # needed to find the interpreter's packages
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _interpreter_cmd(module: str, *args: str) -> list[str]:
    # -P: do not put the current directory on sys.path (a stray numpy.py there must not load).
    return [sys.executable, "-P", "-m", module, *args]


class _ZygoteError(Exception):
    """The zygote did not answer as expected."""


ExitStatus = tuple[int | None, int | None]  # (exit code, signal)


class _Zygote:
    """The parent's handle on the zygote process."""

    def __init__(self, workdir: str, skip: Collection[str] = ()) -> None:
        ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                _interpreter_cmd(
                    "policywright.agent.sandbox._zygote",
                    str(theirs.fileno()),
                    workdir,
                    ",".join(sorted(skip)),
                ),
                pass_fds=[theirs.fileno()],
                env=_minimal_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # no terminal signals; it exits when ctrl closes
            )
        finally:
            theirs.close()
        self.ctrl = ctrl
        self.exited: dict[int, ExitStatus] = {}
        ready = self._recv(_ZYGOTE_READY_TIMEOUT)
        if ready.get("type") != "ready":
            self.close()
            raise _ZygoteError(f"unexpected first message {ready!r}")
        layers = ready.get("layers")
        self.layers = Layers.from_message(layers if isinstance(layers, dict) else {})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _recv(self, timeout: float) -> dict[str, Any]:
        readable, _, _ = select.select([self.ctrl], [], [], timeout)
        if not readable:
            raise _ZygoteError("the zygote did not answer in time")
        data = self.ctrl.recv(1 << 16)
        if not data:
            raise _ZygoteError("the zygote exited")
        message = json.loads(data)
        if not isinstance(message, dict):
            raise _ZygoteError("malformed message from the zygote")
        return message

    def _expect(self, kind: str, run: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self._recv(max(deadline - time.monotonic(), 0.0))
            if message.get("type") == "exited":
                self.exited[int(message["run"])] = (message.get("code"), message.get("signal"))
            if message.get("type") == kind and message.get("run") == run:
                return message

    def fork(self, run: int, channel: socket.socket) -> int:
        request = json.dumps({"type": "fork", "run": run}).encode("utf-8")
        socket.send_fds(self.ctrl, [request], [channel.fileno()])
        return int(self._expect("started", run, _ZYGOTE_REPLY_TIMEOUT)["pid"])

    def kill(self, run: int) -> None:
        self.ctrl.send(json.dumps({"type": "kill", "run": run}).encode("utf-8"))

    def wait(self, run: int, timeout: float) -> ExitStatus:
        if run not in self.exited:
            self._expect("exited", run, timeout)
        return self.exited.pop(run)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.ctrl.close()
        try:
            self.proc.wait(timeout=_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Child(Protocol):
    pid: int

    def kill(self) -> None: ...

    def wait(self, timeout: float) -> ExitStatus: ...


class _WarmChild:
    def __init__(self, zygote: _Zygote, run: int, channel: socket.socket) -> None:
        self.zygote, self.run = zygote, run
        self.pid = zygote.fork(run, channel)

    def kill(self) -> None:
        # The zygote kills: it alone reaps this pid, so the pid cannot have been reused.
        self.zygote.kill(self.run)

    def wait(self, timeout: float) -> ExitStatus:
        return self.zygote.wait(self.run, timeout)


class _ColdChild:
    def __init__(self, channel: socket.socket, workdir: str, isolation: str) -> None:
        fd = channel.fileno()
        self.proc = subprocess.Popen(
            _interpreter_cmd("policywright.agent.sandbox._child", str(fd), workdir, isolation),
            pass_fds=[fd],
            env=_minimal_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def kill(self) -> None:
        if self.proc.returncode is None:  # not reaped yet, so the pid is still ours
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> ExitStatus:
        code = self.proc.wait(timeout=timeout)
        return (None, -code) if code < 0 else (code, None)


class _Outcome(Exception):
    """Ends a run early with a final report (raised inside the session loop)."""

    def __init__(self, status: ExecStatus, **fields: Any) -> None:
        super().__init__(status)
        self.status = status
        self.fields = fields


class _Session:
    """One run: the message loop between the parent and one child."""

    def __init__(
        self,
        code: str,
        host: PrimitiveHost,
        names: frozenset[str],
        limits: SandboxLimits,
        sock: socket.socket,
        child: _Child,
        started: float,
    ) -> None:
        self.code, self.host, self.names, self.limits = code, host, names, limits
        self.sock, self.child, self.started = sock, child, started
        self.reader = LineReader(sock, limits.max_message_bytes)
        self.calls: list[CallRecord] = []
        self.output: list[str] = []
        self.output_len = 0
        self.output_truncated = False
        self.child_time = 0.0
        self.exit_status: ExitStatus | None = None
        self.killed = False

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> ExecReport:
        try:
            while True:
                message = self.next_message()
                if message is None:
                    raise self.child_vanished()
                self.handle(message)
        except _Outcome as outcome:
            return self.report(outcome.status, **outcome.fields)

    def check_clocks(self) -> tuple[float, float]:
        """The time left on both wall clocks; raises the timeout outcome when one is spent."""
        wall_left = self.limits.wall_seconds - self.child_time
        total_left = self.started + self.limits.total_wall_seconds - time.monotonic()
        if wall_left <= 0 or total_left <= 0:
            raise self.timeout(total=total_left <= 0)
        return wall_left, total_left

    def next_message(self) -> dict[str, Any] | None:
        """The next message, or None at end of stream; enforces the wall clocks."""
        while True:
            # Checked before every message, buffered ones too: a child that writes many calls
            # at once must not be served past its limits.
            wall_left, total_left = self.check_clocks()
            try:
                message: dict[str, Any] | None = self.reader.pop()
            except ChannelError as exc:
                raise self.protocol_error(str(exc)) from None
            if message is not None:
                return message
            if self.reader.eof:
                return None
            t0 = time.monotonic()
            readable, _, _ = select.select([self.sock], [], [], min(wall_left, total_left))
            self.child_time += time.monotonic() - t0  # only time spent waiting on the child
            if readable:
                try:
                    self.reader.fill()
                except ChannelError as exc:
                    raise self.protocol_error(str(exc)) from None
                except OSError:
                    self.reader.eof = True

    def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "call":
            self.serve_call(message)
        elif kind == "print":
            self.add_output(message)
        elif kind == "done":
            raise _Outcome("ok")
        elif kind == "error":
            self.child_error(message)
        else:
            raise self.protocol_error(f"unknown message type {kind!r}")

    # -- messages ---------------------------------------------------------------------------

    def add_output(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if not isinstance(text, str):
            raise self.protocol_error("print text must be a string")
        room = self.limits.max_output_chars - self.output_len
        if len(text) > room:
            # The child enforces this limit itself; getting here means it did not.
            self.output.append(text[:room])
            self.output_len += room
            raise self.output_exceeded(None)
        self.output.append(text)
        self.output_len += len(text)

    def serve_call(self, message: dict[str, Any]) -> None:
        cid, name = message.get("id"), message.get("name")
        args, kwargs, line = message.get("args"), message.get("kwargs"), message.get("line")
        if (
            not isinstance(cid, int)
            or isinstance(cid, bool)
            or not isinstance(name, str)
            or not isinstance(args, list)
            or not isinstance(kwargs, dict)
            or not (line is None or (isinstance(line, int) and not isinstance(line, bool)))
        ):
            raise self.protocol_error("malformed call message")
        if name not in self.names:
            raise self.protocol_error(f"call to unknown primitive {name!r}")
        if len(self.calls) >= self.limits.max_calls:
            raise _Outcome(
                "error",
                error_type="CallBudgetExceeded",
                line=line,
                message=(
                    f"the program made more than {self.limits.max_calls} primitive calls; "
                    "make fewer calls (e.g. plan the whole path, then follow it once)"
                ),
            )
        record = self.record(name, args, kwargs, line)
        self.calls.append(record)
        # Every text the host returns is bounded here, whatever the host: hosts echo their
        # input in validation errors, and a program chooses that input.
        try:
            value = self.host.call(name, args, kwargs, line)
        except PrimitiveCallError as exc:
            text = clip_text(exc.message)
            record.ok, record.error = False, text
            self.send({"type": "raise", "id": cid, "error_type": "PrimitiveError", "message": text})
            return
        except SafetyViolation as exc:
            text = clip_text(str(exc))
            record.ok, record.error = False, text
            raise _Outcome("refused", rule=f"safety:{exc.rule}", line=line, message=text) from None
        except Preempted as exc:
            text = clip_text(str(exc))
            record.ok, record.error = False, text
            raise _Outcome("preempted", line=line, message=text) from None
        except Exception as exc:
            _log.exception("primitive host failed on %s()", name)
            text = clip_text(f"{type(exc).__name__}: {exc}")
            record.ok, record.error = False, text
            raise _Outcome(
                "error",
                error_type="InternalError",
                line=line,
                message=clip_text(f"the engine failed while running {name}(): {text}"),
            ) from None
        # The time the call took counts on the total clock at once, not at the next message.
        self.check_clocks()
        try:
            value = to_jsonable(value)
            data = encode({"type": "result", "id": cid, "value": value})
        except (TypeError, ValueError) as exc:
            raise _Outcome(
                "error",
                error_type="InternalError",
                line=line,
                message=clip_text(f"{name}() returned a value that cannot be sent: {exc}"),
            ) from None
        if _has_non_finite(value):
            # A helper such as normalize_xy([1e308, 1e308]) overflowed: the program must not
            # compute on inf or NaN, so it gets a catchable error naming the call.
            text = (
                f"{name}() gave a non-finite result (NaN or an infinity) for these arguments; "
                "pass finite values within the workspace"
            )
            record.ok, record.error = False, text
            self.send({"type": "raise", "id": cid, "error_type": "PrimitiveError", "message": text})
            return
        if len(data) > self.limits.max_message_bytes:
            raise _Outcome(
                "error",
                error_type="InternalError",
                line=line,
                message=f"{name}() returned more than {self.limits.max_message_bytes} bytes",
            )
        record.result = value if len(data) <= MAX_RECORDED_BYTES else f"<{len(data)} bytes>"
        self.send_raw(data)

    def record(self, name: str, args: list[Any], kwargs: dict[str, Any], line: Any) -> CallRecord:
        size = len(encode({"a": args, "k": kwargs}))
        if size > MAX_RECORDED_BYTES:
            return CallRecord(name=name, args=[f"<{size} bytes of arguments omitted>"], line=line)
        return CallRecord(name=name, args=args, kwargs=kwargs, line=line)

    def child_error(self, message: dict[str, Any]) -> None:
        error_type, text, line = (
            message.get("error_type"),
            message.get("message"),
            message.get("line"),
        )
        if not isinstance(error_type, str) or not isinstance(text, str):
            raise self.protocol_error("malformed error message")
        # The child bounds its own texts, but it runs the program: bound them again here.
        error_type, text = clip_text(error_type, 100), clip_text(text)
        if not (line is None or (isinstance(line, int) and not isinstance(line, bool))):
            raise self.protocol_error("malformed error line")
        if error_type == "OutputLimitExceeded":
            raise self.output_exceeded(line)
        status: ExecStatus = "memory" if error_type == "MemoryError" else "error"
        if status == "memory":
            text = f"the program ran out of memory (limit {self.limits.memory_mb} MiB)" + (
                f": {text}" if text else ""
            )
        raise _Outcome(status, error_type=error_type, line=line, message=text)

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(encode(message))

    def send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise self.timeout(total=False) from None
        except OSError:
            pass  # the child died; the next read sees end of stream and asks for its status

    # -- endings ----------------------------------------------------------------------------

    def kill(self) -> None:
        self.killed = True
        # When the zygote is gone its children died with it (PR_SET_PDEATHSIG).
        with contextlib.suppress(OSError, _ZygoteError):
            self.child.kill()

    def protocol_error(self, why: str) -> _Outcome:
        self.kill()
        return _Outcome(
            "error",
            error_type="ProtocolError",
            message=f"the sandboxed process broke the channel protocol: {why}",
        )

    def output_exceeded(self, line: int | None) -> _Outcome:
        self.kill()
        self.output_truncated = True
        return _Outcome(
            "error",
            error_type="OutputLimitExceeded",
            line=line,
            message=(
                f"the program printed more than {self.limits.max_output_chars} characters; "
                "print less"
            ),
        )

    def timeout(self, *, total: bool) -> _Outcome:
        self.kill()
        last = self.calls[-1].line if self.calls else None
        where = f" (its last primitive call was on line {last})" if last else ""
        if total:
            why = f"the run took longer than {self.limits.total_wall_seconds:g} s in total"
        else:
            why = (
                f"the program ran for more than {self.limits.wall_seconds:g} s of its own "
                "time (primitive calls not counted)"
            )
        return _Outcome("timeout", message=f"{why}{where}; does it loop forever?")

    def child_vanished(self) -> _Outcome:
        """The channel closed without a final message: ask how the child ended."""
        try:
            self.exit_status = self.child.wait(_REAP_TIMEOUT)
        except Exception:  # the zygote died too, or the child hangs after closing
            self.kill()
            return _Outcome(
                "error",
                error_type="ChildCrashed",
                message="the sandboxed process ended without a report",
            )
        code, sig = self.exit_status
        if sig == signal.SIGXCPU:
            return _Outcome(
                "timeout",
                message=f"the program used more than {self.limits.cpu_seconds} s of CPU time",
            )
        if code == EXIT_MEMORY or sig in (
            signal.SIGKILL,
            signal.SIGSEGV,
            signal.SIGBUS,
            signal.SIGABRT,
        ):
            signame = signal.Signals(sig).name if sig else f"exit code {code}"
            return _Outcome(
                "memory",
                error_type="MemoryError",
                message=(
                    f"the program process died ({signame}), most likely by exceeding the "
                    f"memory limit of {self.limits.memory_mb} MiB"
                ),
            )
        if code == EXIT_OUTPUT:
            return self.output_exceeded(None)
        if code == EXIT_ISOLATION:
            return _Outcome(
                "error",
                error_type="IsolationFailed",
                message=(
                    "the sandboxed process could not apply a kernel isolation layer that "
                    "worked when the sandbox started; the program did not run (run "
                    "`policywright doctor`; a maintainer must look if it persists)"
                ),
            )
        if code in (EXIT_PROTOCOL, EXIT_INTERNAL):
            return _Outcome(
                "error",
                error_type="InternalError",
                message=f"the sandbox runtime failed (exit code {code})",
            )
        return _Outcome(
            "error",
            error_type="ChildCrashed",
            message=f"the sandboxed process ended without a report (code {code}, signal {sig})",
        )

    def report(self, status: ExecStatus, **fields: Any) -> ExecReport:
        line = fields.get("line")
        source_line = None
        if isinstance(line, int) and line >= 1:
            source_line = _source_line(self.code, line)
        output = "".join(self.output)
        if self.output_truncated:
            output += _TRUNCATION_MARKER.format(n=self.limits.max_output_chars)
        return ExecReport(
            status=status,
            source_line=source_line,
            calls=self.calls,
            output=output,
            duration_s=time.monotonic() - self.started,
            **fields,
        )


class Sandbox:
    """Runs planner-written programs, one isolated process per run.

    Args:
        limits: The resource limits of every run.
        warm: Fork runs from a pre-imported zygote (fast); False spawns a fresh interpreter
            per run (slow, no helper process).
        skip_layers: Kernel layers a warm sandbox leaves off ("namespaces", "run-uid",
            "landlock", "seccomp"): only for benchmarks and tests of best-effort isolation.

    Example:
        >>> with Sandbox() as sandbox:  # doctest: +SKIP
        ...     report = sandbox.run("print(1 + 1)", host)
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        warm: bool = True,
        skip_layers: Collection[str] = (),
    ) -> None:
        self.limits = limits if limits is not None else SandboxLimits()
        self.warm = warm
        unknown = set(skip_layers) - set(LAYER_NAMES)
        if unknown:
            raise ValueError(f"unknown kernel layers {sorted(unknown)}; known: {LAYER_NAMES}")
        self._skip_layers = tuple(skip_layers)
        self._lock = threading.Lock()
        self._workdir: str | None = None
        self._zygote: _Zygote | None = None
        self._runs = 0
        self._layers_reported = False

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Create the work directory and, when warm, start the zygote (idempotent)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._workdir is None:
            workdir = tempfile.mkdtemp(prefix="policywright-sandbox-")
            os.chmod(workdir, 0o555)  # empty and read-only: the program has nowhere to write
            self._workdir = workdir
        if self.warm and (self._zygote is None or not self._zygote.alive()):
            self._restart_zygote()

    def _restart_zygote(self) -> None:
        assert self._workdir is not None
        if self._zygote is not None:
            _log.warning("sandbox zygote is gone; restarting it")
            self._stop_zygote()
        self._zygote = _Zygote(self._workdir, self._skip_layers)
        self._report_layers(self._zygote.layers)

    def _report_layers(self, layers: Layers) -> None:
        """Say once, loudly, which layers are off (best-effort runs without them)."""
        if not layers.missing or self._layers_reported:
            return
        self._layers_reported = True
        gaps = strict_gaps(layers)
        if self.limits.isolation == "strict" and gaps:
            _log.error("sandbox: %s", isolation_refusal(gaps))
            return
        off = "; ".join(f"{name}: {why}" for name, why in layers.missing.items())
        level = logging.WARNING if gaps else logging.INFO
        _log.log(
            level,
            "SANDBOX ISOLATION IS WEAKER ON THIS MACHINE (isolation=%s); layers off: %s",
            self.limits.isolation,
            off,
        )

    def layers(self) -> Layers:
        """The kernel layers this sandbox's children get (starts the zygote if needed).

        Returns:
            The layers a warm sandbox's zygote verified; a cold sandbox probes them the same
            way in a short-lived zygote.
        """
        with self._lock:
            self._start_locked()
            if self._zygote is not None:
                return self._zygote.layers
            assert self._workdir is not None
            probe = _Zygote(self._workdir, self._skip_layers)
            try:
                return probe.layers
            finally:
                probe.close()

    def check_isolation(self) -> None:
        """Raise when the isolation setting cannot be met on this machine.

        Raises:
            IsolationUnavailable: isolation is "strict" and a required layer is off.
        """
        gaps = strict_gaps(self.layers())
        if self.limits.isolation == "strict" and gaps:
            raise IsolationUnavailable(gaps)

    def _stop_zygote(self) -> None:
        if self._zygote is not None:
            zygote, self._zygote = self._zygote, None
            zygote.close()

    def close(self) -> None:
        """Stop the zygote and remove the work directory (idempotent)."""
        with self._lock:
            self._stop_zygote()
            if self._workdir is not None:
                with contextlib.suppress(OSError):
                    os.rmdir(self._workdir)
                self._workdir = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def zygote_pid(self) -> int | None:
        """The zygote's pid (None when cold or not started)."""
        return self._zygote.proc.pid if self._zygote is not None else None

    # -- runs -------------------------------------------------------------------------------

    def run(self, code: str, host: PrimitiveHost, *, seed: int = 0) -> ExecReport:
        """Check a program statically, then run it in a fresh sandboxed process.

        Args:
            code: The program text.
            host: Serves the program's primitive calls.
            seed: Seeds the program's ``np.random`` so that a seed fixes a run.

        Returns:
            The report.  A refused program never starts a process.  The engine survives
            every outcome, and the next run works.
        """
        started = time.monotonic()
        names = frozenset(host.names())
        static = check_program(
            code, primitive_names=names, max_source_chars=self.limits.max_source_chars
        )
        if not static.ok:
            first = static.violations[0]
            return ExecReport(
                status="refused",
                rule=first.rule,
                line=first.line or None,
                source_line=_source_line(code, first.line),
                message="the program was refused before running:\n" + static.feedback(),
                violations=static.violations,
                duration_s=time.monotonic() - started,
            )
        return self._execute(code, host, names, started, seed)

    def _run_unchecked(self, code: str, host: PrimitiveHost) -> ExecReport:
        """Run without the static checks: only for tests of the process boundary."""
        return self._execute(code, host, frozenset(host.names()), time.monotonic())

    def _execute(
        self,
        code: str,
        host: PrimitiveHost,
        names: frozenset[str],
        started: float,
        seed: int = 0,
    ) -> ExecReport:
        with self._lock:
            self._start_locked()
            if self.warm and self._zygote is not None and self.limits.isolation == "strict":
                gaps = strict_gaps(self._zygote.layers)
                if gaps:
                    return ExecReport(
                        status="error",
                        rule="isolation",
                        error_type="IsolationUnavailable",
                        message=isolation_refusal(gaps),
                        duration_s=time.monotonic() - started,
                    )
            self._runs += 1
            run = self._runs
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                try:
                    child = self._spawn(run, theirs)
                finally:
                    theirs.close()  # the child holds its own copy; EOF must mean it is gone
                session = _Session(code, host, names, self.limits, ours, child, started)
                try:
                    ours.settimeout(self.limits.wall_seconds)  # bounds sendall only
                    session.send(self._start_message(code, host, names, seed))
                    return session.run()
                finally:
                    self._reap(session)
            finally:
                ours.close()

    def _start_message(
        self, code: str, host: PrimitiveHost, names: frozenset[str], seed: int = 0
    ) -> dict[str, Any]:
        return {
            "type": "start",
            "seed": seed,
            "code": code,
            "primitives": sorted(names),
            "array_returning": sorted(host.array_returning()),
            "max_output_chars": self.limits.max_output_chars,
            "max_message_bytes": self.limits.max_message_bytes,
            "cpu_seconds": self.limits.cpu_seconds,
            "memory_bytes": self.limits.memory_mb * 1024 * 1024,
        }

    def _spawn(self, run: int, theirs: socket.socket) -> _Child:
        assert self._workdir is not None
        if self.warm:
            for attempt in (1, 2):
                try:
                    if self._zygote is None or not self._zygote.alive():
                        self._restart_zygote()
                    assert self._zygote is not None
                    return _WarmChild(self._zygote, run, theirs)
                except (OSError, _ZygoteError, ValueError) as exc:
                    _log.warning("sandbox zygote failed (attempt %d): %s", attempt, exc)
                    self._stop_zygote()
            _log.warning("sandbox: falling back to a cold start for this run")
        return _ColdChild(theirs, self._workdir, self.limits.isolation)

    def _reap(self, session: _Session) -> None:
        """Make sure the child is dead and reaped before the next run."""
        if session.exit_status is not None:
            return
        try:
            session.child.kill()  # harmless when it already exited after "done"
            session.exit_status = session.child.wait(_REAP_TIMEOUT)
        except (OSError, _ZygoteError, ValueError, subprocess.TimeoutExpired) as exc:
            _log.warning("sandbox: could not reap a child (%s); restarting the zygote", exc)
            if self.warm:
                self._stop_zygote()


def _source_line(code: str, line: int) -> str | None:
    if line < 1:
        return None
    lines = code.splitlines()
    return clip_text(lines[line - 1], MAX_SOURCE_LINE_CHARS) if line <= len(lines) else None


def _has_non_finite(value: Any) -> bool:
    """Whether a JSON value holds NaN or an infinity anywhere."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    return False
