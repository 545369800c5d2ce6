"""AnthropicChatModel through the real anthropic SDK HTTP layer (httpx2.MockTransport)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from policywright.agent.llm import (
    AnthropicChatModel,
    ChatMessage,
    ChatRequest,
    ImagePart,
    LLMSettings,
    TextPart,
)
from policywright.errors import (
    ModelAuthError,
    ModelReplyError,
    ModelRequestError,
    ModelUnavailableError,
)

pytest.importorskip("anthropic")

URL = "http://fake"
API_DOCS = "You are a robot planner. " + "def pick(obj: str) -> None: ...\n" * 50


def message(
    text: str | None = "pick(red_block)",
    *,
    stop: str = "end_turn",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content = [] if text is None else [{"type": "text", "text": text}]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 12, "output_tokens": 6},
    }


def error(status: int, message: str, type_: str = "api_error") -> tuple[int, Any]:
    return status, {"type": "error", "error": {"type": type_, "message": message}}


def request(**kw: Any) -> ChatRequest:
    return ChatRequest(
        messages=(
            ChatMessage(
                role="system",
                content=(TextPart(text=API_DOCS, cache=True), TextPart(text="Task: stack.")),
            ),
            ChatMessage.text("user", "Write the program."),
        ),
        **kw,
    )


def claude(srv, sleeps, **settings: Any) -> AnthropicChatModel:
    return AnthropicChatModel(
        "claude-haiku-4-5",
        api_key="sk-ant-test",
        base_url=URL,
        settings=LLMSettings(**settings),
        http_client=srv.client(),
        sleep=sleeps,
    )


def test_success_with_prompt_caching_on_the_system_block(server, sleeps):
    srv = server(
        (
            200,
            message(
                usage={
                    "input_tokens": 12,
                    "output_tokens": 6,
                    "cache_creation_input_tokens": 2048,
                    "cache_read_input_tokens": 0,
                }
            ),
        ),
        (
            200,
            message(
                usage={
                    "input_tokens": 12,
                    "output_tokens": 6,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 2048,
                }
            ),
        ),
    )
    model = claude(srv, sleeps)
    first = model.chat(request(temperature=0.2, stop=("```\n",), max_tokens=300))
    second = model.chat(request(temperature=0.2, stop=("```\n",), max_tokens=300))

    assert first.text == "pick(red_block)" and first.finish_reason == "stop"
    assert (
        first.usage.input_tokens,
        first.usage.cache_write_tokens,
        first.usage.cached_tokens,
    ) == (12, 2048, 0)
    assert (
        second.usage.input_tokens,
        second.usage.cache_write_tokens,
        second.usage.cached_tokens,
    ) == (12, 0, 2048)
    # claude-haiku-4-5 estimate: 1.00 in, 0.10 cache read, 1.25 cache write, 5.00 out.
    assert first.usage.cost_usd == pytest.approx((12 * 1 + 2048 * 1.25 + 6 * 5) / 1e6)
    assert second.usage.cost_usd == pytest.approx((12 * 1 + 2048 * 0.10 + 6 * 5) / 1e6)
    assert second.usage.cost_usd < first.usage.cost_usd

    req = srv.requests[0]
    assert req.url.path == "/v1/messages"
    assert req.headers["authorization"] == "Bearer sk-ant-test"
    body = srv.bodies[0]
    assert body["system"] == [
        {"type": "text", "text": API_DOCS, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Task: stack."},
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Write the program."}]}
    ]
    assert body["temperature"] == 0.2  # through extra_body: the SDK has no temperature kwarg
    assert body["max_tokens"] == 300 and body["stop_sequences"] == ["```\n"]
    assert model.vision and model.id == "anthropic:claude-haiku-4-5"


def test_image_goes_as_a_base64_block(server, sleeps, png_b64):
    srv = server((200, message()))
    req = ChatRequest(
        messages=(
            ChatMessage(
                role="user",
                content=(ImagePart(png_b64=png_b64, label="top"), TextPart(text="Done?")),
            ),
        )
    )
    claude(srv, sleeps).chat(req)
    assert "system" not in srv.bodies[0]
    assert srv.bodies[0]["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_b64}},
        {"type": "text", "text": "Done?"},
    ]


def test_at_most_four_cache_breakpoints_are_sent(server, sleeps):
    srv = server((200, message()))
    parts = tuple(TextPart(text=f"part {i}", cache=True) for i in range(6))
    req = ChatRequest(
        messages=(ChatMessage(role="system", content=parts), ChatMessage.text("user", "go"))
    )
    claude(srv, sleeps).chat(req)
    marks = ["cache_control" in b for b in srv.bodies[0]["system"]]
    assert marks == [False, False, True, True, True, True]


def test_overloaded_then_200_retries_once(server, sleeps):
    srv = server(
        (*error(529, "Overloaded", "overloaded_error"), {"retry-after": "2"}), (200, message())
    )
    assert claude(srv, sleeps).chat(request()).text == "pick(red_block)"
    assert len(srv.requests) == 2 and sleeps.waits == [2.0]


def test_429_then_200_uses_retry_after(server, sleeps):
    srv = server(
        (*error(429, "rate limited", "rate_limit_error"), {"retry-after": "1.5"}), (200, message())
    )
    claude(srv, sleeps).chat(request())
    assert len(srv.requests) == 2 and sleeps.waits == [1.5]


def test_429_forever_is_bounded(server, sleeps):
    srv = server(error(429, "rate limited", "rate_limit_error"))
    with pytest.raises(ModelUnavailableError, match=r"4 attempts.*HTTP 429"):
        claude(srv, sleeps, max_retries=3).chat(request())
    assert len(srv.requests) == 4 and sleeps.waits == [0.5, 1.0, 2.0]


def test_401_is_an_auth_error(server, sleeps):
    srv = server(error(401, "invalid x-api-key", "authentication_error"))
    with pytest.raises(ModelAuthError, match=r"rejected.*invalid x-api-key"):
        claude(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_404_names_the_model(server, sleeps):
    srv = server(error(404, "model: claude-haiku-4-5", "not_found_error"))
    with pytest.raises(ModelRequestError, match="'claude-haiku-4-5' was not found"):
        claude(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_400_carries_the_message(server, sleeps):
    srv = server(
        error(400, "messages: text content blocks must be non-empty", "invalid_request_error")
    )
    with pytest.raises(ModelRequestError, match="must be non-empty"):
        claude(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_connection_error_names_the_url(server, sleeps):
    srv = server(httpx2.ConnectError("Name or service not known"))
    with pytest.raises(
        ModelUnavailableError, match=r"connect to http://fake after 3 attempts.*not known"
    ):
        claude(srv, sleeps).chat(request())
    assert len(srv.requests) == 3


def test_missing_key_fails_before_any_request(server, sleeps):
    srv = server((200, message()))
    with pytest.raises(ModelAuthError, match="ANTHROPIC_API_KEY"):
        AnthropicChatModel("claude-haiku-4-5", base_url=URL, http_client=srv.client(), sleep=sleeps)
    assert srv.requests == []


def test_key_from_settings(server, sleeps):
    srv = server((200, message()))
    AnthropicChatModel(
        "claude-haiku-4-5",
        base_url=URL,
        settings=LLMSettings(api_key="sk-ant-cfg"),
        http_client=srv.client(),
        sleep=sleeps,
    ).chat(request())
    assert srv.requests[0].headers["authorization"] == "Bearer sk-ant-cfg"


@pytest.mark.parametrize(
    "payload",
    [message(None), {"type": "message", "content": None, "usage": {}}, "not json at all"],
    ids=["no-text", "null-content", "not-json"],
)
def test_unusable_reply_is_a_reply_error(server, sleeps, payload):
    srv = server((200, payload))
    with pytest.raises(ModelReplyError):
        claude(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_max_tokens_stop_is_truncated(server, sleeps):
    srv = server((200, message("def run():\n    pi", stop="max_tokens")))
    reply = claude(srv, sleeps).chat(request())
    assert reply.truncated and reply.finish_reason == "length"


def test_large_max_tokens_is_sent_without_streaming(server, sleeps):
    srv = server((200, message()))
    claude(srv, sleeps).chat(request(max_tokens=32000))
    assert srv.bodies[0]["max_tokens"] == 32000
