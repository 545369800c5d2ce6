"""The zygote: a long-lived helper that imports the runtime once and forks one child per run.

Started by the parent as ``python -P -m policywright.agent.sandbox._zygote CTRL_FD WORKDIR SKIP``
with a minimal environment.  ``CTRL_FD`` is a SOCK_SEQPACKET socket (one message per send,
so a passed descriptor stays attached to its request).  Requests and replies are JSON objects:

* parent -> zygote: ``{"type": "fork", "run": n}`` with the child's channel socket attached
  (SCM_RIGHTS); ``{"type": "kill", "run": n}``.
* zygote -> parent: ``{"type": "ready", "pid": p, "layers": {...}}`` once (the kernel layers
  its children get, see ``_kernel.Layers``);
  ``{"type": "started", "run": n, "pid": p}``; ``{"type": "exited", "run": n, "code": c,
  "signal": s}`` exactly once per started child, after reaping it.

Only the zygote waits for its children, so a pid it kills can never have been reused.  It exits
when the control socket closes (the engine died or closed the sandbox), killing its children.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
from typing import Any

from policywright.agent.sandbox._child import child_main
from policywright.agent.sandbox._facades import build_facades
from policywright.agent.sandbox._kernel import prepare

__all__ = ["serve"]

_MAX_REQUEST = 1 << 16


def _send(ctrl: socket.socket, message: dict[str, Any]) -> None:
    ctrl.send(json.dumps(message).encode("utf-8"))


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def serve(ctrl_fd: int, workdir: str, skip: tuple[str, ...] = ()) -> None:
    """Serve fork requests until the control socket closes.

    Args:
        ctrl_fd: The SOCK_SEQPACKET control socket to the parent.
        workdir: The empty read-only directory children run in.
        skip: Kernel layers to leave off (benchmarks and tests only).
    """
    facades = build_facades()
    # One set of namespaces for the zygote and every child it forks (a network namespace per
    # child costs about 2 ms per run, and the zygote needs no network either), one Landlock
    # ruleset and one seccomp filter, which each child applies to itself after the fork.
    plan = prepare(skip=skip)
    ctrl = socket.socket(fileno=ctrl_fd)
    my_pid = os.getpid()
    # run id -> pid, and pidfd -> (run id, pid) of children not yet reaped.
    by_run: dict[int, int] = {}
    by_pidfd: dict[int, tuple[int, int]] = {}
    _send(ctrl, {"type": "ready", "pid": my_pid, "layers": plan.layers.as_message()})
    try:
        while True:
            readable, _, _ = select.select([ctrl_fd, *by_pidfd], [], [])
            for fd in readable:
                if fd == ctrl_fd:
                    data, fds, _flags, _addr = socket.recv_fds(ctrl, _MAX_REQUEST, 4)
                    if not data:
                        return
                    request = json.loads(data)
                    if request["type"] == "fork" and len(fds) == 1:
                        pid = os.fork()
                        if pid == 0:
                            child_main(fds[0], workdir, facades, plan=plan, parent_pid=my_pid)
                        os.close(fds[0])
                        run = int(request["run"])
                        by_run[run] = pid
                        by_pidfd[os.pidfd_open(pid)] = (run, pid)
                        _send(ctrl, {"type": "started", "run": run, "pid": pid})
                    else:
                        for extra in fds:
                            os.close(extra)
                        if request["type"] == "kill" and int(request["run"]) in by_run:
                            _kill(by_run[int(request["run"])])
                else:
                    run, pid = by_pidfd.pop(fd)
                    os.close(fd)
                    by_run.pop(run, None)
                    _, status = os.waitpid(pid, 0)
                    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                    _send(ctrl, {"type": "exited", "run": run, "code": code, "signal": sig})
    finally:
        for pid in by_run.values():
            _kill(pid)


def main(argv: list[str]) -> None:
    """Command-line entry point: ``_zygote CTRL_FD WORKDIR [SKIP,LAYERS]``."""
    skip = tuple(filter(None, argv[3].split(","))) if len(argv) > 3 else ()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the engine went away
        serve(int(argv[1]), argv[2], skip)


if __name__ == "__main__":
    main(sys.argv)
