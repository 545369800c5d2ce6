"""Scripted HTTP servers for the SDK backends (httpx2.MockTransport; nothing leaves the process)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]] | Exception


@dataclass
class Server:
    """Answers each HTTP request with the next scripted reply; the last one repeats."""

    replies: list[Reply]
    requests: list[httpx2.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        self.bodies.append(json.loads(request.content))
        item = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        if isinstance(item, Exception):
            raise item
        status, payload, *rest = item
        headers = rest[0] if rest else {}
        if isinstance(payload, str | bytes):
            return httpx2.Response(status, content=payload, headers=headers)
        return httpx2.Response(status, json=payload, headers=headers)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))


@dataclass
class Sleeps:
    """Records the waits instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def server() -> Callable[..., Server]:
    def make(*replies: Reply) -> Server:
        return Server(list(replies))

    return make


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def png_b64() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (255, 0, 0)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no real keys from the environment."""
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_COMPATIBLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
