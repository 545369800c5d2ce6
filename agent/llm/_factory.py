"""Build a chat model from a string id such as ``"openai:gpt-4o"``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from policywright.agent.llm._base import ChatModel
from policywright.agent.llm._cache import CachedChatModel
from policywright.agent.llm._settings import LLMSettings
from policywright.errors import ConfigError, UnknownNameError

__all__ = ["PROVIDERS", "is_vision_model", "make_chat_model", "parse_model_spec"]

#: Provider prefix -> an example spec (used in error messages).
PROVIDERS: dict[str, str] = {
    "openai": "openai:gpt-4o",
    "anthropic": "anthropic:claude-sonnet-4-6",
    "openai-compatible": "openai-compatible:http://127.0.0.1:8080/v1#qwen2.5-vl-7b",
    "hf": "hf:/path/to/model-folder",
}


def parse_model_spec(spec: str) -> tuple[str, str, str | None]:
    """Split a model id into (provider, model or path, base URL).

    Args:
        spec: ``openai:<model>``, ``anthropic:<model>``, ``openai-compatible:<base_url>#<model>``
            or ``hf:<path>``.

    Returns:
        The provider, the model name (the folder for ``hf``), and the base URL
        (``openai-compatible`` only, else None).

    Raises:
        UnknownNameError: The provider is not known (with close matches).
        ConfigError: The model part is missing or malformed.
    """
    spec = spec.strip()
    provider, sep, rest = spec.partition(":")
    provider = provider.strip().lower()
    if provider == "scripted":
        raise ConfigError(
            "'scripted:' models exist only in tests; construct ScriptedChatModel directly"
        )
    if provider not in PROVIDERS:
        raise UnknownNameError("model provider", provider, list(PROVIDERS))
    rest = rest.strip()
    example = PROVIDERS[provider]
    if not sep or not rest:
        raise ConfigError(f"model id {spec!r} names no model; write it like {example!r}")
    if provider != "openai-compatible":
        return provider, rest, None
    base_url, hash_, model = rest.rpartition("#")
    base_url, model = base_url.strip(), model.strip()
    if not hash_ or not base_url or not model:
        raise ConfigError(
            f"model id {spec!r} needs a base URL and a model separated by '#'; "
            f"write it like {example!r}"
        )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"model id {spec!r}: the base URL {base_url!r} must start with http:// or https://; "
            f"write it like {example!r}"
        )
    return provider, model, base_url


def is_vision_model(provider: str, model: str, settings: LLMSettings | None = None) -> bool:
    """Whether a model accepts images: ``settings.vision`` if set, else a guess from the name.

    OpenAI: gpt-4o*, gpt-4.1*, gpt-5*, o-series. Anthropic: every claude-* model.
    OpenAI-compatible: names containing "vl" or "vision". hf: never (text-only backend).
    """
    if provider == "hf":
        return False
    if settings is not None and settings.vision is not None:
        return settings.vision
    name = model.lower()
    if provider == "openai":
        from policywright.agent.llm._openai import openai_is_vision

        return openai_is_vision(name)
    if provider == "anthropic":
        return name.startswith("claude")
    return "vl" in name or "vision" in name


def _settings(settings: LLMSettings | Mapping[str, Any] | None) -> LLMSettings:
    if settings is None:
        return LLMSettings()
    if isinstance(settings, LLMSettings):
        return settings
    try:
        return LLMSettings.model_validate(dict(settings))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'llm_settings'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid llm_settings: {problems}") from exc


def make_chat_model(
    spec: str,
    settings: LLMSettings | Mapping[str, Any] | None = None,
    *,
    http_client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ChatModel:
    """Build the chat model named by ``spec`` (wrapped in the response cache if configured).

    Args:
        spec: ``openai:<model>``, ``anthropic:<model>``, ``openai-compatible:<base_url>#<model>``
            (e.g. ``openai-compatible:http://127.0.0.1:8080/v1#qwen``) or ``hf:<path>``.
        settings: :class:`LLMSettings` or a dict of its fields (the engine config's
            ``llm_settings``).
        http_client: An ``httpx2.Client`` for the SDK backends (tests pass a mock transport).
        sleep: The wait between retries (tests pass a recorder).

    Returns:
        The model; a :class:`CachedChatModel` around it when ``settings.cache_dir`` is set.

    Raises:
        UnknownNameError: Unknown provider.
        ConfigError: Malformed spec or settings.
        ModelAuthError: The provider needs a key and none is set.
        MissingExtraError: The provider's optional dependency is not installed.
    """
    provider, model, base_url = parse_model_spec(spec)
    resolved = _settings(settings)
    vision = is_vision_model(provider, model, resolved)
    chat_model: ChatModel
    if provider == "openai":
        from policywright.agent.llm._openai import OpenAIChatModel

        chat_model = OpenAIChatModel(
            model, settings=resolved, http_client=http_client, sleep=sleep, vision=vision
        )
    elif provider == "openai-compatible":
        from policywright.agent.llm._openai import OpenAIChatModel

        chat_model = OpenAIChatModel(
            model,
            base_url=base_url,
            settings=resolved,
            http_client=http_client,
            sleep=sleep,
            id=spec.strip(),
            vision=vision,
        )
    elif provider == "anthropic":
        from policywright.agent.llm._anthropic import AnthropicChatModel

        chat_model = AnthropicChatModel(
            model, settings=resolved, http_client=http_client, sleep=sleep, vision=vision
        )
    else:
        from policywright.agent.llm._hf import HFChatModel

        chat_model = HFChatModel(model, settings=resolved)
    if resolved.cache_dir is not None:
        from policywright.agent.llm._constrain import resolved_form

        form = resolved_form(resolved.constrained)
        # A request answered under one constraint form is not the answer under another.
        variant = "" if form == "off" else f"constrained={form}"
        return CachedChatModel(chat_model, resolved.cache_dir, variant)
    return chat_model
