"""Taking the policy and check programs out of a model's reply.

Design decisions (the contract the prompts ask for and what happens when a reply breaks it):

* The reply holds fenced blocks: the policy in ```python and the check in ```python check. A block
  whose info string contains the word "check" is the check; one containing "policy" is the policy.
  Untagged replies are read in order: the first Python block is the policy and the first later
  one that calls ``verdict(`` is the check. Blocks in other languages (```json, ```text) are
  ignored, and so is all prose: prose is never executed, whatever it says.
* A missing check block is an error (:class:`ModelReplyError`), not a generic default: a default
  that always passes would report success with no evidence, and one that always fails would waste
  a run of the policy on the robot. Asking again costs one model call and no motion.
* A truncated reply (``finish_reason`` "length" or an unterminated fence) and a block that does
  not parse are errors too; their messages are the feedback the model gets on its next attempt.
* Code is never judged here beyond parsing: a program that imports ``os`` leaves this module
  unchanged and is refused by the sandbox's static checks, with their feedback.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace

from policywright.agent.llm._constrain import program_text
from policywright.errors import ModelReplyError

__all__ = [
    "CodeBlock",
    "ExtractedProgram",
    "block_text",
    "code_blocks",
    "drop_redefinitions",
    "drop_verdicts",
    "extract_function",
    "extract_program",
    "syntax_error",
]

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_PYTHON_WORDS = frozenset({"python", "py", "python3", "py3"})
_CHECK_WORDS = frozenset({"check", "verify", "verification"})
_POLICY_WORDS = frozenset({"policy", "program", "plan"})


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of a reply.

    Attributes:
        info: The info string, lower-cased ("python check").
        code: The block's text.
        line: The reply line of the opening fence (1-based).
    """

    info: str
    code: str
    line: int

    @property
    def words(self) -> frozenset[str]:
        """The info string's words ("python-check" -> {"python", "check"})."""
        return frozenset(w for w in re.split(r"[^a-z0-9]+", self.info) if w)

    @property
    def is_python(self) -> bool:
        """Python, or untagged (models often omit the language), or tagged check/policy only."""
        words = self.words
        return not words or bool(words & _PYTHON_WORDS) or words <= (_CHECK_WORDS | _POLICY_WORDS)


@dataclass(frozen=True)
class ExtractedProgram:
    """The two programs of a planner reply.

    Attributes:
        code: The policy program.
        check_code: The check program.
    """

    code: str
    check_code: str


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced blocks of ``text``, in order.

    Args:
        text: A model reply.

    Returns:
        The blocks (empty when there is none).

    Raises:
        ModelReplyError: A fence is opened and never closed ("truncated").
    """
    lines = text.split("\n")
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if m is None:
            i += 1
            continue
        fence = m.group("fence")
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ModelReplyError(
                f"truncated reply: the code block opened at reply line {i + 1} is never closed; "
                "reply again with complete, closed ``` blocks (keep the program shorter)"
            )
        blocks.append(
            CodeBlock(info=m.group("info").strip().lower(), code="\n".join(body), line=i + 1)
        )
        i = j + 1
    return blocks


def syntax_error(code: str, what: str) -> str | None:
    """A feedback line for a syntax error in ``code``, or None when it parses.

    Args:
        code: The program text.
        what: What it is ("policy program", "check program", "function 'f'").

    Returns:
        e.g. "the policy program has a syntax error at line 3 ('for x in'): invalid syntax".
    """
    try:
        ast.parse(code, mode="exec")
    except SyntaxError as exc:
        lineno = exc.lineno or 0
        lines = code.split("\n")
        text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
        where = f" at line {lineno}" + (f" ({text!r})" if text else "")
        return f"the {what} has a syntax error{where}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"the {what} cannot be parsed ({type(exc).__name__}); simplify it"
    return None


def _calls_verdict(code: str) -> bool:
    return re.search(r"\bverdict\s*\(", code) is not None


def _only_definitions(tree: ast.Module) -> list[ast.FunctionDef] | None:
    """The top-level functions, if the module is nothing but definitions (and docstrings)."""
    defs: list[ast.FunctionDef] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            defs.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a stray string
        elif isinstance(node, ast.Pass):
            continue
        else:
            return None
    return defs


def _zero_arg(fn: ast.FunctionDef) -> bool:
    a = fn.args
    return not (a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg) and len(a.defaults) >= len(
        a.args
    )


def _called_names(tree: ast.Module) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def _entry_point(
    code: str, prefer: frozenset[str], exclude: frozenset[str] = frozenset()
) -> str | None:
    """The one zero-argument function a definitions-only program never calls, if any.

    Small models often wrap the program in ``def main(): ...`` and stop there; calling that
    function is the evident intent. With several candidates, one whose name holds a word of
    ``prefer`` wins; otherwise there is no single entry point.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    defs = _only_definitions(tree)
    if not defs:
        return None
    called = _called_names(tree)
    candidates = [f.name for f in defs if _zero_arg(f) and f.name not in called]
    if exclude:
        candidates = [c for c in candidates if not set(c.lower().split("_")) & exclude]
    if len(candidates) > 1:
        candidates = [c for c in candidates if set(c.lower().split("_")) & prefer]
    return candidates[0] if len(candidates) == 1 else None


