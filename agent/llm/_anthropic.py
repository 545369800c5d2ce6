"""Anthropic's Messages API, with prompt caching of the stable prefix.

A :class:`TextPart` marked ``cache=True`` becomes a ``cache_control: {"type": "ephemeral"}``
breakpoint: everything up to it (the system prompt with the primitive API listing, say) is read
from Anthropic's prompt cache on the next call at a tenth of the input price. The SDK (2.12) has
no ``temperature`` parameter, so it travels in ``extra_body``.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from policywright.agent.llm._base import ChatReply, ChatRequest, ImagePart, TextPart, Usage
from policywright.agent.llm._constrain import PROGRAM_SCHEMA
from policywright.agent.llm._openai import image_placeholder
from policywright.agent.llm._retry import Target, call_with_retries, classify_sdk_error
from policywright.agent.llm._settings import LLMSettings, estimate_cost, price_for, require_api_key
from policywright.errors import MissingExtraError, ModelReplyError, ModelRequestError

__all__ = ["AnthropicChatModel"]

log = logging.getLogger(__name__)

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
#: The API accepts at most four cache breakpoints per request.
MAX_CACHE_BREAKPOINTS = 4
_EPHEMERAL = {"type": "ephemeral"}
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def _import_anthropic() -> ModuleType:
    try:
        return importlib.import_module("anthropic")
    except ImportError as exc:
        raise MissingExtraError("anthropic", "anthropic") from exc


class AnthropicChatModel:
    """A chat model behind Anthropic's Messages API.

    Attributes:
        id: The string id, e.g. "anthropic:claude-sonnet-4-6".
        vision: Whether images are sent (every Claude model accepts them).
        model: The provider's model name.
        base_url: The API base URL (without ``/v1``).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        settings: LLMSettings | None = None,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        id: str | None = None,
        vision: bool | None = None,
    ) -> None:
        """Set up the client (no request is made).

        Args:
            model: The model name, e.g. "claude-sonnet-4-6".
            base_url: The API base URL (default Anthropic's), without ``/v1``.
            api_key: An explicit key; else ``settings.api_key``, then ``ANTHROPIC_API_KEY``.
            settings: Timeouts, retries, prices.
            http_client: An ``httpx2.Client`` (the SDK accepts nothing else).
            sleep: The wait between retries (injectable for tests).
            id: The model id to report (default "anthropic:<model>").
            vision: Whether to send images (default: ``settings.vision``, else True).

        Raises:
            MissingExtraError: The ``anthropic`` package is not installed.
            ModelAuthError: No key is set.
        """
        sdk = _import_anthropic()
        self.settings = settings or LLMSettings()
        key = require_api_key("anthropic", api_key, self.settings)
        self.model = model
        self.base_url = (base_url or ANTHROPIC_BASE_URL).rstrip("/")
        self.id = id or f"anthropic:{model}"
        if vision is None:
            vision = self.settings.vision
        self.vision = True if vision is None else vision
        self._sdk = sdk
        self._sleep = sleep
        self._prices = self.settings.price_table()
        self._target = Target(self.id, model, self.base_url, self.settings.timeout_s)
        # A non-default timeout also turns off the SDK's "streaming is required" guard, which
        # would refuse max_tokens above ~21k before sending anything.
        self._client = sdk.Anthropic(
            api_key=key,
            base_url=self.base_url,
            timeout=sdk.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
            max_retries=0,  # our retry layer is the only one (see _retry.py)
            http_client=http_client,
        )

    def _blocks(self, parts: tuple[TextPart | ImagePart, ...]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for part in parts:
            if isinstance(part, TextPart):
                if part.text:  # the API rejects empty text blocks
                    block: dict[str, Any] = {"type": "text", "text": part.text}
                    if part.cache:
                        block["cache_control"] = dict(_EPHEMERAL)
                    blocks.append(block)
                elif part.cache and blocks:
                    blocks[-1]["cache_control"] = dict(_EPHEMERAL)
            elif self.vision:
                source = {"type": "base64", "media_type": "image/png", "data": part.png_b64}
                blocks.append({"type": "image", "source": source})
            else:
                blocks.append({"type": "text", "text": image_placeholder(part)})
        return blocks

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        system: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for message in request.messages:
            blocks = self._blocks(message.content)
            if message.role == "system":
                system.extend(blocks)
            elif blocks:
                messages.append({"role": message.role, "content": blocks})
        marked = [
            b for b in system + [b for m in messages for b in m["content"]] if "cache_control" in b
        ]
        for block in marked[:-MAX_CACHE_BREAKPOINTS]:
            # Keep the last four breakpoints: a later breakpoint covers the earlier prefix too.
            del block["cache_control"]
        max_tokens = request.max_tokens
        if self.settings.max_tokens is not None:
            max_tokens = min(max_tokens, self.settings.max_tokens)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": messages,
            "extra_body": {"temperature": request.temperature},
        }
        if system:
            params["system"] = system
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        if request.reply_format == "program" and self.settings.constrained != "off":
            # Structured output: the reply is a JSON object {"policy", "check"}.
            fmt = {"type": "json_schema", "schema": PROGRAM_SCHEMA}
            params["extra_body"]["output_config"] = {"format": fmt}
        return params

    def chat(self, request: ChatRequest) -> ChatReply:
        """Send one request (retrying transient failures) and return the reply.

        Raises:
            ModelAuthError: The key was rejected.
            ModelRequestError: Unknown model, or the request was refused.
            ModelUnavailableError: Unreachable, timed out or overloaded after the retries.
            ModelReplyError: The reply has no text.
        """
        params = self._params(request)
        if not params["messages"]:
            raise ModelRequestError(f"{self.id}: the request has no user message")
        start = time.perf_counter()
        message = call_with_retries(
            lambda: self._client.messages.create(**params),
            lambda exc: classify_sdk_error(exc, self._sdk, self._target),
            target=self._target,
            settings=self.settings,
            sleep=self._sleep,
        )
        latency = time.perf_counter() - start
        try:
            return self._reply(message, latency)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError) as exc:
            raise ModelReplyError(
                f"{self.id}: malformed reply ({type(exc).__name__}: {exc})"
            ) from exc

    def _reply(self, message: Any, latency: float) -> ChatReply:
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            raise ModelReplyError(f"{self.id}: the reply had no content")
        stop_reason = str(getattr(message, "stop_reason", None) or "end_turn")
        text = "".join(
            str(block.text) for block in content if getattr(block, "type", None) == "text"
        )
        if stop_reason == "refusal":
            raise ModelRequestError(f"{self.id}: the model refused to answer")
        finish = _FINISH.get(stop_reason, stop_reason)
        if not text and finish != "length":
            raise ModelReplyError(f"{self.id}: the reply had no text (stop_reason {stop_reason!r})")
        raw = getattr(message, "usage", None)
        usage = Usage(
            calls=1,
            # Anthropic's input_tokens already excludes cache reads and cache writes.
            input_tokens=int(getattr(raw, "input_tokens", 0) or 0),
            cached_tokens=int(getattr(raw, "cache_read_input_tokens", 0) or 0),
            cache_write_tokens=int(getattr(raw, "cache_creation_input_tokens", 0) or 0),
            output_tokens=int(getattr(raw, "output_tokens", 0) or 0),
            latency_s=latency,
        )
        usage.cost_usd = estimate_cost(self.model, usage, self._prices)
        usage.unpriced_calls = 0 if price_for(self.model, self._prices) is not None else 1
        return ChatReply(
            text=text,
            finish_reason=finish,
            model=str(getattr(message, "model", None) or self.model),
            usage=usage,
        )
