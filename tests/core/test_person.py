"""A scripted person at the chat (through a pty) and at the web UI (Playwright, Chromium).

The world runs at 1x real time, as `chat` and `serve` run it, so text typed once the arm moves
arrives during the motion. The assertions are on what the person sees (events, the sim clock,
the final pose), never on wall time.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sim

OBJECTS = "red block, yellow block, blue bowl, green bowl"


def _pexpect() -> Any:
    return pytest.importorskip("pexpect")


def test_chat_as_a_person_in_a_terminal(tmp_path: Path) -> None:
    pexpect = _pexpect()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "policywright", "chat", "--state-dir", str(tmp_path / "s"), "--objects", OBJECTS],
        cwd=str(tmp_path),  # not the source tree: `python -m` would import the unbuilt folder
        encoding="utf-8",
        timeout=180,
        dimensions=(60, 400),
        # Wide enough that no line of the chat wraps (rich wraps at the terminal's width).
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "400"},
    )
    log: list[str] = []
    child.logfile_read = _Tee(log)
    try:
        child.expect("at 1x real time")
        child.sendline("/frob")
        child.expect("unknown command '/frob'")
        # A command, and a correction typed while the arm moves.
        child.sendline("put the red block in the blue bowl")
        child.expect(r"▶ line 1")
        child.sendline("a bit to the left")
        child.expect("nudge: applied at the next primitive boundary")
        child.expect(r"correction 'a bit to the left' \(nudge\): applied: re-did "
                     r"put_first_on_second\(\) \(line 1, action 1 of 1\) 2.0 cm left")  # fmt: skip
        child.expect(r"■ succeeded.*\(chat-1\)")
        # Stop while it moves; the question says how to answer and how to start something new.
        child.sendline("put the yellow block in the green bowl")
        child.expect(r"▶ line 1")
        child.sendline("stop")
        child.expect(r"■ waiting.*\(chat-2\)")
        child.expect(r"answer: type your answer \(continue, abort\) · new task: /new COMMAND")
        child.sendline("continue")  # the question answered
        child.expect(r"■ succeeded.*\(chat-2\)")
        # Two more commands: the ids advance after the stopped-and-continued task.
        child.sendline("put the yellow block in the blue bowl")
        child.expect(r"▶ line 1")
        child.sendline("stop")
        child.expect(r"■ waiting.*\(chat-3\)")
        child.sendline("put the red block in the green bowl")  # a new command while it waits
        child.expect("that reads as a new command: the question of chat-3 is put aside")
        child.expect(r"■ succeeded.*\(chat-4\)")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    text = "".join(log)
    assert "error: thread" not in text and "already exists" not in text
    # One world throughout: its sim clock only moves forward from task to task.
    clock = [float(x) for x in re.findall(r"sim clock (\d+\.\d)", text)]
    assert clock == sorted(clock)


class _Tee:
    def __init__(self, out: list[str]) -> None:
        self.out = out

    def write(self, s: str) -> None:
        self.out.append(s)

    def flush(self) -> None:
        pass


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def paced(tmp_path: Path) -> Iterator[Any]:
    from policywright._private.live import LiveSession
    from policywright.config import EngineConfig
    from policywright.engine import Engine, make_world

    cfg = EngineConfig(state_dir=tmp_path / "state", ask_on_failure=True)
    world = make_world("tabletop", "", objects=[n.strip() for n in OBJECTS.split(",")], config=cfg)
    engine = Engine(world, cfg)
    live = LiveSession(engine, session="web", frame_hz=10, speed=1.0)
    yield live
    live.close()
    engine.close()
    world.close()


def _log(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#log li", "els => els.map(e => e.textContent)"))


def _moving(page: Any) -> None:
    """Wait until a call starts after everything logged so far (the arm is moving)."""
    seen = len(_log(page))
    page.wait_for_function(
        "n => [...document.querySelectorAll('#log li')].slice(n)"
        ".some(li => li.textContent.startsWith('▶ line'))",
        arg=seen,
        timeout=120000,
    )


def _wait_log(page: Any, needle: str, timeout: float = 120000) -> None:
    page.wait_for_function(
        "n => [...document.querySelectorAll('#log li')].some(li => li.textContent.includes(n))",
        arg=needle,
        timeout=timeout,
    )


@pytest.mark.enable_socket
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
def test_web_ui_as_a_person_in_chromium(paced: Any, tmp_path: Path) -> None:
    import socket

    import uvicorn
    from playwright.sync_api import sync_playwright

    from policywright._private.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(paced), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("img[data-cam]", timeout=60000)

            def say(text: str) -> None:
                page.fill("#text", text)
                page.click("#form button")

            # A command; a correction typed while the arm moves, at 1x.
            say("put the red block in the blue bowl")
            _moving(page)
            say("a bit to the left")
            _wait_log(page, "applied: re-did put_first_on_second() (line 1, action 1 of 1)")
            _wait_log(page, "■ succeeded (web-1)")
            # STOP while it moves: the question shows how to answer and the new-task action.
            say("put the yellow block in the green bowl")
            _moving(page)
            page.click("#stop")
            page.wait_for_selector("#question:not([hidden])", timeout=60000)
            _wait_log(page, "stopped during put_first_on_second()")  # halted mid-motion
            assert "continue, abort" in page.inner_text("#question")
            assert page.is_visible("#newtask")
            page.screenshot(path=str(tmp_path / "question.png"), full_page=True)
            say("continue")  # the question answered
            _wait_log(page, "■ succeeded (web-2)")
            # A new command while a question waits never becomes its answer.
            say("put the yellow block in the blue bowl")
            _moving(page)
            page.click("#stop")
            page.wait_for_selector("#question:not([hidden])", timeout=60000)
            say("put the red block in the green bowl")
            _wait_log(page, "the question of web-3 is put aside")
            _wait_log(page, "■ succeeded (web-4)")
            # STOP while a question waits ends the wait cleanly; "new task" does too.
            page.click("#threads li[data-thread='web-3']")
            page.wait_for_selector("#question:not([hidden])", timeout=60000)
            page.click("#stop")
            _wait_log(page, "nothing is moving; the question of web-3 is put aside")
            page.wait_for_selector("#question", state="hidden", timeout=30000)
            page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
            lines = _log(page)
            browser.close()
        # The log reads oldest first.
        first = next(i for i, t in enumerate(lines) if "■ succeeded (web-1)" in t)
        last = next(i for i, t in enumerate(lines) if "■ succeeded (web-4)" in t)
        assert first < last
        assert not any("answering web-3" in t for t in lines)
        statuses = {t["thread_id"]: t["status"] for t in paced.threads()}
        assert statuses == {
            "web-1": "succeeded",
            "web-2": "succeeded",
            "web-3": "waiting",
            "web-4": "succeeded",
        }
        assert (tmp_path / "ui.png").stat().st_size > 10000
    finally:
        server.should_exit = True
        thread.join(timeout=10)
