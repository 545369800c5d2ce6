"""Settings of the chat-model backends, API-key resolution and the cost estimate.

The price table below is an **estimate** copied from the providers' public price pages
(USD per million tokens, as of late 2025). Prices change; override them with
``LLMSettings(prices={...})`` (``llm_settings.prices`` in the engine config). A model that is
in neither table costs 0 and is counted in ``Usage.unpriced_calls``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from policywright.agent.llm._base import Usage
from policywright.agent.llm._constrain import ConstrainMode
from policywright.errors import ModelAuthError

__all__ = [
    "DEFAULT_PRICES",
    "LLMSettings",
    "Price",
    "estimate_cost",
    "price_for",
    "resolve_api_key",
]

log = logging.getLogger(__name__)


class Price(BaseModel):
    """What a model costs, in USD per million tokens.

    Attributes:
        input_per_mtok: Fresh (uncached) prompt tokens.
        cached_input_per_mtok: Prompt tokens read from the provider's prompt cache
            (None = the input price).
        cache_write_per_mtok: Prompt tokens written to the prompt cache (None = the input price).
        output_per_mtok: Completion tokens.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0.0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0.0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0.0)
    output_per_mtok: float = Field(ge=0.0)


def _p(inp: float, cached: float, write: float | None, out: float) -> Price:
    return Price(
        input_per_mtok=inp,
        cached_input_per_mtok=cached,
        cache_write_per_mtok=write,
        output_per_mtok=out,
    )


#: ESTIMATES of list prices (USD per million tokens) as published in late 2025. A row matches
#: its exact name and dated snapshots of it ("gpt-4o-2024-08-06", "claude-sonnet-4-20250514",
#: "...-latest"), never a newer version ("claude-sonnet-4-6" is unpriced rather than guessed).
#: Override or extend with ``LLMSettings.prices``; do not rely on these for billing.
DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI: cached input is a discount on automatic prefix caching; no write surcharge.
    "gpt-4o": _p(2.50, 1.25, None, 10.00),
    "gpt-4o-mini": _p(0.15, 0.075, None, 0.60),
    "gpt-4.1": _p(2.00, 0.50, None, 8.00),
    "gpt-4.1-mini": _p(0.40, 0.10, None, 1.60),
    "gpt-4.1-nano": _p(0.10, 0.025, None, 0.40),
    "gpt-5": _p(1.25, 0.125, None, 10.00),
    "gpt-5-mini": _p(0.25, 0.025, None, 2.00),
    "gpt-5-nano": _p(0.05, 0.005, None, 0.40),
    "o3": _p(2.00, 0.50, None, 8.00),
    "o3-mini": _p(1.10, 0.55, None, 4.40),
    "o4-mini": _p(1.10, 0.275, None, 4.40),
    # Anthropic: cache reads at 0.1x input, 5-minute cache writes at 1.25x input.
    "claude-opus-4": _p(15.00, 1.50, 18.75, 75.00),
    "claude-opus-4-0": _p(15.00, 1.50, 18.75, 75.00),
    "claude-opus-4-1": _p(15.00, 1.50, 18.75, 75.00),
    "claude-opus-4-5": _p(5.00, 0.50, 6.25, 25.00),
    "claude-sonnet-4": _p(3.00, 0.30, 3.75, 15.00),
    "claude-sonnet-4-0": _p(3.00, 0.30, 3.75, 15.00),
    "claude-sonnet-4-5": _p(3.00, 0.30, 3.75, 15.00),
    "claude-3-7-sonnet": _p(3.00, 0.30, 3.75, 15.00),
    "claude-haiku-4-5": _p(1.00, 0.10, 1.25, 5.00),
    "claude-3-5-haiku": _p(0.80, 0.08, 1.00, 4.00),
}

#: What may follow a price-table key: a snapshot date or "latest".
_SNAPSHOT = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)")

#: Where each provider's key is read from when no explicit key is given.
KEY_ENV_VARS: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    # A separate variable on purpose: an OpenAI key must not be sent to an arbitrary server.
    "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
}


