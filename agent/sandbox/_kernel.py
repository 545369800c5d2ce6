"""Kernel layers of a sandboxed child: namespaces, a uid per run, Landlock and seccomp-bpf.

The Python layer (static checks, facades) is the first wall, not the last: numpy has
memory-unsafe paths that no AST rule can see.  These layers hold when it breaks, for any user:

* namespaces -- a new network namespace (no interface but a down loopback: no TCP, no UDP, no
  abstract unix socket of the host) and IPC and mount namespaces; unprivileged, through a new
  user namespace that maps only the engine's own uid (root needs none);
* a uid per run (root only) -- each child runs as ``RUN_UID_BASE + pid``, never shared with
  another run or with ``nobody``, so no run can signal or read another;
* Landlock -- read-only access beneath the interpreter's and the installed packages' folders,
  nothing else; no write, make or remove anywhere; no TCP bind or connect (ABI >= 4); no
  abstract unix socket or signal outside the child's own domain (ABI >= 6);
* seccomp-bpf with ``no_new_privs`` -- an allow-list of the system calls the runtime needs;
  everything else fails with EPERM (sockets, fork and clone, exec, ptrace, mount, unshare,
  keyctl, bpf, io_uring, memfd_create...); ``kill`` and ``tgkill`` only towards itself.

Landlock is a small ctypes layer over its three system calls: the PyPI binding (``landlock``
1.0.0.dev5) covers only filesystem rules, not the TCP rules (ABI 4) or the scopes (ABI 6) this
module relies on, nor reusing one ruleset for every fork.  seccomp goes through libseccomp's
``pyseccomp`` binding, which resolves system call names per architecture.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "LAYER_NAMES",
    "RUN_UID_BASE",
    "RUN_UID_SPAN",
    "STRICT_LAYERS",
    "KernelPlan",
    "Layers",
    "SeccompPolicy",
    "apply_in_child",
    "apply_seccomp",
    "build_seccomp",
    "drop_capabilities",
    "enter_namespaces",
    "landlock_abi",
    "landlock_restrict",
    "make_landlock_ruleset",
    "prepare",
    "run_uid",
    "runtime_read_dirs",
    "set_no_new_privs",
    "strict_gaps",
]

#: Children of a root engine run as ``RUN_UID_BASE + pid`` (and the same gid): a range no
#: distribution hands out (useradd stops at 60000, subuid ranges start at 100000 and are
#: 65536 wide), as wide as the largest pid_max, so two live children never share a uid.
RUN_UID_BASE: Final = 0x5000_0000
RUN_UID_SPAN: Final = 1 << 22

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWIPC: Final = 0x08000000
_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000
_PR_SET_NO_NEW_PRIVS: Final = 38

# Landlock (include/uapi/linux/landlock.h).  The three system calls have the same numbers on
# every architecture (the generic table).
_SYS_LANDLOCK_CREATE_RULESET: Final = 444
_SYS_LANDLOCK_ADD_RULE: Final = 445
_SYS_LANDLOCK_RESTRICT_SELF: Final = 446
_LANDLOCK_CREATE_RULESET_VERSION: Final = 1
_LANDLOCK_RULE_PATH_BENEATH: Final = 1
_FS_READ_FILE: Final = 1 << 2
_FS_READ_DIR: Final = 1 << 3
# Every filesystem right of each ABI: a right the ruleset does not handle is not restricted.
_FS_RIGHTS_BY_ABI: Final = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP: Final = 1 << 0
_NET_CONNECT_TCP: Final = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0
_SCOPE_SIGNAL: Final = 1 << 1


class _RulesetAttr(ctypes.Structure):
    # The ABI 6 layout; older kernels accept it as long as the fields they lack are zero.
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the uapi header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


@dataclass
class Layers:
    """Which kernel layers a zygote (or a cold child) could set up.

    Attributes:
        landlock_abi: The Landlock ABI version in force (0: none).
        seccomp: A seccomp filter can be loaded (libseccomp and its binding are installed).
        userns: The process entered a new user namespace (unprivileged engines).
        netns: The process entered new network, IPC and mount namespaces.
        run_uid: Each child runs under its own uid (root engines only).
        missing: Layer name -> why it is off and how to get it.
    """

    landlock_abi: int = 0
    seccomp: bool = False
    userns: bool = False
    netns: bool = False
    run_uid: bool = False
    missing: dict[str, str] = field(default_factory=dict)

    def as_message(self) -> dict[str, Any]:
        """The layers as a JSON object (the zygote's "ready" message)."""
        return {
            "landlock_abi": self.landlock_abi,
            "seccomp": self.seccomp,
            "userns": self.userns,
            "netns": self.netns,
            "run_uid": self.run_uid,
            "missing": dict(self.missing),
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Layers:
        """Parse :meth:`as_message` output (unknown or malformed fields count as off)."""
        missing = message.get("missing")
        return cls(
            landlock_abi=int(message.get("landlock_abi") or 0),
            seccomp=message.get("seccomp") is True,
            userns=message.get("userns") is True,
            netns=message.get("netns") is True,
            run_uid=message.get("run_uid") is True,
            missing={str(k): str(v) for k, v in missing.items()}
            if isinstance(missing, dict)
            else {},
        )


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


# -- namespaces and uids ----------------------------------------------------------------------


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_namespaces(layers: Layers) -> None:
    """Move this process into new network, IPC and mount namespaces (and a user one if needed).

    Root has CAP_SYS_ADMIN and needs no user namespace.  Anyone else first enters a user
    namespace that maps only their own uid and gid (so files keep their owners and the process
    gains no access it did not have), which the kernel allows unless unprivileged user
    namespaces are turned off (``kernel.unprivileged_userns_clone=0``,
    ``user.max_user_namespaces=0``, or an AppArmor restriction on Ubuntu >= 23.10).

    Args:
        layers: Updated with what succeeded (``userns``, ``netns``) and why not.
    """
    flags = _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWNS
    if os.geteuid() == 0:
        if _libc.unshare(flags) == 0:
            layers.netns = True
        else:
            layers.missing["namespaces"] = (
                f"unshare(CLONE_NEWNET) failed as root: {os.strerror(ctypes.get_errno())} "
                "(a container without CAP_SYS_ADMIN? run it with --cap-add SYS_ADMIN or as a "
                "normal user with unprivileged user namespaces)"
            )
        return
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(_CLONE_NEWUSER | flags) != 0:
        layers.missing["namespaces"] = (
            f"unprivileged user namespaces are not allowed here "
            f"({os.strerror(ctypes.get_errno())}); an administrator can allow them with "
            "`sysctl kernel.unprivileged_userns_clone=1` and `sysctl "
            "user.max_user_namespaces=15000` (on Ubuntu also "
            "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`)"
        )
        return
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        layers.missing["namespaces"] = f"could not map the uid in the user namespace: {exc}"
        return
    layers.userns = layers.netns = True


def run_uid(pid: int) -> int:
    """The uid (and gid) a root engine's child with this pid runs under."""
    return RUN_UID_BASE + pid % RUN_UID_SPAN


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_capabilities() -> None:
    """Clear every capability of this process.

    A process that entered a user namespace holds all capabilities inside it; nothing it runs
    needs them.  (A root engine's child loses them with its setuid.)

    Raises:
        OSError: capset failed.
    """
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def set_no_new_privs() -> None:
    """Set PR_SET_NO_NEW_PRIVS (needed by Landlock and seccomp without CAP_SYS_ADMIN).

    Raises:
        OSError: prctl failed.
    """
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


# -- Landlock ---------------------------------------------------------------------------------


def landlock_abi() -> int:
    """The Landlock ABI version of the running kernel (0 when Landlock is off or absent)."""
    version = int(
        _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    )
    return max(version, 0)


def _fs_rights(abi: int) -> int:
    return _FS_RIGHTS_BY_ABI[max(k for k in _FS_RIGHTS_BY_ABI if k <= abi)]


def runtime_read_dirs() -> list[str]:
    """The folders a child must be able to read: the interpreter, its libraries, the packages.

    Computed in the process that will fork the children (after the runtime is imported): the
    interpreter's prefixes, every folder on ``sys.path``, the folder of every loaded module
    (and where a symlink in an editable install points), and the folder of every mapped
    shared library.  Nested folders are dropped (a rule covers everything beneath).

    Returns:
        Absolute, existing folders, sorted.
    """
    found: set[str] = set()

    def add(path: str) -> None:
        for p in {path, os.path.realpath(path)}:
            if os.path.isdir(p):
                found.add(os.path.abspath(p))

    for prefix in {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}:
        add(prefix)
    for entry in sys.path:
        if entry:
            add(entry)
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            add(os.path.dirname(file))
            add(os.path.dirname(os.path.realpath(file)))
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/"):
                add(os.path.dirname(parts[5].strip()))
    # A home folder or "/" must never be granted whole: drop too-broad entries.
    home = os.path.expanduser("~")
    broad = {"/", "/home", "/root", "/tmp", "/var", "/var/tmp", "/dev", "/proc", "/run", home}
    dirs = sorted(d for d in found if d not in broad)
    return [d for d in dirs if not any(d.startswith(p.rstrip("/") + "/") for p in dirs if p != d)]


def make_landlock_ruleset(abi: int, read_dirs: Iterable[str]) -> int:
    """Create a Landlock ruleset: read beneath ``read_dirs``, nothing else, for this ABI.

    The ruleset's descriptor can be applied by every forked child (one system call each).

    Args:
        abi: The kernel's Landlock ABI (:func:`landlock_abi`), at least 1.
        read_dirs: Folders whose files and subfolders may be read.

    Returns:
        The ruleset descriptor (close-on-exec).

    Raises:
        OSError: A system call failed.
    """
    attr = _RulesetAttr(handled_access_fs=_fs_rights(abi))
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP  # and no rule allows any
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
    ruleset = _check(
        int(
            _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
        ),
        "landlock_create_ruleset",
    )
    try:
        for path in read_dirs:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
            except OSError:
                continue  # vanished since it was listed
            try:
                rule = _PathBeneathAttr(_FS_READ_FILE | _FS_READ_DIR, fd)
                _check(
                    int(
                        _libc.syscall(
                            _SYS_LANDLOCK_ADD_RULE,
                            ruleset,
                            _LANDLOCK_RULE_PATH_BENEATH,
                            ctypes.byref(rule),
                            0,
                        )
                    ),
                    f"landlock_add_rule({path})",
                )
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def landlock_restrict(ruleset: int) -> None:
    """Restrict this process (and all it may start) to the ruleset; needs no_new_privs.

    Raises:
        OSError: landlock_restrict_self failed.
    """
    _check(int(_libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)), "landlock_restrict_self")


# -- seccomp ----------------------------------------------------------------------------------

#: What a child does after its filter is loaded: talk on its channel socket, compute, allocate,
#: read the clock, lower its limits, exit.  Each name is resolved for the running architecture
#: (a name this architecture lacks is skipped).  Reads of files stay allowed here because
#: Landlock decides which files; new descriptors are capped by RLIMIT_NOFILE.
_ALLOWED_SYSCALLS: Final = """
    read readv pread64 write writev pwrite64 close lseek fstat newfstatat stat lstat statx
    openat open getdents64 readlink readlinkat getcwd fcntl
    recvfrom recvmsg sendto sendmsg poll ppoll select pselect6
    mmap munmap mremap mprotect madvise brk
    futex rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack
    exit exit_group restart_syscall
    getpid gettid getppid getuid geteuid getgid getegid getresuid getresgid getgroups getpgid
    getpgrp getsid
    clock_gettime clock_getres clock_nanosleep nanosleep gettimeofday time getrandom
    getrlimit setrlimit prlimit64 getrusage times sched_yield sched_getaffinity uname
    """


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2
_SECCOMP_RET_ALLOW: Final = 0x7FFF0000
_SECCOMP_RET_ERRNO: Final = 0x00050000
# Classic BPF opcodes.
_BPF_LD_W_ABS: Final = 0x20
_BPF_JEQ_K: Final = 0x15
_BPF_RET_K: Final = 0x06


@dataclass(frozen=True)
class SeccompPolicy:
    """The compiled allow-list and what each child needs to add its own rule.

    Attributes:
        program: The allow-list as classic BPF (``sock_filter`` records), compiled once by
            libseccomp; loading it in a child is one system call.
        kill_nrs: The numbers of ``kill`` and ``tgkill`` on this architecture.
    """

    program: bytes
    kill_nrs: tuple[int, ...]


def build_seccomp() -> SeccompPolicy:
    """Compile the seccomp allow-list (in the zygote, once).

    libseccomp (through ``pyseccomp``) resolves the names for this architecture, adds the
    architecture check (a foreign-ABI system call kills the process) and exports BPF.  Compiling
    in every child instead costs about 3 ms a run.

    Returns:
        The policy; children load it with :func:`apply_seccomp`.

    Raises:
        ImportError: pyseccomp or libseccomp is not installed.
        OSError: libseccomp refused a rule or the export.
    """
    import pyseccomp

    filt = pyseccomp.SyscallFilter(pyseccomp.ERRNO(errno.EPERM))
    for name in (*_ALLOWED_SYSCALLS.split(), "kill", "tgkill"):  # kill: see apply_seccomp
        try:
            filt.add_rule(pyseccomp.ALLOW, name)
        except (OSError, ValueError):  # not a system call of this architecture
            continue
    read_fd, write_fd = os.pipe()
    try:

        class _Fd:
            def fileno(self) -> int:
                return write_fd

        filt.export_bpf(_Fd())
        os.close(write_fd)
        write_fd = -1
        chunks = []
        while chunk := os.read(read_fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    arch = pyseccomp.system_arch()
    nrs = tuple(int(pyseccomp.resolve_syscall(arch, n)) for n in ("kill", "tgkill"))
    return SeccompPolicy(b"".join(chunks), nrs)


def _load_bpf(program: bytes) -> None:
    count = len(program) // ctypes.sizeof(_SockFilter)
    records = (_SockFilter * count).from_buffer_copy(program)
    prog = _SockFprog(count, ctypes.cast(records, ctypes.POINTER(_SockFilter)))
    _check(
        _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


def _only_self_signals(kill_nrs: tuple[int, ...], pid: int) -> bytes:
    """A small second filter: ``kill``/``tgkill`` whose first argument is not ``pid`` fail.

    Hand-written because it holds the child's own pid, known only after the fork; the kernel
    runs every filter and the strictest answer wins, so the allow-list keeps the architecture
    check.  ``seccomp_data``: nr at offset 0, args[0] at 16 (low and high words by byte order).
    """
    low, high = (16, 20) if sys.byteorder == "little" else (20, 16)
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    insns: list[tuple[int, int, int, int]] = [(_BPF_LD_W_ABS, 0, 0, 0)]
    n = len(kill_nrs)
    for i, nr in enumerate(kill_nrs):
        # Jump to the argument check (just after the last comparison), else fall through.
        insns.append((_BPF_JEQ_K, n - i - 1 + 1, 0, nr))
    insns += [
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),  # another system call
        (_BPF_LD_W_ABS, 0, 0, low),
        (_BPF_JEQ_K, 0, 3, pid & 0xFFFFFFFF),
        (_BPF_LD_W_ABS, 0, 0, high),
        (_BPF_JEQ_K, 0, 1, 0),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        (_BPF_RET_K, 0, 0, deny),
    ]
    return b"".join(bytes(_SockFilter(c, jt, jf, k)) for c, jt, jf, k in insns)


def apply_seccomp(policy: SeccompPolicy, pid: int) -> None:
    """Load the allow-list in this process, and a filter that lets it signal only itself.

    Args:
        policy: From :func:`build_seccomp` (inherited through fork).
        pid: This process's pid: ``kill(pid, ...)`` and ``tgkill(pid, ...)`` stay allowed,
            so a program can still end itself (``os.kill(os.getpid(), 9)``).

    Raises:
        OSError: The kernel refused a filter (no_new_privs must be set first).
    """
    _load_bpf(_only_self_signals(policy.kill_nrs, pid))
    _load_bpf(policy.program)


#: The layers ``isolation = "strict"`` requires (a per-run uid needs root, so it is required
#: of no one: an unprivileged engine's children are isolated by the other three).
STRICT_LAYERS: Final = ("namespaces", "landlock", "seccomp")


def strict_gaps(layers: Layers) -> dict[str, str]:
    """The layers strict isolation requires that are off, with why and how to get them."""
    return {name: layers.missing[name] for name in STRICT_LAYERS if name in layers.missing}


# -- the plan a zygote prepares once and every child applies ----------------------------------


@dataclass
class KernelPlan:
    """What a zygote (or a cold child) set up for its children.

    Attributes:
        layers: The layers that work here, verified by a probe child.
        ruleset: The Landlock ruleset descriptor, or None.
        seccomp: The compiled seccomp policy, or None.
    """

    layers: Layers
    ruleset: int | None = None
    seccomp: SeccompPolicy | None = None


def _probe(plan: KernelPlan) -> dict[str, str]:
    """Apply Landlock and seccomp in a throwaway child; the layers that failed, and why."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked probe
        failed: list[str] = []
        try:
            set_no_new_privs()
            if plan.ruleset is not None:
                try:
                    landlock_restrict(plan.ruleset)
                except OSError as exc:
                    failed.append(f"landlock={exc}")
            if plan.seccomp is not None:
                try:
                    apply_seccomp(plan.seccomp, os.getpid())
                except OSError as exc:
                    failed.append(f"seccomp={exc}")
        except BaseException as exc:
            failed.append(f"landlock=no_new_privs: {exc}")
            failed.append(f"seccomp=no_new_privs: {exc}")
        os.write(write_fd, "\n".join(failed).encode()[:4000])
        os._exit(0)
    os.close(write_fd)
    try:
        text = os.read(read_fd, 8192).decode(errors="replace")
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    out: dict[str, str] = {}
    for line in filter(None, text.split("\n")):
        name, _, why = line.partition("=")
        out[name] = why
    return out


#: Every layer name, as :attr:`Layers.missing` and ``skip`` spell them.
LAYER_NAMES: Final = ("namespaces", "run-uid", "landlock", "seccomp")


def prepare(*, skip: Iterable[str] = ()) -> KernelPlan:
    """Set up every layer that this kernel offers, for the children this process will fork.

    Call it once the runtime is imported (the Landlock rules list the loaded modules' folders).

    Args:
        skip: Layers to leave off (benchmarks and tests of best-effort mode only).

    Returns:
        The plan; ``plan.layers.missing`` says which layers are off and how to get them.
    """
    skipped = frozenset(skip)
    layers = Layers(run_uid=os.geteuid() == 0 and "run-uid" not in skipped)
    for name in sorted(skipped):
        layers.missing[name] = "turned off for this sandbox (a benchmark or a test)"
    if os.geteuid() != 0:
        layers.missing["run-uid"] = (
            "children run under the engine's own uid (per-run uids need root); the user "
            "namespace, Landlock and seccomp isolate them instead"
        )
    if "namespaces" not in skipped:
        enter_namespaces(layers)
    plan = KernelPlan(layers)
    abi = landlock_abi()
    if "landlock" in skipped:
        pass  # noted above
    elif abi <= 0:
        layers.missing["landlock"] = (
            "the kernel has no Landlock (needs Linux >= 5.13 with CONFIG_SECURITY_LANDLOCK=y "
            "and 'landlock' in the lsm= boot parameter; >= 6.7 for the TCP rules, >= 6.12 "
            "for the signal and abstract-socket scopes)"
        )
    else:
        try:
            plan.ruleset = make_landlock_ruleset(abi, runtime_read_dirs())
            layers.landlock_abi = abi
        except OSError as exc:
            layers.missing["landlock"] = f"could not build the Landlock ruleset: {exc}"
    try:
        if "seccomp" not in skipped:
            plan.seccomp = build_seccomp()
            layers.seccomp = True
    except (ImportError, OSError) as exc:
        layers.missing["seccomp"] = (
            f"no seccomp filter ({type(exc).__name__}: {exc}); install libseccomp "
            "(`apt-get install libseccomp2`) and the binding (`pip install pyseccomp`, a "
            "dependency of policywright)"
        )
    for name, why in _probe(plan).items():
        layers.missing[name] = f"the kernel refused it: {why}"
        if name == "landlock":
            layers.landlock_abi = 0
            if plan.ruleset is not None:
                os.close(plan.ruleset)
            plan.ruleset = None
        elif name == "seccomp":
            layers.seccomp = False
            plan.seccomp = None
    return plan


def apply_in_child(plan: KernelPlan) -> None:
    """Apply the plan in a freshly forked child: uid, capabilities, Landlock.

    Seccomp comes last, from :func:`apply_seccomp`, after the child closed what it inherited.
    Every layer that ``plan.layers`` says is on must apply, or this raises (the child exits).

    Raises:
        OSError: A layer the probe verified failed now.
    """
    if plan.layers.run_uid:
        uid = run_uid(os.getpid())
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # irreversible; clears every capability
    elif plan.layers.userns:
        drop_capabilities()
    set_no_new_privs()
    if plan.ruleset is not None:
        landlock_restrict(plan.ruleset)
