"""Assume-breach harness: run an escaped program in a fully isolated child, report what it did.

Run by tests/agent/sandbox/test_isolation.py as ``python breach_harness.py`` -- as root, and
as a normal user through ``runuser`` -- never imported by policywright itself.  It plays the
engine: it plants canaries (a secret in the home folder and in /tmp, readable by the engine's
own uid), opens a filesystem and an abstract unix socket, a TCP and a UDP port on loopback,
starts a process of its own uid, then runs :data:`BREACH` through ``Sandbox._run_unchecked``
(the test-only entry that skips the static checks; programs never reach the parent's methods).

:data:`BREACH` starts the way a program that broke the Python layer would (the numpy
use-after-free of issue 14 ends in the same place): it takes the real builtins from the
capturing ``print``'s globals, and so ``os``, ``socket``, ``resource`` and ``ctypes``.  Then it
tries each attempt; the harness also checks the side effects (no file made, the process alive,
no connection accepted) and prints one JSON object: attempt -> "blocked: ..." or "NOT BLOCKED".
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Collection
from typing import Any

from policywright.agent.sandbox import Sandbox, SandboxLimits

BREACH = r"""
bi = print.__globals__['__builtins__']
bi = bi if isinstance(bi, dict) else bi.__dict__
imp = bi['__import__']
BaseException = bi['BaseException']
open = bi['open']
os = imp('os')
socket = imp('socket')
resource = imp('resource')
ctypes = imp('ctypes')
json = imp('json')
OSError = bi['OSError']
HARNESS_BUGS = (bi['NameError'], bi['TypeError'], bi['AttributeError'], bi['KeyError'])
results = {}

def attempt(label, fn):
    try:
        value = fn()
        results[label] = 'NOT BLOCKED: ' + repr(value)[:60]
    except HARNESS_BUGS as e:  # a bug of this harness, not a layer that held
        results[label] = 'HARNESS ERROR: ' + repr(e)[:60]
    except BaseException as e:
        results[label] = 'blocked: ' + bi['type'](e).__name__ + ': ' + str(e)[:60]

def forked():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid

def connect_unix(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(address)
    return 'connected'

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendto(b'x', ('127.0.0.1', CFG['udp_port']))

def libc_call(name, *args):
    result = bi['getattr'](ctypes.CDLL(None, use_errno=True), name)(*args)
    if result != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result

def write_file(path):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b'x')
    return 'written'

# RLIMIT_NOFILE leaves no free descriptor: free three, as an escaped program would, so that
# what follows meets the kernel layers, not the descriptor limit.
for fd in (0, 1, 2):
    os.close(fd)
