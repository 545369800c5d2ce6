"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp) through chat.completions.

chat.completions is the lowest common denominator: every local server implements it, while
``/v1/responses`` is not. Images go as ``image_url`` data URLs.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from policywright.agent.llm._base import ChatReply, ChatRequest, ImagePart, TextPart, Usage
from policywright.agent.llm._constrain import PROGRAM_GRAMMAR, PROGRAM_SCHEMA, resolved_form
from policywright.agent.llm._retry import Target, call_with_retries, classify_sdk_error
from policywright.agent.llm._settings import LLMSettings, estimate_cost, price_for, require_api_key
from policywright.agent.llm._settings import resolve_api_key as _resolve_key
from policywright.errors import MissingExtraError, ModelReplyError, ModelRequestError

__all__ = ["OpenAIChatModel", "openai_is_vision"]

log = logging.getLogger(__name__)


def _constrained(params: dict[str, Any]) -> bool:
    extra = params.get("extra_body") or {}
    return "response_format" in params or any(
        k in extra for k in ("grammar", "response_format", "structured_outputs", "format")
    )


OPENAI_BASE_URL = "https://api.openai.com/v1"
#: Sent to servers that need no key (the SDK refuses to start without one).
DUMMY_KEY = "not-needed"


def _import_openai() -> ModuleType:
    try:
        return importlib.import_module("openai")
    except ImportError as exc:
        raise MissingExtraError("openai", "openai") from exc


def openai_is_vision(model: str) -> bool:
    """Whether an OpenAI model name accepts images (gpt-4o*, gpt-4.1*, gpt-5*, o-series)."""
    name = model.lower()
    return name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "chatgpt-4o")) or (
        len(name) > 1 and name[0] == "o" and name[1].isdigit()
    )


def _is_reasoning(model: str) -> bool:
    """o-series and gpt-5 models reject ``temperature``/``stop`` other than the defaults."""
    name = model.lower()
    return name.startswith("gpt-5") or (len(name) > 1 and name[0] == "o" and name[1].isdigit())


def image_placeholder(part: ImagePart) -> str:
    """What a text-only model sees instead of an image."""
    return f"[image omitted: {part.label or 'no description'}]"


