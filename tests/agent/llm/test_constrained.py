"""Constrained planner replies through the real SDKs' HTTP layer (httpx2.MockTransport)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from policywright.agent.llm import ChatMessage, ChatRequest, LLMSettings, OpenAIChatModel
from policywright.agent.llm._constrain import PROGRAM_GRAMMAR, PROGRAM_SCHEMA, program_text
from policywright.agent.planner._extract import extract_program

from .test_openai_backend import completion, error

pytest.importorskip("openai")

URL = "http://fake/v1"
JSON_REPLY = json.dumps(
    {"policy": "put_first_on_second('red block', 'blue bowl')", "check": "verdict(True, 'ok')"}
)


def _request(reply_format: str = "program") -> ChatRequest:
    return ChatRequest(
        messages=(ChatMessage.text("system", "rules"), ChatMessage.text("user", "do it")),
        reply_format=reply_format,  # type: ignore[arg-type]
    )


def _local(srv: Any, sleeps: Any, **settings: Any) -> OpenAIChatModel:
    return OpenAIChatModel(
        "qwen",
        base_url=URL,
        settings=LLMSettings(max_retries=0, **settings),
        http_client=srv.client(),
        sleep=sleeps,
    )


def test_auto_sends_the_grammar_to_an_openai_compatible_server(server, sleeps) -> None:
    srv = server(
        (200, completion("```python\nsay('x')\n```\n```python check\nverdict(True, 'ok')\n```"))
    )
    _local(srv, sleeps).chat(_request())
    assert srv.bodies[0]["grammar"] == PROGRAM_GRAMMAR


def test_json_sends_the_schema_and_the_reply_reads_as_two_programs(server, sleeps) -> None:
    srv = server((200, completion(JSON_REPLY)))
    reply = _local(srv, sleeps, constrained="json").chat(_request())
    body = srv.bodies[0]
    assert body["response_format"] == {"type": "json_object", "schema": PROGRAM_SCHEMA}
    extracted = extract_program(reply.text)
    assert extracted.code.strip() == "put_first_on_second('red block', 'blue bowl')"
    assert "verdict(True" in extracted.check_code


@pytest.mark.parametrize(
    ("mode", "key"),
    [
        ("grammar", "grammar"),
        ("vllm", "structured_outputs"),
        ("ollama", "format"),
        ("auto", "grammar"),
    ],
)
def test_each_mode_sends_its_field(server, sleeps, mode: str, key: str) -> None:
    srv = server(
        (200, completion("```python\nsay('x')\n```\n```python check\nverdict(True, 'ok')\n```"))
    )
    _local(srv, sleeps, constrained=mode).chat(_request())
    assert key in srv.bodies[0]
    if mode == "grammar":
        assert srv.bodies[0]["grammar"] == PROGRAM_GRAMMAR


def test_plain_requests_and_off_are_not_constrained(server, sleeps) -> None:
    srv = server((200, completion("hi")))
    _local(srv, sleeps).chat(_request("text"))
    _local(srv, sleeps, constrained="off").chat(_request())
    for body in srv.bodies:
        assert not {"grammar", "response_format", "structured_outputs", "format"} & set(body)


def test_a_server_that_refuses_the_constraint_is_asked_again_without(
    server, sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    fenced = "```python\nsay('x')\n```\n```python check\nverdict(True, 'ok')\n```"
    srv = server(error(400, "unknown field: grammar"), (200, completion(fenced)))
    model = _local(srv, sleeps)
    with caplog.at_level(logging.WARNING):
        reply = model.chat(_request())
        model.chat(_request())
    assert reply.text == fenced
    assert "grammar" in srv.bodies[0]
    # Asked again without, and never constrained again on this server; said once.
    assert all("grammar" not in b for b in srv.bodies[1:])
    assert len(srv.bodies) == 3
    assert sum("refused constrained decoding" in r.message for r in caplog.records) == 1


def test_official_openai_uses_structured_output(server, sleeps) -> None:
    srv = server((200, completion(JSON_REPLY)))
    model = OpenAIChatModel(
        "gpt-4o", api_key="sk-test", settings=LLMSettings(), http_client=srv.client(), sleep=sleeps
    )
    model.chat(_request())
    fmt = srv.bodies[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == PROGRAM_SCHEMA


def test_program_text_leaves_other_text_alone() -> None:
    assert program_text("no json here") == "no json here"
    assert program_text('{"policy": 1}') == '{"policy": 1}'
    assert program_text("[1, 2]") == "[1, 2]"
    assert program_text(JSON_REPLY).startswith("```python\n")