attempt('read a canary in the home folder', lambda: open(CFG['home_canary']).read())
attempt('read a canary in /tmp', lambda: open(CFG['tmp_canary']).read())
attempt('read /etc/passwd', lambda: open('/etc/passwd').read(10))
attempt('list /', lambda: os.listdir('/'))
attempt('create a file in /tmp', lambda: write_file(CFG['tmp_dir'] + '/made'))
attempt('create a file in the home folder', lambda: write_file(CFG['home_dir'] + '/made'))
attempt('create a file in the work folder', lambda: write_file('made'))
attempt('make a folder', lambda: os.mkdir(CFG['tmp_dir'] + '/folder'))
attempt('make a symlink', lambda: os.symlink('/etc/shadow', CFG['tmp_dir'] + '/link'))
attempt('connect to a filesystem unix socket', lambda: connect_unix(CFG['unix_path']))
attempt('connect to an abstract unix socket', lambda: connect_unix('\0' + CFG['abstract']))
attempt('TCP to loopback', lambda: socket.create_connection(('127.0.0.1', CFG['tcp_port']), 1))
attempt('UDP to loopback', udp)
attempt('signal another process', lambda: os.kill(CFG['victim_pid'], 15))
attempt('signal the engine', lambda: os.kill(CFG['engine_pid'], 0))
attempt("read another process's /proc", lambda: open(f"/proc/{CFG['victim_pid']}/cmdline").read())
attempt("read the engine's /proc", lambda: open(f"/proc/{CFG['engine_pid']}/environ").read())
attempt('fork', forked)
attempt('raise the descriptor limit', lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
attempt('raise the memory limit', lambda: resource.setrlimit(resource.RLIMIT_AS, (-1, -1)))
attempt('exec a program', lambda: os.execv('/bin/sh', ['sh', '-c', 'true']))
attempt('unshare a user namespace', lambda: libc_call('unshare', 0x10000000))
attempt('ptrace the engine', lambda: libc_call('ptrace', 16, CFG['engine_pid'], 0, 0))
print(json.dumps(results))
"""


class _NoHost:
    def names(self) -> Collection[str]:
        return []

    def array_returning(self) -> Collection[str]:
        return []

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int | None) -> Any:
        raise AssertionError("the breach program calls no primitive")


def run(skip_layers: Collection[str] = ()) -> dict[str, Any]:
    """Plant the targets, run :data:`BREACH`, check the side effects; the results.

    Args:
        skip_layers: Kernel layers to leave off (best-effort), to show the harness sees an
            escape when nothing stops it.
    """
    home = os.path.expanduser("~")
    tmp_dir = tempfile.mkdtemp(prefix="pw-breach-")
    os.chmod(tmp_dir, 0o1777)  # world-writable, like /tmp: only the kernel layers stop a write
    secret = f"canary-{os.getpid()}"
    home_canary = os.path.join(home, f".pw-breach-canary-{os.getpid()}")
    tmp_canary = os.path.join(tmp_dir, "canary")
    for path in (home_canary, tmp_canary):
        with open(path, "w") as f:
            f.write(secret)
        os.chmod(path, 0o644)  # readable by everyone: only the kernel layers stop a read
    unix_path = os.path.join(tmp_dir, "engine.sock")
    servers = []
    for family, kind, address in (
        (socket.AF_UNIX, socket.SOCK_STREAM, unix_path),
        (socket.AF_UNIX, socket.SOCK_STREAM, f"\0pw-breach-{os.getpid()}"),
        (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0)),
        (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)),
    ):
        s = socket.socket(family, kind)
        s.bind(address)
        if kind == socket.SOCK_STREAM:
            s.listen(4)
        s.setblocking(False)
        servers.append(s)
    os.chmod(unix_path, 0o777)
    victim = subprocess.Popen(["sleep", "60"])
    cfg = {
        "home_canary": home_canary,
        "tmp_canary": tmp_canary,
        "home_dir": home,
        "tmp_dir": tmp_dir,
        "unix_path": unix_path,
        "abstract": f"pw-breach-{os.getpid()}",
        "tcp_port": servers[2].getsockname()[1],
        "udp_port": servers[3].getsockname()[1],
        "victim_pid": victim.pid,
        "engine_pid": os.getpid(),
    }
    out: dict[str, Any] = {"uid": os.geteuid()}
    try:
        limits = SandboxLimits(
            wall_seconds=20, cpu_seconds=20, isolation="best-effort" if skip_layers else "strict"
        )
        with Sandbox(limits, skip_layers=skip_layers) as sandbox:
            layers = sandbox.layers()
            out["layers"] = layers.as_message()
            report = sandbox._run_unchecked(f"CFG = {cfg!r}\n" + BREACH, _NoHost())
        out["status"], out["message"] = report.status, report.message
        results: dict[str, str] = json.loads(report.output) if report.status == "ok" else {}
        # What the program could not see: side effects, checked from outside.
        made = [p for p in ("made", "folder", "link") if os.path.lexists(os.path.join(tmp_dir, p))]
        if os.path.lexists(os.path.join(home, "made")):
            made.append("~/made")
        results["side effect: nothing was created"] = (
            f"NOT BLOCKED: {made}" if made else "blocked: no new file"
        )
        results["side effect: the other process is alive"] = (
            "blocked: alive" if victim.poll() is None else "NOT BLOCKED: it died"
        )
        accepted = []
        for s in servers:
            with contextlib.suppress(BlockingIOError):
                if s.type == socket.SOCK_STREAM:
                    s.accept()
                else:
                    s.recv(16)
                accepted.append(str(s.getsockname()))
        results["side effect: no connection or datagram arrived"] = (
            f"NOT BLOCKED: {accepted}" if accepted else "blocked: none"
        )
        out["results"] = results
    finally:
        victim.kill()
        victim.wait()
        for s in servers:
            s.close()
        for path in (home_canary, os.path.join(home, "made")):
            with contextlib.suppress(OSError):
                os.unlink(path)
        subprocess.run(["rm", "-rf", tmp_dir], check=False)
    return out


if __name__ == "__main__":
    json.dump(run([a for a in sys.argv[1:2] for a in a.split(",") if a]), sys.stdout)
