"""A scripted chat model for tests: canned replies in order, every request recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from policywright.agent.llm._base import ChatReply, ChatRequest, Usage
from policywright.errors import InternalError

__all__ = ["ScriptedChatModel"]

Responder = Callable[[ChatRequest], str | ChatReply]


@dataclass
class ScriptedChatModel:
    """Answers each request with the next scripted reply (a string, a ChatReply or a callable).

    Token counts are estimated as characters / 4 so that usage accounting has numbers to sum.
    Raises :class:`InternalError` when the script runs out (a test asked for more calls than
    it scripted).

    Attributes:
        replies: What to answer, in order.
        id: The model id reported.
        vision: Whether it claims to accept images.
        requests: Every request received, in order.
    """

    replies: list[str | ChatReply | Responder] = field(default_factory=list)
    id: str = "scripted:fake"
    vision: bool = False
    requests: list[ChatRequest] = field(default_factory=list)

    @classmethod
    def of(cls, *replies: str | ChatReply | Responder, vision: bool = False) -> ScriptedChatModel:
        """A fake answering ``replies`` in order."""
        return cls(replies=list(replies), vision=vision)

    def extend(self, replies: Iterable[str | ChatReply | Responder]) -> None:
        """Queue more replies."""
        self.replies.extend(replies)

    def chat(self, request: ChatRequest) -> ChatReply:
        """Return the next scripted reply."""
        self.requests.append(request)
        if not self.replies:
            raise InternalError(
                f"ScriptedChatModel ran out of replies after {len(self.requests) - 1} call(s)"
            )
        item = self.replies.pop(0)
        if callable(item) and not isinstance(item, ChatReply):
            item = item(request)
        if isinstance(item, ChatReply):
            return item
        prompt_chars = sum(len(m.plain_text()) for m in request.messages)
        return ChatReply(
            text=item,
            model=self.id,
            usage=Usage(calls=1, input_tokens=prompt_chars // 4, output_tokens=len(item) // 4),
        )
