"""Shared fixtures. Sockets are blocked for the whole session (pytest-socket, see pyproject)."""

from __future__ import annotations

import os

# Strict checkpoint deserialisation, as the engine recommends; read at langgraph import time.
os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")
