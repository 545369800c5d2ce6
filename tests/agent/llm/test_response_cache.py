"""CachedChatModel: JSON entries on disk, hits cost nothing, corrupt entries are misses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policywright.agent.llm import (
    CachedChatModel,
    ChatMessage,
    ChatReply,
    ChatRequest,
    LLMSettings,
    ScriptedChatModel,
    Usage,
    make_chat_model,
)


def req(text: str = "stack the blocks", **kw: Any) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage.text("user", text),), **kw)


def reply(text: str) -> ChatReply:
    return ChatReply(
        text=text,
        model="m",
        usage=Usage(calls=1, input_tokens=100, output_tokens=10, cost_usd=0.01, latency_s=1.5),
    )


def test_second_identical_request_is_a_free_hit(tmp_path):
    inner = ScriptedChatModel.of(reply("A"))
    cached = CachedChatModel(inner, tmp_path)
    first = cached.chat(req())
    second = cached.chat(req())
    assert len(inner.requests) == 1
    assert first.text == second.text == "A"
    assert not first.cached and first.usage.cost_usd == 0.01
    assert second.cached
    assert second.usage == Usage(calls=1, cache_hits=1)
    assert (cached.hits, cached.misses) == (1, 1)
    (entry,) = tmp_path.glob("*/*.json")
    stored = json.loads(entry.read_text())
    assert stored["model"] == "scripted:fake" and stored["reply"]["text"] == "A"
    assert not list(tmp_path.glob("*/.tmp-*"))  # the temporary file was renamed away


@pytest.mark.parametrize(
    "other",
    [req("stack the red block"), req(max_tokens=7), req(temperature=0.5), req(stop=("x",))],
    ids=["text", "max_tokens", "temperature", "stop"],
)
def test_a_different_request_misses(tmp_path, other):
    inner = ScriptedChatModel.of("A", "B")
    cached = CachedChatModel(inner, tmp_path)
    cached.chat(req())
    assert cached.chat(other).text == "B" and len(inner.requests) == 2


def test_another_model_misses(tmp_path):
    a = CachedChatModel(ScriptedChatModel(replies=["A"], id="scripted:a"), tmp_path)
    b_inner = ScriptedChatModel(replies=["B"], id="scripted:b")
    b = CachedChatModel(b_inner, tmp_path)
    a.chat(req())
    assert b.chat(req()).text == "B" and len(b_inner.requests) == 1


@pytest.mark.parametrize(
    "garbage",
    [
        '{"format": 1, "model": "scripted:fake", "reply": {"text": ',
        "[]",
        '{"format": 1, "model": "scripted:fake", "reply": {"nope": 1}}',
        "\x00\xff",
    ],
    ids=["truncated", "not-an-object", "invalid-reply", "binary"],
)
def test_corrupt_entry_is_a_miss_and_is_overwritten(tmp_path, garbage, caplog):
    inner = ScriptedChatModel.of("fresh", "unused")
    cached = CachedChatModel(inner, tmp_path)
    path = cached.path_for(req())
    path.parent.mkdir(parents=True)
    path.write_text(garbage, encoding="utf-8", errors="surrogateescape")
    with caplog.at_level("WARNING"):
        assert cached.chat(req()).text == "fresh"
    assert "corrupt" in caplog.text
    assert json.loads(path.read_text())["reply"]["text"] == "fresh"
    again = cached.chat(req())
    assert again.cached and again.text == "fresh" and len(inner.requests) == 1


def test_an_unwritable_cache_does_not_fail_the_call(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cached = CachedChatModel(ScriptedChatModel.of("A"), blocker)
    assert cached.chat(req()).text == "A"


def test_factory_wraps_in_the_cache_and_a_hit_makes_no_http_call(tmp_path, server, sleeps):
    pytest.importorskip("openai")
    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "qwen",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    srv = server((200, body))
    settings = {"cache_dir": str(tmp_path / "llm-cache")}  # the engine passes a plain dict
    model = make_chat_model(
        "openai-compatible:http://fake/v1#qwen", settings, http_client=srv.client(), sleep=sleeps
    )
    assert isinstance(model, CachedChatModel)
    assert model.chat(req()).usage.input_tokens == 5
    hit = model.chat(req())
    assert hit.cached and hit.text == "hi" and len(srv.requests) == 1
    again = make_chat_model(
        "openai-compatible:http://fake/v1#qwen",
        LLMSettings(cache_dir=tmp_path / "llm-cache"),
        http_client=srv.client(),
    )
    assert again.chat(req()).cached and len(srv.requests) == 1  # survives a new process/model
