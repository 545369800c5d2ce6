"""The web UI: FastAPI with one WebSocket per browser, over a :class:`LiveSession`.

No ``from __future__ import annotations`` here: FastAPI reads the route annotations at runtime.
"""

import asyncio
import contextlib
from importlib import resources
from typing import Any

from policywright.errors import MissingExtraError

__all__ = ["create_app", "require_web"]


def require_web() -> Any:
    """Import the [web] extra (uvicorn) or say how to install it."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError("web", exc.name or "fastapi") from exc
    return uvicorn


def _static(name: str) -> str:
    return resources.files("policywright._private.web").joinpath("static", name).read_text("utf-8")


def create_app(live: Any) -> Any:
    """The FastAPI app serving the page, the thread list and the event WebSocket."""
    require_web()
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect
    from fastapi.responses import HTMLResponse, PlainTextResponse

    app = FastAPI(title="policywright", docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return _static("index.html")

    @app.get("/app.js", response_class=PlainTextResponse)
    def script() -> PlainTextResponse:
        return PlainTextResponse(_static("app.js"), media_type="text/javascript")

    @app.get("/style.css", response_class=PlainTextResponse)
    def style() -> PlainTextResponse:
        return PlainTextResponse(_static("style.css"), media_type="text/css")

    @app.get("/api/threads")
    def threads() -> list[dict[str, Any]]:
        return list(live.threads())

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        sub = live.subscribe()
        loop = asyncio.get_running_loop()
        waiting = live.waiting
        await socket.send_json(
            {
                "event": "hello",
                "state": live.state,
                "threads": live.threads(),
                # A browser that joins while a question waits shows it, and how to answer.
                "question": waiting.question if waiting is not None else None,
            }
        )
        live.frame_now()

        async def pump() -> None:
            while True:
                event = await loop.run_in_executor(None, sub.get, 0.25)
                if event is not None:
                    await socket.send_json(event)

        sender = asyncio.create_task(pump())
        try:
            while True:
                msg = await socket.receive_json()
                kind = msg.get("type") if isinstance(msg, dict) else None
                if kind == "submit":
                    live.submit(str(msg.get("text", ""))[:2000])
                elif kind == "stop":
                    live.stop()
                elif kind == "new":
                    live.new_task()
                elif kind == "resume":
                    live.resume(str(msg.get("thread_id", ""))[:64])
                else:
                    await socket.send_json(
                        {"event": "error", "message": f"unknown message {kind!r}"}
                    )
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass  # the browser left; the task goes on and its record is in the checkpoint
        finally:
            live.unsubscribe(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    return app
