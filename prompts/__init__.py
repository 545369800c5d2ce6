"""Jinja2 prompt templates, shipped as package data, and the one function that renders them.

Templates live next to this module (``planner.j2``, ``function_writer.j2``, ``repair.j2``,
``vlm_verify.j2``). The environment uses ``StrictUndefined`` (a missing variable is an error, not
an empty string) and no autoescaping (the output is plain text for a model, not HTML). Hostile
strings (object names, commands) are rendered with the ``json`` filter, which quotes them and
escapes every non-ASCII character, so they stay data in the prompt.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jinja2

__all__ = ["fence", "render", "template_names"]

_PACKAGE = "policywright.prompts"


def _load(name: str) -> tuple[str, str, Any] | None:
    # importlib.resources works from wheels and zips alike; None tells jinja2 "not found".
    if "/" in name or "\\" in name or not name.endswith(".j2"):
        return None
    ref = resources.files(_PACKAGE).joinpath(name)
    if not ref.is_file():
        return None
    source = ref.read_text("utf-8")
    return source, f"{_PACKAGE}/{name}", lambda: True


def _json(value: Any) -> str:
    """JSON text with every non-ASCII character escaped (bidi and zero-width characters too)."""
    return json.dumps(value, ensure_ascii=True)


def fence(code: str, info: str = "python") -> str:
    """Wrap ``code`` in a Markdown fence longer than any backtick run inside it.

    A stored program (or a hostile string inside one) cannot close the fence early.

    Args:
        code: The text to fence.
        info: The fence's info string.

    Returns:
        The fenced block (no trailing newline).
    """
    longest = 0
    run = 0
    for ch in code:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{code.rstrip()}\n{ticks}"


def _numbered(code: str) -> str:
    """The code with right-aligned line numbers (so feedback's "line N" can be found)."""
    lines = code.rstrip().split("\n")
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, start=1))


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json"] = _json
    env.filters["fence"] = fence
    env.filters["numbered"] = _numbered
    return env


def render(template: str, /, **variables: Any) -> str:
    """Render the template file ``template`` (e.g. ``"planner.j2"``) with ``variables``.

    Args:
        template: The template file name (positional, so ``name`` can be a variable).
        **variables: The template's variables; each one it uses must be given.

    Returns:
        The rendered text, stripped of leading and trailing blank lines.

    Raises:
        jinja2.TemplateNotFound: No such template.
        jinja2.UndefinedError: The template uses a variable that was not given.
    """
    text = _environment().get_template(template).render(**variables)
    return text.strip("\n") + "\n"


def template_names() -> list[str]:
    """The names of the shipped templates, sorted."""
    root = resources.files(_PACKAGE)
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".j2"))
