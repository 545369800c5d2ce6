"""policywright.agent.llm: chat-model backends behind one protocol, usage and caching.

``make_chat_model("openai:gpt-4o")`` (or ``anthropic:<model>``,
``openai-compatible:<base_url>#<model>``, ``hf:<path>``) builds a :class:`ChatModel`. The SDKs
(extras ``[openai]``, ``[anthropic]``, ``[local]``) are imported only when a backend is built.
"""

from policywright.agent.llm._anthropic import AnthropicChatModel
from policywright.agent.llm._base import (
    ChatMessage,
    ChatModel,
    ChatReply,
    ChatRequest,
    ImagePart,
    TextPart,
    Usage,
)
from policywright.agent.llm._cache import CachedChatModel
from policywright.agent.llm._factory import is_vision_model, make_chat_model, parse_model_spec
from policywright.agent.llm._fake import ScriptedChatModel
from policywright.agent.llm._hf import HFChatModel
from policywright.agent.llm._openai import OpenAIChatModel
from policywright.agent.llm._settings import DEFAULT_PRICES, LLMSettings, Price, estimate_cost

__all__ = [
    "DEFAULT_PRICES",
    "AnthropicChatModel",
    "CachedChatModel",
    "ChatMessage",
    "ChatModel",
    "ChatReply",
    "ChatRequest",
    "HFChatModel",
    "ImagePart",
    "LLMSettings",
    "OpenAIChatModel",
    "Price",
    "ScriptedChatModel",
    "TextPart",
    "Usage",
    "estimate_cost",
    "is_vision_model",
    "make_chat_model",
    "parse_model_spec",
]