class OpenAIChatModel:
    """A chat model behind the OpenAI chat.completions API.

    Attributes:
        id: The string id, e.g. "openai:gpt-4o" or "openai-compatible:http://...#qwen".
        vision: Whether images are sent (else they become a text placeholder).
        model: The provider's model name.
        base_url: The API base URL.
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
            model: The model name, e.g. "gpt-4o" or the name a local server serves.
            base_url: None for OpenAI itself; else an OpenAI-compatible server, e.g.
                "http://127.0.0.1:8080/v1". A key is then optional.
            api_key: An explicit key; else ``settings.api_key``, then ``OPENAI_API_KEY``
                (OpenAI) or ``OPENAI_COMPATIBLE_API_KEY`` (other servers).
            settings: Timeouts, retries, prices.
            http_client: An ``httpx2.Client`` (or ``httpx.Client``) to send requests through.
            sleep: The wait between retries (injectable for tests).
            id: The model id to report (default built from the arguments).
            vision: Whether the model accepts images (default: ``settings.vision``, else guessed
                from the name for OpenAI, False for other servers).

        Raises:
            MissingExtraError: The ``openai`` package is not installed.
            ModelAuthError: OpenAI itself and no key is set.
        """
        sdk = _import_openai()
        self.settings = settings or LLMSettings()
        self.model = model
        self._official = base_url is None
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        if self._official:
            key = require_api_key("openai", api_key, self.settings)
            self.id = id or f"openai:{model}"
        else:
            key = _resolve_key("openai-compatible", api_key, self.settings) or DUMMY_KEY
            self.id = id or f"openai-compatible:{self.base_url}#{model}"
        if vision is None:
            vision = self.settings.vision
        if vision is None:
            vision = openai_is_vision(model) if self._official else False
        self.vision = vision
        self._sdk = sdk
        self._sleep = sleep
        self._constrain = self.settings.constrained
        self._prices = self.settings.price_table()
        self._target = Target(self.id, model, self.base_url, self.settings.timeout_s)
        self._client = sdk.OpenAI(
            api_key=key,
            base_url=self.base_url,
            timeout=sdk.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
            max_retries=0,  # our retry layer is the only one (see _retry.py)
            http_client=http_client,
        )

    def _messages(self, request: ChatRequest) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in request.messages:
            has_image = self.vision and any(isinstance(p, ImagePart) for p in message.content)
            if not has_image:
                # A plain string: some local servers reject content arrays (esp. for "system").
                text = "".join(
                    p.text if isinstance(p, TextPart) else f"\n{image_placeholder(p)}\n"
                    for p in message.content
                )
                out.append({"role": message.role, "content": text})
                continue
            parts: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    if part.text:
                        parts.append({"type": "text", "text": part.text})
                else:
                    url = f"data:image/png;base64,{part.png_b64}"
                    parts.append({"type": "image_url", "image_url": {"url": url}})
            out.append({"role": message.role, "content": parts})
        return out

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        max_tokens = request.max_tokens
        if self.settings.max_tokens is not None:
            max_tokens = min(max_tokens, self.settings.max_tokens)
        params: dict[str, Any] = {"model": self.model, "messages": self._messages(request)}
        reasoning = self._official and _is_reasoning(self.model)
        if self._official:
            # OpenAI deprecated max_tokens; reasoning models reject it outright.
            params["max_completion_tokens"] = max_tokens
        else:
            # Local servers (llama.cpp, Ollama, older vLLM) only know max_tokens.
            params["max_tokens"] = max_tokens
        if not reasoning:
            params["temperature"] = request.temperature
            if request.stop:
                params["stop"] = list(request.stop)
        if request.reply_format == "program" and self._constrain != "off":
            params.update(self._constraint())
        return params

    def _constraint(self) -> dict[str, Any]:
        """The request fields that constrain a planner reply to its two programs."""
        if self._official:
            schema = {"name": "program", "schema": PROGRAM_SCHEMA, "strict": True}
            return {"response_format": {"type": "json_schema", "json_schema": schema}}
        mode = resolved_form(self._constrain)
        if mode == "grammar":
            # llama.cpp's server: a per-request GBNF grammar (not typed by the SDK).
            return {"extra_body": {"grammar": PROGRAM_GRAMMAR}}
        if mode == "json":
            fmt = {"type": "json_object", "schema": PROGRAM_SCHEMA}
            return {"extra_body": {"response_format": fmt}}
        if mode == "vllm":
            return {"extra_body": {"structured_outputs": {"grammar": PROGRAM_GRAMMAR}}}
        return {"extra_body": {"format": PROGRAM_SCHEMA}}  # ollama

    def chat(self, request: ChatRequest) -> ChatReply:
        """Send one request (retrying transient failures) and return the reply.

        Raises:
            ModelAuthError: The key was rejected.
            ModelRequestError: Unknown model, or the request was refused.
            ModelUnavailableError: Unreachable, timed out or rate limited after the retries.
            ModelReplyError: The reply has no choices or no text.
        """
        params = self._params(request)
        start = time.perf_counter()
        try:
            completion = self._create(params)
        except ModelRequestError as exc:
            if not _constrained(params):
                raise
            # The server refused the constraint (an unknown field, an unsupported grammar):
            # ask again without it, and from now on never send it to this server.
            log.warning(
                "%s refused constrained decoding (%s); replies are now asked for by the prompt "
                "alone (set llm_settings.constrained to choose another form)",
                self.id,
                exc,
            )
            self._constrain = "off"
            params = self._params(request)
            completion = self._create(params)
        latency = time.perf_counter() - start
        try:
            return self._reply(completion, latency)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError) as exc:
            raise ModelReplyError(
                f"{self.id}: malformed reply ({type(exc).__name__}: {exc})"
            ) from exc

    def _create(self, params: dict[str, Any]) -> Any:
        return call_with_retries(
            lambda: self._client.chat.completions.create(**params),
            lambda exc: classify_sdk_error(exc, self._sdk, self._target),
            target=self._target,
            settings=self.settings,
            sleep=self._sleep,
        )

    def _reply(self, completion: Any, latency: float) -> ChatReply:
        # The SDK does not validate payloads: a bogus body gives choices=None, a non-JSON body
        # a plain string. Check every level instead of trusting the types.
        choices = getattr(completion, "choices", None)
        if not choices:
            raise ModelReplyError(f"{self.id}: the reply had no choices")
        choice = choices[0]
        message = choice.message
        finish = str(choice.finish_reason or "stop")
        refusal = getattr(message, "refusal", None) if message is not None else None
        text = message.content if message is not None else None
        if refusal and not text:
            raise ModelRequestError(f"{self.id}: the model refused: {refusal}")
        if not isinstance(text, str) and text is not None:
            raise ModelReplyError(f"{self.id}: the reply's content is not text")
        if not text and finish != "length":
            if finish == "content_filter":
                raise ModelRequestError(f"{self.id}: the reply was blocked by a content filter")
            raise ModelReplyError(f"{self.id}: the reply had no text (finish_reason {finish!r})")
        usage = self._usage(getattr(completion, "usage", None), latency)
        return ChatReply(
            text=text or "",
            finish_reason=finish,
            model=str(getattr(completion, "model", None) or self.model),
            usage=usage,
        )

    def _usage(self, raw: Any, latency: float) -> Usage:
        if raw is None:
            # Some local servers leave usage out; count the call, not the tokens.
            log.debug("%s: the reply carried no usage", self.id)
            prompt, cached, output = 0, 0, 0
        else:
            prompt = int(getattr(raw, "prompt_tokens", 0) or 0)
            output = int(getattr(raw, "completion_tokens", 0) or 0)
            details = getattr(raw, "prompt_tokens_details", None)
            cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
            cached = min(cached, prompt)
        usage = Usage(
            calls=1,
            input_tokens=prompt - cached,  # Usage.input_tokens excludes cached tokens
            cached_tokens=cached,
            output_tokens=output,
            latency_s=latency,
        )
        priced = price_for(self.model, self._prices) is not None
        usage.cost_usd = estimate_cost(self.model, usage, self._prices)
        usage.unpriced_calls = 0 if priced else 1
        return usage
