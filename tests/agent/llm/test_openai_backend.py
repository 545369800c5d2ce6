"""OpenAIChatModel through the real openai SDK HTTP layer (httpx2.MockTransport)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from policywright.agent.llm import (
    ChatMessage,
    ChatRequest,
    ImagePart,
    LLMSettings,
    OpenAIChatModel,
    TextPart,
)
from policywright.errors import (
    ModelAuthError,
    ModelReplyError,
    ModelRequestError,
    ModelUnavailableError,
)

pytest.importorskip("openai")

URL = "http://fake/v1"


def completion(
    text: str | None = "pick(red_block)",
    *,
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    model: str = "gpt-4o-2024-08-06",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "message": {"role": "assistant", "content": text},
            }
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def error(status: int, message: str, type_: str = "error") -> tuple[int, Any]:
    return status, {"error": {"message": message, "type": type_, "code": None}}


def request(*messages: ChatMessage, **kw: Any) -> ChatRequest:
    msgs = messages or (
        ChatMessage.text("system", "You are a robot planner."),
        ChatMessage.text("user", "Stack the red block on the blue one."),
    )
    return ChatRequest(messages=msgs, **kw)


def official(srv, sleeps, **settings: Any) -> OpenAIChatModel:
    return OpenAIChatModel(
        "gpt-4o",
        api_key="sk-test",
        settings=LLMSettings(**settings),
        http_client=srv.client(),
        sleep=sleeps,
    )


def test_success_reports_text_usage_cached_tokens_and_cost(server, sleeps):
    srv = server(
        (
            200,
            completion(
                usage={
                    "prompt_tokens": 1200,
                    "completion_tokens": 30,
                    "total_tokens": 1230,
                    "prompt_tokens_details": {"cached_tokens": 1024},
                }
            ),
        )
    )
    model = official(srv, sleeps)
    reply = model.chat(request(max_tokens=200, stop=("```\n",)))

    assert reply.text == "pick(red_block)"
    assert reply.finish_reason == "stop" and not reply.truncated
    assert reply.model == "gpt-4o-2024-08-06"
    u = reply.usage
    assert (u.calls, u.input_tokens, u.cached_tokens, u.output_tokens) == (1, 176, 1024, 30)
    assert u.unpriced_calls == 0
    # gpt-4o estimate: 2.50 in, 1.25 cached, 10.00 out per million tokens.
    assert u.cost_usd == pytest.approx((176 * 2.5 + 1024 * 1.25 + 30 * 10.0) / 1e6)
    assert u.latency_s >= 0.0

    (req,) = srv.requests
    assert req.url.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test"
    body = srv.bodies[0]
    assert body["model"] == "gpt-4o"
    assert body["max_completion_tokens"] == 200 and "max_tokens" not in body
    assert body["temperature"] == 0.0 and body["stop"] == ["```\n"]
    assert body["messages"] == [
        {"role": "system", "content": "You are a robot planner."},
        {"role": "user", "content": "Stack the red block on the blue one."},
    ]
    assert model.vision and model.id == "openai:gpt-4o"
    assert sleeps.waits == []


def test_image_goes_as_a_data_url(server, sleeps, png_b64):
    srv = server((200, completion(usage={"prompt_tokens": 90, "completion_tokens": 2})))
    msg = ChatMessage(
        role="user",
        content=(TextPart(text="Is the red block on the blue one?"), ImagePart(png_b64=png_b64)),
    )
    official(srv, sleeps).chat(request(msg))
    (sent,) = srv.bodies[0]["messages"]
    assert sent["content"] == [
        {"type": "text", "text": "Is the red block on the blue one?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png_b64}"}},
    ]


def test_text_only_server_gets_the_image_label_instead(server, sleeps, png_b64):
    srv = server((200, completion()))
    model = OpenAIChatModel("qwen-coder", base_url=URL, http_client=srv.client(), sleep=sleeps)
    msg = ChatMessage(
        role="user", content=(TextPart(text="Look:"), ImagePart(png_b64=png_b64, label="top cam"))
    )
    model.chat(request(msg))
    content = srv.bodies[0]["messages"][0]["content"]
    assert isinstance(content, str) and "top cam" in content and png_b64 not in content


def test_local_server_needs_no_key_and_may_omit_usage(server, sleeps):
    srv = server((200, completion("ok", model="qwen")))
    model = OpenAIChatModel(
        "qwen",
        base_url=URL + "/",
        settings=LLMSettings(max_tokens=64),
        http_client=srv.client(),
        sleep=sleeps,
    )
    reply = model.chat(request(max_tokens=500))
    assert reply.text == "ok"
    assert reply.usage.calls == 1 and reply.usage.input_tokens == 0 and reply.usage.cost_usd == 0
    assert reply.usage.unpriced_calls == 1
    assert srv.requests[0].headers["authorization"] == "Bearer not-needed"
    # local servers get max_tokens (capped by the settings), not max_completion_tokens
    assert srv.bodies[0]["max_tokens"] == 64 and "max_completion_tokens" not in srv.bodies[0]
    assert model.id == "openai-compatible:http://fake/v1#qwen" and not model.vision


def test_openai_key_is_not_sent_to_other_servers(server, sleeps, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai")
    srv = server((200, completion()))
    OpenAIChatModel("qwen", base_url=URL, http_client=srv.client(), sleep=sleeps).chat(request())
    assert srv.requests[0].headers["authorization"] == "Bearer not-needed"


def test_reasoning_models_get_no_temperature(server, sleeps):
    srv = server((200, completion()))
    OpenAIChatModel("o4-mini", api_key="k", http_client=srv.client(), sleep=sleeps).chat(
        request(stop=("x",))
    )
    assert "temperature" not in srv.bodies[0] and "stop" not in srv.bodies[0]


def test_429_then_200_retries_once_with_the_servers_wait(server, sleeps):
    srv = server(
        (*error(429, "slow down", "rate_limit"), {"retry-after": "3"}),
        (200, completion()),
    )
    reply = official(srv, sleeps).chat(request())
    assert reply.text == "pick(red_block)"
    assert len(srv.requests) == 2  # one retry, by us only (the SDK's retries are off)
    assert sleeps.waits == [3.0]


def test_retry_after_ms_wins_and_long_waits_are_capped(server, sleeps):
    srv = server(
        (*error(503, "busy"), {"retry-after-ms": "250", "retry-after": "9"}),
        (*error(503, "busy"), {"retry-after": "3600"}),
        (200, completion()),
    )
    official(srv, sleeps, retry_after_max_s=20).chat(request())
    assert sleeps.waits == [0.25, 20.0]


def test_429_forever_gives_up_after_the_budget(server, sleeps):
    srv = server(error(429, "slow down", "rate_limit"))
    with pytest.raises(ModelUnavailableError, match=r"3 attempts.*HTTP 429.*slow down"):
        official(srv, sleeps).chat(request())
    assert len(srv.requests) == 3  # 1 + max_retries, not (1 + 2) * (1 + 2)
    assert sleeps.waits == [0.5, 1.0]  # exponential backoff without retry-after


def test_backoff_is_capped(server, sleeps):
    srv = server(error(500, "boom"))
    with pytest.raises(ModelUnavailableError, match="6 attempts"):
        official(srv, sleeps, max_retries=5, backoff_initial_s=1.0, backoff_max_s=4.0).chat(
            request()
        )
    assert sleeps.waits == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_max_retries_zero_makes_one_attempt(server, sleeps):
    srv = server(error(502, "bad gateway"))
    with pytest.raises(ModelUnavailableError, match="1 attempt"):
        official(srv, sleeps, max_retries=0).chat(request())
    assert len(srv.requests) == 1 and sleeps.waits == []


def test_quota_exhausted_is_not_retried(server, sleeps):
    srv = server(
        (429, {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}})
    )
    with pytest.raises(ModelUnavailableError, match="quota"):
        official(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_an_auth_error_without_retry(server, sleeps, status):
    srv = server(error(status, "Incorrect API key provided"))
    with pytest.raises(ModelAuthError, match=r"key was rejected.*Incorrect API key.*this provider"):
        official(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_unknown_model_is_a_request_error_naming_it(server, sleeps):
    srv = server(error(404, "The model `gpt-9` does not exist"))
    model = OpenAIChatModel("gpt-9", api_key="k", http_client=srv.client(), sleep=sleeps)
    with pytest.raises(ModelRequestError, match="'gpt-9' was not found"):
        model.chat(request())
    assert len(srv.requests) == 1


def test_bad_request_carries_the_providers_message(server, sleeps):
    srv = server(error(400, "max_tokens is too large: 99999"))
    with pytest.raises(ModelRequestError, match=r"HTTP 400.*max_tokens is too large"):
        official(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_connection_refused_names_the_base_url(server, sleeps):
    srv = server(httpx2.ConnectError("[Errno 111] Connection refused"))
    model = OpenAIChatModel(
        "qwen", base_url="http://127.0.0.1:8080/v1", http_client=srv.client(), sleep=sleeps
    )
    with pytest.raises(
        ModelUnavailableError,
        match=r"connect to http://127.0.0.1:8080/v1 after 3 attempts.*refused",
    ):
        model.chat(request())
    assert len(srv.requests) == 3


def test_timeout_is_unavailable(server, sleeps):
    srv = server(httpx2.ReadTimeout("timed out"), httpx2.ReadTimeout("timed out"))
    with pytest.raises(ModelUnavailableError, match=r"no answer .* within 7 s \(2 attempts\)"):
        official(srv, sleeps, timeout_s=7, max_retries=1).chat(request())
    assert len(srv.requests) == 2


def test_timeout_then_success(server, sleeps):
    srv = server(httpx2.ReadTimeout("timed out"), (200, completion()))
    assert official(srv, sleeps).chat(request()).text == "pick(red_block)"
    assert len(srv.requests) == 2 and sleeps.waits == [0.5]


def test_missing_key_fails_before_any_request(server, sleeps):
    srv = server((200, completion()))
    with pytest.raises(ModelAuthError, match="OPENAI_API_KEY"):
        OpenAIChatModel("gpt-4o", http_client=srv.client(), sleep=sleeps)
    assert srv.requests == []


def test_key_from_the_environment(server, sleeps, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    srv = server((200, completion()))
    OpenAIChatModel("gpt-4o", http_client=srv.client(), sleep=sleeps).chat(request())
    assert srv.requests[0].headers["authorization"] == "Bearer sk-env"


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "c1", "object": "chat.completion", "created": 0, "model": "m", "choices": []},
        {"id": "c1", "object": "chat.completion", "created": 0, "model": "m"},
        {"unexpected": True},
        "<html>not json</html>",
        completion(None),
        completion(""),
    ],
    ids=["empty-choices", "no-choices", "bogus-json", "not-json", "null-text", "empty-text"],
)
def test_unusable_reply_is_a_reply_error(server, sleeps, payload):
    srv = server((200, payload))
    with pytest.raises(ModelReplyError):
        official(srv, sleeps).chat(request())
    assert len(srv.requests) == 1


def test_refusal_is_a_request_error(server, sleeps):
    body = completion(None)
    body["choices"][0]["message"]["refusal"] = "I can't help with that."
    srv = server((200, body))
    with pytest.raises(ModelRequestError, match="refused: I can't help"):
        official(srv, sleeps).chat(request())


def test_truncated_reply_is_returned_not_raised(server, sleeps):
    srv = server(
        (200, completion("def run():\n    pick(", finish="length")),
        (200, completion(None, finish="length")),
    )
    model = official(srv, sleeps)
    reply = model.chat(request())
    assert reply.truncated and reply.finish_reason == "length" and reply.text.startswith("def run")
    empty = model.chat(request())  # a reasoning model can spend the budget before any text
    assert empty.truncated and empty.text == ""