def _with_call(code: str, name: str) -> str:
    return code.rstrip() + f"\n\n{name}()\n"


def _split_policy_and_check(code: str) -> tuple[str, str] | None:
    """One block defining a policy function and a check function -> two programs.

    Each program keeps every other definition (helpers) and ends by calling its function.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    defs = _only_definitions(tree)
    if not defs:
        return None
    called = _called_names(tree)
    entries = [f for f in defs if _zero_arg(f) and f.name not in called]
    checks = [f for f in entries if set(f.name.lower().split("_")) & _CHECK_WORDS]
    policies = [f for f in entries if f not in checks]
    if len(checks) != 1 or len(policies) != 1:
        return None
    lines = code.split("\n")

    def without(fn: ast.FunctionDef) -> str:
        start = (fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno) - 1
        end = fn.end_lineno or fn.lineno
        return "\n".join(lines[:start] + lines[end:]).strip("\n")

    policy, check = policies[0], checks[0]
    return _with_call(without(check), policy.name), _with_call(without(policy), check.name)


def extract_program(
    text: str, *, finish_reason: str = "stop", fallback_check: str | None = None
) -> ExtractedProgram:
    """Take the policy and check programs out of a planner reply.

    Args:
        text: The reply text.
        finish_reason: The reply's finish reason ("length"/"max_tokens" = truncated).
        fallback_check: A verified check for this very command (from a program-memory
            template), used when the reply has a policy but no check block.

    Returns:
        The two programs (both parse as Python).

    Raises:
        ModelReplyError: Truncated reply, no code block, no check block, a check that never
            calls verdict, or a syntax error (the message names the line).
    """
    if finish_reason in ("length", "max_tokens"):
        raise ModelReplyError(
            "truncated reply: it hit the token limit before it ended; reply again with a "
            "shorter program (helper functions you call but do not define are written for you)"
        )
    # A constrained JSON reply ({"policy": ..., "check": ...}) reads as the two blocks.
    text = program_text(text)
    blocks = [
        replace(b, code=_unnumbered(b.code))
        for b in code_blocks(text)
        if b.is_python and b.code.strip()
    ]
    if not blocks:
        raise ModelReplyError(
            "no code block in the reply: answer with a ```python block (the policy) and a "
            "```python check block (the check ending in verdict(success, reason))"
        )
    check = next((b for b in blocks if b.words & _CHECK_WORDS), None)
    policy = next((b for b in blocks if b.words & _POLICY_WORDS and b is not check), None)
    if policy is None:
        policy = next((b for b in blocks if b is not check), None)
    if policy is None:
        raise ModelReplyError(
            "the reply has a check block but no policy block: put the policy program in a "
            "```python block before the ```python check block"
        )
    if check is None:
        later = [b for b in blocks if b.line > policy.line]
        check = next((b for b in later if _calls_verdict(b.code)), None)
    if check is None:
        split = _split_policy_and_check(policy.code)
        if split is not None:
            return ExtractedProgram(code=split[0], check_code=split[1])
    if check is None and fallback_check is not None:
        problem = syntax_error(policy.code, "policy program")
        if problem is not None:
            raise ModelReplyError(problem)
        return ExtractedProgram(code=_called(block_text(policy)), check_code=fallback_check)
    if check is None:
        raise ModelReplyError(
            "no check block in the reply: after the policy, add a ```python check block that "
            "measures the result with read-only functions and ends with verdict(success, reason)"
        )
    for block, what in ((policy, "policy program"), (check, "check program")):
        problem = syntax_error(block.code, what)
        if problem is not None:
            raise ModelReplyError(problem)
    if not _calls_verdict(check.code):
        raise ModelReplyError(
            "the check program never calls verdict(success, reason); end it with exactly one call"
        )
    return ExtractedProgram(
        code=_called(block_text(policy)), check_code=_called(block_text(check), check=True)
    )


_NUMBER_PREFIX = re.compile(r"^[ \t]*\d+ \|(?: |$)")


def _unnumbered(code: str) -> str:
    """``code`` without the repair prompt's line numbers ("  3 | x = 1"), when every line has one.

    A small model often copies the numbered listing of its previous attempt verbatim.
    """
    lines = code.split("\n")
    # Headers the model copies with the listing ("# Policy program, with line numbers:").
    filled = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not filled or not all(_NUMBER_PREFIX.match(line) for line in filled):
        return code
    return "\n".join(
        _NUMBER_PREFIX.sub("", line)
        for line in lines
        if _NUMBER_PREFIX.match(line) or not line.strip()
    )


def _called(code: str, *, check: bool = False) -> str:
    """``code``, plus a call to its entry point when it only defines functions.

    A policy block that defines a task function and its check function ("def put_it():",
    "def check_put_it():") runs the task function; a check block prefers the check function.
    """
    entry = _entry_point(code, _POLICY_WORDS | _CHECK_WORDS | frozenset({"main", "run"}))
    if entry is None:
        entry = _entry_point(code, _CHECK_WORDS, exclude=frozenset() if check else _CHECK_WORDS)
    return _with_call(code, entry) if entry is not None else code


def drop_redefinitions(code: str, names: frozenset[str] | set[str]) -> tuple[str, list[str]]:
    """Remove top-level ``def``s of listed API names (a model echoing the listing).

    A small model often copies a primitive's signature from the listing into a ``def`` of its
    own before calling it; the sandbox refuses that rebinding. Calling the real, validated
    primitive is what such a program means.

    Returns:
        The code without those definitions, and the names dropped (in order).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    lines = code.split("\n")
    cut: list[tuple[int, int]] = []
    dropped: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            cut.append((start, node.end_lineno or node.lineno))
            dropped.append(node.name)
    for start, end in reversed(cut):
        del lines[start:end]
    return ("\n".join(lines).strip("\n") + "\n" if dropped else code), dropped


