"""make_chat_model parsing, vision flags, settings validation and the cost estimate."""

from __future__ import annotations

import pytest

from policywright.agent.llm import (
    AnthropicChatModel,
    ChatModel,
    LLMSettings,
    OpenAIChatModel,
    Price,
    Usage,
    estimate_cost,
    is_vision_model,
    make_chat_model,
    parse_model_spec,
)
from policywright.errors import ConfigError, ModelAuthError, UnknownNameError, UserError

pytest.importorskip("openai")
pytest.importorskip("anthropic")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("openai:gpt-4o", ("openai", "gpt-4o", None)),
        ("anthropic:claude-haiku-4-5", ("anthropic", "claude-haiku-4-5", None)),
        (
            "openai-compatible:http://127.0.0.1:8080/v1#qwen",
            ("openai-compatible", "qwen", "http://127.0.0.1:8080/v1"),
        ),
        (
            "openai-compatible:http://h:11434/v1#library/qwen2.5:7b",
            ("openai-compatible", "library/qwen2.5:7b", "http://h:11434/v1"),
        ),
        ("hf:/models/tiny", ("hf", "/models/tiny", None)),
        ("  OpenAI:gpt-4o ", ("openai", "gpt-4o", None)),
    ],
)
def test_parse(spec, parsed):
    assert parse_model_spec(spec) == parsed


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("opnai:gpt-4o", "did you mean 'openai'"),
        ("antropic:claude", "did you mean 'anthropic'"),
        ("gpt-4o", "known"),
    ],
)
def test_unknown_provider_suggests(spec, hint):
    with pytest.raises(UnknownNameError, match=hint):
        parse_model_spec(spec)


@pytest.mark.parametrize(
    ("spec", "example"),
    [
        ("openai:", "openai:gpt-4o"),
        ("openai", "openai:gpt-4o"),
        ("anthropic: ", "anthropic:"),
        ("hf:", "hf:/path"),
        ("openai-compatible:http://127.0.0.1:8080/v1", "#"),
        ("openai-compatible:http://127.0.0.1:8080/v1#", "#"),
        ("openai-compatible:#qwen", "#"),
        ("openai-compatible:127.0.0.1:8080/v1#qwen", "http://"),
    ],
)
def test_missing_or_malformed_model_part(spec, example):
    with pytest.raises(ConfigError, match=example):
        parse_model_spec(spec)


def test_scripted_is_not_parseable():
    with pytest.raises(ConfigError, match="ScriptedChatModel"):
        make_chat_model("scripted:fake")


def test_factory_builds_each_sdk_backend(server, sleeps):
    srv = server((200, {}))
    openai_model = make_chat_model("openai:gpt-4o-mini", {"api_key": "k"}, http_client=srv.client())
    assert isinstance(openai_model, OpenAIChatModel) and openai_model.vision
    assert openai_model.id == "openai:gpt-4o-mini"
    claude = make_chat_model(
        "anthropic:claude-haiku-4-5", LLMSettings(api_key="k"), http_client=srv.client()
    )
    assert isinstance(claude, AnthropicChatModel) and claude.vision
    local = make_chat_model("openai-compatible:http://127.0.0.1:8080/v1#qwen2.5-vl-7b")
    assert isinstance(local, OpenAIChatModel) and local.vision
    assert local.id == "openai-compatible:http://127.0.0.1:8080/v1#qwen2.5-vl-7b"
    assert local.base_url == "http://127.0.0.1:8080/v1"
    for model in (openai_model, claude, local):
        assert isinstance(model, ChatModel)
    assert srv.requests == []


def test_factory_missing_key(server):
    with pytest.raises(ModelAuthError, match="OPENAI_API_KEY"):
        make_chat_model("openai:gpt-4o")
    with pytest.raises(ModelAuthError, match="ANTHROPIC_API_KEY"):
        make_chat_model("anthropic:claude-haiku-4-5")


def test_factory_rejects_bad_settings():
    with pytest.raises(ConfigError, match="timeout_seconds"):
        make_chat_model("openai-compatible:http://x/v1#m", {"timeout_seconds": 3})
    with pytest.raises(ConfigError, match="max_retries"):
        make_chat_model("openai-compatible:http://x/v1#m", {"max_retries": -1})


def test_hf_without_a_model_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        make_chat_model(f"hf:{tmp_path / 'missing'}")


@pytest.mark.parametrize(
    ("provider", "model", "vision"),
    [
        ("openai", "gpt-4o", True),
        ("openai", "gpt-4o-mini", True),
        ("openai", "gpt-4.1-nano", True),
        ("openai", "gpt-5", True),
        ("openai", "o3", True),
        ("openai", "o4-mini", True),
        ("openai", "gpt-3.5-turbo", False),
        ("anthropic", "claude-haiku-4-5", True),
        ("openai-compatible", "Qwen2.5-VL-7B-Instruct", True),
        ("openai-compatible", "llama-3.2-vision", True),
        ("openai-compatible", "qwen2.5-coder-1.5b", False),
        ("hf", "/models/vl", False),
    ],
)
def test_vision_guess(provider, model, vision):
    assert is_vision_model(provider, model) is vision


def test_vision_override():
    assert is_vision_model("openai-compatible", "qwen", LLMSettings(vision=True))
    assert not is_vision_model("openai", "gpt-4o", LLMSettings(vision=False))
    assert not is_vision_model("hf", "x", LLMSettings(vision=True))


def test_estimate_cost_and_overrides():
    usage = Usage(
        input_tokens=1_000_000,
        cached_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        output_tokens=1_000_000,
    )
    table = LLMSettings().price_table()
    assert estimate_cost("claude-haiku-4-5", usage, table) == pytest.approx(1.0 + 0.10 + 1.25 + 5.0)
    assert estimate_cost("gpt-4o-2024-08-06", usage, table) == pytest.approx(
        2.5 + 1.25 + 2.5 + 10.0
    )
    assert estimate_cost("qwen-local", usage, table) == 0.0
    own = LLMSettings(
        prices={"qwen-local": Price(input_per_mtok=0.1, output_per_mtok=0.2)}
    ).price_table()
    # cached and cache-write prices default to the input price
    assert estimate_cost("qwen-local", usage, own) == pytest.approx(0.1 * 3 + 0.2)


def test_settings_keep_the_key_secret():
    settings = LLMSettings(api_key="sk-secret")
    assert "sk-secret" not in repr(settings) and "sk-secret" not in settings.model_dump_json()
    with pytest.raises(ValueError):
        LLMSettings(unknown=1)
