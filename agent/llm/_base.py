"""The ChatModel contract: text and images in, text and usage out.

Every backend (OpenAI, Anthropic, any OpenAI-compatible server, local transformers, the
scripted fake) implements :class:`ChatModel`. Planners and the VLM verifier only ever see this
protocol, so a backend can be swapped by a string id (``"openai:gpt-4o"``).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatReply",
    "ChatRequest",
    "ImagePart",
    "TextPart",
    "Usage",
]


class TextPart(BaseModel):
    """A piece of text in a message.

    Attributes:
        text: The text.
        cache: Mark the end of a stable prefix (the backend may cache everything up to here;
            Anthropic turns it into a ``cache_control`` breakpoint, others ignore it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text"] = "text"
    text: str
    cache: bool = False


class ImagePart(BaseModel):
    """A PNG image in a message, base64-encoded (the form both providers accept).

    Attributes:
        png_b64: The PNG file, base64 (no ``data:`` prefix).
        label: What the image is ("top camera, 320x240"), for logs and text-only fallbacks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["image"] = "image"
    png_b64: str
    label: str = ""


class ChatMessage(BaseModel):
    """One message of a conversation.

    Attributes:
        role: "system", "user" or "assistant".
        content: Text and image parts, in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: tuple[TextPart | ImagePart, ...]

    @classmethod
    def text(cls, role: Literal["system", "user", "assistant"], text: str) -> ChatMessage:
        """A message holding one text part."""
        return cls(role=role, content=(TextPart(text=text),))

    def plain_text(self) -> str:
        """The text parts joined (images are left out)."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class ChatRequest(BaseModel):
    """What is sent to a model (also the key of the response cache).

    Attributes:
        messages: The conversation; a leading system message is the system prompt.
        max_tokens: Upper bound on the reply's length.
        temperature: Sampling temperature (0 = greedy where the backend supports it).
        stop: Stop sequences.
        purpose: Why the call is made ("plan", "function", "repair", "verify"), for accounting.
        reply_format: "program": the reply must be a policy and a check program; a backend
            whose server can constrain decoding does so (``agent/llm/_constrain.py``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: tuple[ChatMessage, ...]
    max_tokens: int = Field(default=1024, ge=1, le=32768)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: tuple[str, ...] = ()
    purpose: str = "plan"
    reply_format: Literal["text", "program"] = "text"


class Usage(BaseModel):
    """Token usage, latency and cost of one call (or a sum of calls).

    Attributes:
        calls: Number of model calls summed here (cache hits count as calls with no tokens).
        input_tokens: Prompt tokens billed as fresh input (not counting cached ones).
        cached_tokens: Prompt tokens read from the provider's prompt cache.
        cache_write_tokens: Prompt tokens written to the provider's prompt cache.
        output_tokens: Completion tokens.
        latency_s: Wall-clock seconds spent waiting for the model.
        cost_usd: Estimated cost from the price table (0 when the model is not priced).
        cache_hits: Calls answered from the on-disk response cache.
        unpriced_calls: Calls of a model missing from the price table (their cost counts 0).
    """

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cache_hits: int = 0
    unpriced_calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            latency_s=self.latency_s + other.latency_s,
            cost_usd=self.cost_usd + other.cost_usd,
            cache_hits=self.cache_hits + other.cache_hits,
            unpriced_calls=self.unpriced_calls + other.unpriced_calls,
        )


class ChatReply(BaseModel):
    """A model's answer.

    Attributes:
        text: The reply text (may be empty).
        finish_reason: "stop", "length" (truncated by max_tokens) or the provider's word.
        model: The model that answered, as the provider names it.
        usage: Tokens, latency and cost of this call.
        cached: True when the reply came from the on-disk response cache.
    """

    model_config = ConfigDict(extra="forbid")

    text: str
    finish_reason: str = "stop"
    model: str = ""
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False

    @property
    def truncated(self) -> bool:
        """Whether the reply was cut off by the token limit."""
        return self.finish_reason in ("length", "max_tokens")


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: a request in, a reply out.

    Implementations raise :class:`~policywright.errors.ModelError` subclasses for failures
    (missing key, unknown model, refused request, rate limit after retries, timeout,
    unreachable server), never a provider SDK's own exception.

    Attributes:
        id: The string id it was made from, e.g. ``"openai:gpt-4o"``.
        vision: Whether it accepts images.
    """

    id: str
    vision: bool

    def chat(self, request: ChatRequest) -> ChatReply:
        """Send one request and return the reply."""
        ...