def drop_verdicts(code: str) -> str:
    """Remove top-level ``verdict(...)`` statements (and check functions) from a policy.

    Only check programs may report a verdict; a small model sometimes ends its policy with one
    as well, which the sandbox would refuse for the whole program.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.split("\n")
    # A check function written into the policy block ("def check(): ... verdict(...)") goes
    # too, with the top-level calls of it: the check block is the check.
    judges = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "verdict"
            for n in ast.walk(node)
        )
    }
    cut = [
        (
            (
                node.decorator_list[0].lineno
                if isinstance(node, ast.FunctionDef) and node.decorator_list
                else node.lineno
            )
            - 1,
            node.end_lineno or node.lineno,
        )
        for node in tree.body
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in {"verdict", *judges}
        )
        or (isinstance(node, ast.FunctionDef) and node.name in judges)
    ]
    if not cut:
        return code
    for start, end in reversed(cut):
        del lines[start:end]
    return "\n".join(lines).strip("\n") + "\n"


def block_text(block: CodeBlock) -> str:
    """The block's code with trailing whitespace trimmed and one final newline."""
    return block.code.strip("\n").rstrip() + "\n"


def extract_function(text: str, name: str, *, finish_reason: str = "stop") -> str:
    """Take the definition of ``name`` out of a function-writer reply.

    Args:
        text: The reply text.
        name: The function that was asked for.
        finish_reason: The reply's finish reason.

    Returns:
        The code: only ``def`` statements, one of them defining ``name``.

    Raises:
        ModelReplyError: Truncated, no code, a syntax error, statements other than ``def`` at
            the top level, or no ``def name``.
    """
    what = f"function {name!r}"
    if finish_reason in ("length", "max_tokens"):
        raise ModelReplyError(f"truncated reply while writing the {what}; write it shorter")
    blocks = [b for b in code_blocks(text) if b.is_python and b.code.strip()]
    if not blocks:
        raise ModelReplyError(f"no code block in the reply that should define the {what}")
    code = block_text(blocks[0])
    problem = syntax_error(code, what)
    if problem is not None:
        raise ModelReplyError(problem)
    tree = ast.parse(code)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a stray docstring is harmless
        if not isinstance(node, ast.FunctionDef):
            raise ModelReplyError(
                f"the reply for the {what} has a top-level statement at line {node.lineno} "
                "that is not a def; it must hold only function definitions"
            )
    if not any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body):
        raise ModelReplyError(f"the reply for the {what} does not define def {name}(...)")
    return code
