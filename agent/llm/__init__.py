"""policywright.agent.llm: chat-model backends behind one protocol, usage and caching."""

from policywright.agent.llm._base import (
    ChatMessage,
    ChatModel,
    ChatReply,
    ChatRequest,
    ImagePart,
    TextPart,
    Usage,
)
from policywright.agent.llm._fake import ScriptedChatModel

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatReply",
    "ChatRequest",
    "ImagePart",
    "ScriptedChatModel",
    "TextPart",
    "Usage",
]
