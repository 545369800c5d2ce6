"""An on-disk response cache in front of any chat model (for replays and cheap reruns).

Entries are JSON files (never pickle) named by the sha256 of the model id and the request's
canonical JSON; they are written to a temporary file and renamed, so a crash never leaves half
an entry under the real name. An unreadable entry is a miss and gets overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policywright.agent.llm._base import ChatModel, ChatReply, ChatRequest, Usage

__all__ = ["CachedChatModel", "cache_key"]

log = logging.getLogger(__name__)

#: Bumped when the entry layout or the key's inputs change (old entries then simply miss).
CACHE_FORMAT = 1


def cache_key(model_id: str, request: ChatRequest, variant: str = "") -> str:
    """The sha256 hex digest naming the cache entry of ``request`` sent to ``model_id``.

    ``variant`` names backend settings that change the reply for the same request (the
    constrained-decoding form); empty keeps the keys of entries written before it existed.
    """
    key: dict[str, object] = {
        "format": CACHE_FORMAT,
        "model": model_id,
        "request": request.model_dump(mode="json"),
    }
    if variant:
        key["variant"] = variant
    canonical = json.dumps(
        key,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CachedChatModel:
    """Answers a request seen before from disk; otherwise asks ``inner`` and stores the reply.

    A hit returns the stored reply with ``cached=True`` and a usage of one call, one cache hit,
    no tokens and no cost.

    Attributes:
        inner: The model asked on a miss.
        cache_dir: The folder holding the entries.
        id: The inner model's id.
        vision: The inner model's vision flag.
        hits: Requests answered from disk by this instance.
        misses: Requests passed to the inner model by this instance.
    """

    def __init__(self, inner: ChatModel, cache_dir: Path | str, variant: str = "") -> None:
        """Wrap ``inner``; ``cache_dir`` is created on the first write.

        ``variant``: see :func:`cache_key`.
        """
        self.inner = inner
        self.variant = variant
        self.cache_dir = Path(cache_dir)
        self.id = inner.id
        self.vision = inner.vision
        self.hits = 0
        self.misses = 0

    def path_for(self, request: ChatRequest) -> Path:
        """Where the entry of ``request`` lives (two-level fan-out keeps folders small)."""
        key = cache_key(self.id, request, self.variant)
        return self.cache_dir / key[:2] / f"{key}.json"

    def _load(self, path: Path) -> ChatReply | None:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("response cache: cannot read %s (%s); treating it as a miss", path, exc)
            return None
        try:
            entry: Any = json.loads(raw)
            if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT:
                raise ValueError("not a cache entry of this format")
            if entry.get("model") != self.id:
                raise ValueError(f"entry is for model {entry.get('model')!r}")
            return ChatReply.model_validate(entry["reply"])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("response cache: corrupt entry %s (%s); it will be overwritten", path, exc)
            return None

    def _store(self, path: Path, reply: ChatReply) -> None:
        entry = {"format": CACHE_FORMAT, "model": self.id, "reply": reply.model_dump(mode="json")}
        data = json.dumps(entry, ensure_ascii=False, indent=1)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # A cache that cannot write must not fail the call that already succeeded.
            log.warning("response cache: cannot write %s (%s)", path, exc)

    def chat(self, request: ChatRequest) -> ChatReply:
        """The stored reply for ``request``, or the inner model's (which is then stored)."""
        path = self.path_for(request)
        stored = self._load(path)
        if stored is not None:
            self.hits += 1
            return stored.model_copy(update={"cached": True, "usage": Usage(calls=1, cache_hits=1)})
        self.misses += 1
        reply = self.inner.chat(request)
        self._store(path, reply.model_copy(update={"cached": False}))
        return reply
