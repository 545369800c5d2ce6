"""The live session, the chat REPL and the web UI (FastAPI + a real headless Chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.sim import SceneSpec, TabletopWorld

pytestmark = pytest.mark.sim

SCENE = {
    "objects": [
        {"name": "red block", "color": "red", "kind": "block", "position": [0.45, 0.12]},
        {"name": "blue bowl", "color": "blue", "kind": "bowl", "position": [0.60, 0.10]},
        {"name": "green bowl", "color": "green", "kind": "bowl", "position": [0.58, -0.12]},
    ]
}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    from policywright._private.live import LiveSession

    world = TabletopWorld(SceneSpec.model_validate(SCENE))
    engine = Engine(world, EngineConfig(state_dir=tmp_path / "state", ask_on_failure=True))
    session = LiveSession(engine, session="web", frame_hz=100.0)
    yield session
    session.close()
    engine.close()
    world.close()


def _until(sub: Any, pred: Any, limit: int = 4000) -> list[dict[str, Any]]:
    seen = []
    for _ in range(limit):
        e = sub.get(timeout=0.1)
        if e is None:
            continue
        seen.append(e)
        if pred(e):
            return seen
    raise AssertionError(f"event never came; saw {[x.get('event') for x in seen][-20:]}")


def test_live_session_fans_out_and_takes_corrections_while_running(live: Any) -> None:
    a, b = live.subscribe(), live.subscribe()
    slow = live.subscribe()  # never read: must not block anything
    first = live.submit("put the red block in the blue bowl")
    assert first["as"] == "command"
    _until(a, lambda e: e.get("event") == "call_start")
    ack = live.submit("a bit more to the left")  # the task is running: a correction
    events = _until(a, lambda e: e.get("event") == "result")
    result = events[-1]
    assert result["status"] == "succeeded"
    assert ack["as"] == "correction"
    assert any(e.get("event") == "frames" and e["frames"] for e in events)
    got_b = _until(b, lambda e: e.get("event") == "result")
    assert got_b[-1]["thread_id"] == result["thread_id"]
    assert slow.queue.qsize() > 0
    # With no task running, a fine correction applies to the last task; gibberish is refused.
    live.submit("undo")
    undone = _until(a, lambda e: e.get("event") == "result")
    assert undone[-1]["corrections"][-1]["kind"] == "undo"
    bad = live.submit("   ")
    assert not bad["accepted"]


def test_chat_repl_through_a_pipe(tmp_path: Path) -> None:
    script = "put the red block in the blue bowl\na bit more to the left\n/threads\n"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "policywright",
            "chat",
            "--state-dir",
            str(tmp_path),
            "--objects",
            "red block, blue bowl, green bowl",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "▶ line 1" in out  # the line being executed is marked
    assert "correction 'a bit more to the left'" in out
    assert "succeeded" in out and "chat-1" in out


def test_web_socket_protocol(live: Any) -> None:
    from fastapi.testclient import TestClient

    from policywright._private.web.app import create_app

    client = TestClient(create_app(live))
    assert "policywright" in client.get("/").text
    assert client.get("/api/threads").json() == []
    with client.websocket_connect("/ws") as one, client.websocket_connect("/ws") as two:
        assert one.receive_json()["event"] == "hello"
        assert two.receive_json()["event"] == "hello"
        one.send_json({"type": "submit", "text": "put the red block in the green bowl"})
        seen: list[dict[str, Any]] = []
        while not (seen and seen[-1].get("event") == "result"):
            seen.append(two.receive_json())  # the second browser sees the first one's task
        assert seen[-1]["status"] == "succeeded"
        one.send_json({"type": "bogus"})
        while (msg := one.receive_json()).get("event") != "error":
            pass
        assert "unknown message" in msg["message"]
    threads = client.get("/api/threads").json()
    assert threads and threads[0]["status"] == "succeeded"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.enable_socket
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
def test_web_ui_in_headless_chromium(live: Any, tmp_path: Path) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from policywright._private.web.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(live), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("img[data-cam]", timeout=60000)  # a camera view loaded
            page.fill("#text", "put the red block in the blue bowl")
            page.click("#form button")
            page.wait_for_selector("#program li.active", timeout=120000)  # the executing line
            assert "put_first_on_second" in page.inner_text("#program")
            page.wait_for_function(
                "document.querySelector('#log').innerText.includes('succeeded')", timeout=120000
            )
            page.wait_for_selector("#threads li", timeout=30000)
            page.click("#stop")  # nothing runs: the stop is answered, nothing breaks
            page.wait_for_function("document.querySelector('#log').innerText.includes('you: STOP')")
            page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
            second = browser.new_page()  # a second browser on the same session
            second.goto(f"http://127.0.0.1:{port}/")
            second.wait_for_selector("#threads li", timeout=30000)
            page.close()  # one browser leaves mid-session
            second.fill("#text", "put the red block in the green bowl")
            second.click("#form button")
            second.wait_for_function(
                "document.querySelector('#log').innerText.split('■').length > 1", timeout=120000
            )
            browser.close()
        assert (tmp_path / "ui.png").stat().st_size > 10000
    finally:
        server.should_exit = True
        thread.join(timeout=10)