class LLMSettings(BaseModel):
    """Timeouts, retries, keys, prices and the response cache of the model backends.

    Attributes:
        timeout_s: Read/write timeout of one HTTP attempt, in seconds.
        connect_timeout_s: Connect timeout of one HTTP attempt, in seconds.
        max_retries: Retries after the first attempt for rate limits (429), overload and
            server errors (5xx), timeouts and connection errors. The SDKs' own retries are
            off, so a call makes at most ``1 + max_retries`` HTTP attempts.
        backoff_initial_s: First backoff wait; doubles on each retry.
        backoff_max_s: Upper bound of a backoff wait computed by us.
        retry_after_max_s: Upper bound of a wait the server asks for (``retry-after``).
        max_tokens: When set, caps every request's ``max_tokens``.
        api_key: An explicit key for the provider (wins over the environment variable).
        vision: Overrides whether the model accepts images (None = guess from its name).
        prices: Price overrides by model-name prefix, merged over :data:`DEFAULT_PRICES`.
        cache_dir: A folder for the on-disk response cache (None = no cache).
        constrained: How planner replies are constrained on OpenAI-compatible servers:
            "grammar" (llama.cpp GBNF over the two fenced blocks), "json" (llama.cpp JSON
            schema), "vllm" (structured outputs grammar), "ollama" (``format`` JSON schema),
            "off", or "auto" (the form measured best with llama.cpp: "grammar"; a server
            that rejects it is asked again without, once, and the log says so). OpenAI and
            Anthropic always use their JSON-schema structured output unless "off".
    """

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=60.0, gt=0.0)
    connect_timeout_s: float = Field(default=5.0, gt=0.0)
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_initial_s: float = Field(default=0.5, ge=0.0)
    backoff_max_s: float = Field(default=8.0, ge=0.0)
    retry_after_max_s: float = Field(default=60.0, ge=0.0)
    max_tokens: int | None = Field(default=None, ge=1)
    api_key: SecretStr | None = None
    vision: bool | None = None
    prices: dict[str, Price] = Field(default_factory=dict)
    cache_dir: Path | None = None
    constrained: ConstrainMode = "auto"

    def price_table(self) -> dict[str, Price]:
        """The default prices with this config's overrides applied."""
        return {**DEFAULT_PRICES, **self.prices}


def resolve_api_key(provider: str, explicit: str | None, settings: LLMSettings) -> str | None:
    """The key to use: an explicit argument, then ``settings.api_key``, then the env variable.

    Args:
        provider: "openai", "anthropic" or "openai-compatible".
        explicit: A key passed by the caller.
        settings: The settings (may hold a key).

    Returns:
        The key, or None when none is set anywhere.
    """
    if explicit:
        return explicit
    if settings.api_key is not None and settings.api_key.get_secret_value():
        return settings.api_key.get_secret_value()
    env = KEY_ENV_VARS.get(provider)
    value = os.environ.get(env, "").strip() if env else ""
    return value or None


def require_api_key(provider: str, explicit: str | None, settings: LLMSettings) -> str:
    """Like :func:`resolve_api_key`, but raise when no key is set.

    Raises:
        ModelAuthError: No key anywhere; the message names the environment variable.
    """
    key = resolve_api_key(provider, explicit, settings)
    if key is None:
        env = KEY_ENV_VARS[provider]
        raise ModelAuthError(
            f"no API key for {provider}: set the environment variable {env} "
            "(or llm_settings.api_key in the config)"
        )
    return key


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price row for ``model``: its exact name, or the name without a snapshot suffix.

    Args:
        model: The model name, with or without a ``provider:`` prefix.
        prices: The price table.

    Returns:
        The price, or None when the model is not priced.
    """
    name = model.split(":", 1)[1] if ":" in model else model
    name = name.rsplit("/", 1)[-1]  # "anthropic/claude-..." style router names
    if name in prices:
        return prices[name]
    # The snapshot suffix must end the name: "gpt-4o-2024-08-06", not "gpt-4o-2024-08-06-x".
    match = _SNAPSHOT.search(name)
    if match is not None and match.end() == len(name) and name[: match.start()] in prices:
        return prices[name[: match.start()]]
    return None


_warned_unpriced: set[str] = set()


def estimate_cost(model: str, usage: Usage, prices: Mapping[str, Price]) -> float:
    """Estimated cost of ``usage`` in USD (0 for a model that is not in ``prices``).

    Args:
        model: The model name (e.g. "gpt-4o" or "claude-sonnet-4-5").
        usage: Token counts; ``input_tokens`` excludes cached and cache-write tokens.
        prices: The price table, e.g. ``settings.price_table()``.

    Returns:
        The cost in USD.
    """
    price = price_for(model, prices)
    if price is None:
        if model not in _warned_unpriced:
            # Once per model: local models are legitimately free, so this is info only.
            _warned_unpriced.add(model)
            log.info("no price for model %r; its cost is reported as 0", model)
        return 0.0
    cached = (
        price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    )
    write = (
        price.input_per_mtok if price.cache_write_per_mtok is None else price.cache_write_per_mtok
    )
    return (
        usage.input_tokens * price.input_per_mtok
        + usage.cached_tokens * cached
        + usage.cache_write_tokens * write
        + usage.output_tokens * price.output_per_mtok
    ) / 1e6
