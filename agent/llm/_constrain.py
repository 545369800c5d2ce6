"""Replies that always parse: the grammar and schema a planner reply is constrained to.

A planner reply must hold a policy program and a check program. Servers that decode under a
constraint guarantee that shape instead of asking for it in the prompt:

* ``grammar``: a GBNF grammar over the two fenced blocks the prompt already asks for
  (llama.cpp's per-request ``grammar``; vLLM's ``structured_outputs.grammar``).
* ``json``: a JSON object ``{"policy": str, "check": str}`` (llama.cpp's
  ``response_format={"type": "json_object", "schema": ...}``, OpenAI's and vLLM's
  ``json_schema``, Ollama's ``format``, Anthropic's ``output_config.format``).

``program_text`` turns a JSON reply back into the fenced form, so the one parser in
``agent/planner/_extract.py`` reads both. BENCHMARKS.md measures which form a small model
succeeds with more often (the default for OpenAI-compatible servers is that one).
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

__all__ = [
    "AUTO_FORM",
    "PROGRAM_GRAMMAR",
    "PROGRAM_SCHEMA",
    "ConstrainMode",
    "program_text",
    "resolved_form",
]

#: How an OpenAI-compatible server constrains a planner reply ("auto": the measured best
#: form for llama.cpp's server; "off": not at all, the prompt alone asks for the shape).
ConstrainMode = Literal["auto", "grammar", "json", "vllm", "ollama", "off"]

#: What "auto" means for an OpenAI-compatible server. Measured with the local 1.5B model
#: (BENCHMARKS.md, "Replies that always parse"): both forms always parse, but under the JSON
#: form the model's repair replies degenerated (the command as the program, JavaScript in the
#: check), while under the grammar it writes Python the way the prompt shows it.
AUTO_FORM: Final = "grammar"


def resolved_form(mode: str) -> str:
    """The constraint form a mode stands for ("auto" -> :data:`AUTO_FORM`)."""
    return AUTO_FORM if mode == "auto" else mode


# Code lines may hold anything but a backtick (so a fence can only close the block) and must
# end with a newline; at least one line per block. The info strings are the ones the prompt
# asks for, so the parser's tagging rules apply unchanged.
PROGRAM_GRAMMAR: Final = r"""root ::= "```python\n" code "```\n\n```python check\n" code "```"
code ::= line line*
line ::= [^`\n]* "\n"
"""

PROGRAM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "policy": {"type": "string", "description": "the policy program (Python)"},
        "check": {
            "type": "string",
            "description": "the check program (Python), ending in verdict(success, reason)",
        },
    },
    "required": ["policy", "check"],
    "additionalProperties": False,
}


def program_text(text: str) -> str:
    """A JSON program reply as the two fenced blocks; any other text unchanged."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return text
    try:
        data = json.loads(stripped)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    policy, check = data.get("policy"), data.get("check")
    if not isinstance(policy, str) or not isinstance(check, str):
        return text
    return f"```python\n{policy.rstrip()}\n```\n\n```python check\n{check.rstrip()}\n```\n"
