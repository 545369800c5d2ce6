"""policywright.agent.sandbox: run planner-written programs isolated from the engine.

Layers, outermost first: source checks and an AST allow-list (:func:`check_program`), a
curated namespace (facades over numpy, math and shapely, and call stubs for the primitives),
and the boundary that matters -- a separate, unprivileged, resource-limited process per run
(:class:`Sandbox`), which talks to the engine only in JSON lines, and whose kernel layers
(namespaces, a uid per run, Landlock, seccomp) hold when the Python layers break.
"""

from policywright.agent.sandbox._channel import to_jsonable
from policywright.agent.sandbox._facades import BUILTIN_NAMES, FACADE_MEMBERS, FACADE_NAMES
from policywright.agent.sandbox._kernel import STRICT_LAYERS, Layers, strict_gaps
from policywright.agent.sandbox._models import (
    CallRecord,
    ExecReport,
    SandboxLimits,
    StaticReport,
    Violation,
)
from policywright.agent.sandbox._sandbox import (
    IsolationUnavailable,
    PrimitiveCallError,
    PrimitiveHost,
    Sandbox,
)
from policywright.agent.sandbox._static import check_program

__all__ = [
    "BUILTIN_NAMES",
    "FACADE_MEMBERS",
    "FACADE_NAMES",
    "STRICT_LAYERS",
    "CallRecord",
    "ExecReport",
    "IsolationUnavailable",
    "Layers",
    "PrimitiveCallError",
    "PrimitiveHost",
    "Sandbox",
    "SandboxLimits",
    "StaticReport",
    "Violation",
    "check_program",
    "strict_gaps",
    "to_jsonable",
]
