"""JSON-lines framing over a stream socket, shared by the parent and the child.

Never pickle: the parent must not run code chosen by the child, and ``json.loads`` only ever
builds dicts, lists, strings, numbers, booleans and None.  Every line is bounded in size so
that a misbehaving child cannot make the parent buffer without limit.
"""

from __future__ import annotations

import json
import math
import socket
from typing import Any

__all__ = ["ChannelError", "LineReader", "encode", "to_jsonable"]

# Nesting deeper than this is refused when converting values (a self-referencing list would
# otherwise recurse forever).
_MAX_DEPTH = 64


class ChannelError(Exception):
    """The peer sent something malformed or oversized, or closed the channel."""


def to_jsonable(value: Any, *, _depth: int = 0) -> Any:
    """Convert a value to plain JSON types (numpy arrays and scalars, tuples -> lists).

    Args:
        value: The value to convert.

    Returns:
        The value built from dict, list, str, int, float, bool and None only.

    Raises:
        TypeError: The value (or a part of it) cannot be sent as JSON.
    """
    if _depth > _MAX_DEPTH:
        raise TypeError("the value is nested too deeply to be sent")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v, _depth=_depth + 1) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"dict keys must be strings to be sent, not {type(k).__name__}")
            out[k] = to_jsonable(v, _depth=_depth + 1)
        return out
    # numpy is imported lazily: the parent need not load it to speak the protocol.
    tolist = getattr(type(value), "tolist", None)
    module = type(value).__module__
    if tolist is not None and module == "numpy":
        return to_jsonable(value.tolist(), _depth=_depth + 1)
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent")


def encode(message: dict[str, Any]) -> bytes:
    """Encode one message as a JSON line (NaN and infinities are kept, as JSON extensions)."""
    return json.dumps(message, allow_nan=True, separators=(",", ":")).encode("utf-8") + b"\n"


def _parse_constant(name: str) -> float:
    # json.loads calls this for NaN, Infinity and -Infinity: keep them so that the host refuses
    # them with a precise message rather than the channel with a vague one.
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


class LineReader:
    """Reads bounded JSON lines from a blocking or timed socket."""

    def __init__(self, sock: socket.socket, max_line_bytes: int) -> None:
        self._sock = sock
        self._max = max_line_bytes
        self._buf = bytearray()
        self.eof = False

    def pending(self) -> bool:
        """True when a complete line is already buffered."""
        return b"\n" in self._buf

    def fill(self) -> None:
        """Read once from the socket (it must be readable, or this blocks).

        Raises:
            ChannelError: The buffered partial line exceeds the size limit.
        """
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            self.eof = True
            return
        self._buf += chunk
        if b"\n" not in self._buf and len(self._buf) > self._max:
            raise ChannelError(f"a message exceeds {self._max} bytes")

    def pop(self) -> dict[str, Any] | None:
        """Return the next complete message, or None when no full line is buffered.

        Raises:
            ChannelError: The line is oversized, not JSON, or not a JSON object.
        """
        end = self._buf.find(b"\n")
        if end < 0:
            return None
        if end > self._max:
            raise ChannelError(f"a message exceeds {self._max} bytes")
        raw = bytes(self._buf[:end])
        del self._buf[: end + 1]
        try:
            message = json.loads(raw.decode("utf-8"), parse_constant=_parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ChannelError(f"malformed message: {exc}") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ChannelError("a message must be a JSON object with a string 'type'")
        return message

    def read(self) -> dict[str, Any]:
        """Block until a whole message arrives (used by the child).

        Raises:
            ChannelError: The peer closed the channel or sent something malformed.
        """
        while True:
            message = self.pop()
            if message is not None:
                return message
            self.fill()
            if self.eof:
                raise ChannelError("the channel was closed")
