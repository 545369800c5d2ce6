"""An evaluation with the LLM planner: the real openai SDK in each worker, a loopback server.

The server speaks the OpenAI chat-completions wire format and answers every request with one
recorded reply (a program for an unseen instruction of cap-tabletop), so the whole path runs:
the worker's engine prompts, the SDK posts over HTTP, the reply is parsed, sandboxed, executed
and verified, and the episode records the tokens the server reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import policywright.evals as evals

REPLY = """Each block goes to its own corner.
```python
corners = ['top left corner', 'top right corner', 'bottom left corner', 'bottom right corner']
blocks = []
for name in get_obj_names():
    if name.endswith(' block'):
        blocks.append(name)
for i in range(len(blocks)):
    put_first_on_second(blocks[i], corners[i % 4])
```
```python check
corners = ['top left corner', 'top right corner', 'bottom left corner', 'bottom right corner']
blocks = []
for name in get_obj_names():
    if name.endswith(' block'):
        blocks.append(name)
ok = len(blocks) > 0
for i in range(len(blocks)):
    if not is_on(blocks[i], corners[i % 4]):
        ok = False
verdict(ok, str(len(blocks)) + ' blocks, each checked against its corner')
```"""
USAGE = {
    "prompt_tokens": 1500,
    "completion_tokens": 120,
    "total_tokens": 1620,
    "prompt_tokens_details": {"cached_tokens": 1024},
}


class _Handler(BaseHTTPRequestHandler):
    # One server per test; the fixture resets both.
    requests: list[dict[str, Any]] = []  # noqa: RUF012
    reply = REPLY

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        payload = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_790_000_000,
            "model": body.get("model", "?"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": type(self).reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[str]:
    _Handler.requests = []
    _Handler.reply = REPLY
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.sim
@pytest.mark.enable_socket
def test_llm_planner_eval_records_tokens_and_succeeds(chat_server: str, tmp_path: Path) -> None:
    options = evals.RunOptions(
        suites=["cap-tabletop"],
        splits=["UA-UI"],
        tasks=["different_corners"],
        trials=1,
        llm=f"openai-compatible:{chat_server}#fake-coder",
    )
    summary = evals.run_eval(options, tmp_path, workers=1, run_id="llm")
    log = Path(summary.run_dir, "workers.log").read_text()
    assert summary.ran == 1 and summary.infra_errors == 0, log
    (result,) = evals.load_run(summary.run_dir).results
    assert result["success"], (result["reason"], result["check_reason"])
    assert result["command"] == "put all the blocks in different corners"
    # The tokens are the server's usage figures, summed over the requests the engine made;
    # "in" counts fresh input only (OpenAI's prompt_tokens include the cached ones).
    calls = len(_Handler.requests)
    assert calls >= 1
    assert result["tokens_in"] == calls * (USAGE["prompt_tokens"] - 1024)
    assert result["tokens_cached"] == calls * 1024
    assert result["tokens_out"] == calls * USAGE["completion_tokens"]
    first = _Handler.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["body"]["model"] == "fake-coder"
    # UA-UI hides this family from the planner's examples: the prompt must not hand it over.
    prompt = json.dumps(first["body"]["messages"])
    assert "different corners" in prompt  # the command itself
    assert prompt.count("different corners") == 1, "the hidden family leaked into the prompt"


@pytest.mark.sim
@pytest.mark.enable_socket
def test_an_unusable_reply_is_a_bad_reply_failure(chat_server: str, tmp_path: Path) -> None:
    _Handler.reply = "I would move each block to a corner, one after the other."
    options = evals.RunOptions(
        suites=["cap-tabletop"],
        splits=["UA-UI"],
        tasks=["different_corners"],
        trials=1,
        llm=f"openai-compatible:{chat_server}#fake-coder",
    )
    summary = evals.run_eval(options, tmp_path, workers=1, run_id="bad")
    (result,) = evals.load_run(summary.run_dir).results
    assert not result["success"]
    assert result["failure_category"] == "bad_reply", (result["error"], result["reason"])
    assert "no code block" in result["reason"]
    # The attempt budget (3) plus the rehearsal budget (6): an unusable reply never moved the
    # robot, so it gives its attempt back; each failure went back as feedback.
    assert len(_Handler.requests) == 3 + 6
