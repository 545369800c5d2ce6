"""VLM and combined verification, usage accounting, LLM-reply repair and sessions, end to end."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from policywright.agent.llm import ChatReply, ChatRequest, ImagePart, ScriptedChatModel, Usage
from policywright.agent.verify import parse_vlm_verdict
from policywright.config import EngineConfig
from policywright.engine import Engine
from policywright.errors import ConfigError, ModelReplyError, UserError

from .conftest import ScriptedPlanner, prog

GOOD = prog(
    'put_first_on_second("red block", "blue bowl")\n',
    'verdict(is_on("red block", "blue bowl"), "red block in blue bowl")\n',
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"success": true, "reason": "in the bowl"}', (True, "in the bowl")),
        (
            'Looks good.\n```json\n{"success": false, "reason": "beside it"}\n```',
            (False, "beside it"),
        ),
        ('{"success": "yes"}', None),
        ("I think it worked", None),
        ("", None),
    ],
)
def test_parse_vlm_verdict(text, expected):
    assert parse_vlm_verdict(text) == expected


@pytest.fixture(scope="module")
def _start(tabletop, tmp_path_factory):
    return tabletop.save_state(tmp_path_factory.mktemp("snap") / "start.bullet")


@pytest.fixture(autouse=True)
def _fresh_scene(request, _start):
    # Each test starts from the same scene, whatever the previous one moved.
    if "tabletop" in request.fixturenames:
        request.getfixturevalue("tabletop").restore_state(_start)


def _vlm(*replies: str) -> ScriptedChatModel:
    return ScriptedChatModel.of(*replies, vision=True)


def _engine(world, sandbox, tmp_path, planner, **cfg):
    return Engine(world, EngineConfig(state_dir=tmp_path, **cfg), planner=planner, sandbox=sandbox)


@pytest.mark.sim
def test_vlm_verifier_sees_both_cameras_and_keeps_frames(tabletop, shared_sandbox, tmp_path):
    from policywright.agent.verify import VLMVerifier

    eng = _engine(tabletop, shared_sandbox, tmp_path, ScriptedPlanner([GOOD]))
    model = _vlm('{"success": true, "reason": "the red block sits in the blue bowl"}')
    eng.verifier = VLMVerifier(model, tabletop, tmp_path / "frames", usage_sink=eng.meter.add)
    result = eng.run("put the red block in the blue bowl", thread_id="vlm1")
    assert result.status == "succeeded", result.reason
    assert result.verdict["source"] == "vlm"
    (request,) = model.requests
    images = [p for m in request.messages for p in m.content if isinstance(p, ImagePart)]
    assert len(images) == 2  # top and front
    assert base64.b64decode(images[0].png_b64)[:8] == b"\x89PNG\r\n\x1a\n"
    frames = result.verdict["frames"]
    assert len(frames) == 2 and all(Path(f).is_file() for f in frames)
    # Frames are on disk, not in the checkpointed state: only their paths are.
    state = eng.graph.get_state({"configurable": {"thread_id": "vlm1"}}).values
    assert "png_b64" not in json.dumps(state, default=str)
    assert result.usage.llm_calls == 1
    eng.close()


@pytest.mark.sim
def test_both_needs_code_and_vlm_to_agree(tabletop, shared_sandbox, tmp_path):
    from policywright.agent.verify import CodeVerifier, CombinedVerifier, VLMVerifier

    eng = _engine(tabletop, shared_sandbox, tmp_path, ScriptedPlanner([GOOD]), max_attempts=1)
    model = _vlm('{"success": false, "reason": "I see the block beside the bowl"}')
    eng.verifier = CombinedVerifier(
        [
            CodeVerifier(eng.sandbox, eng.registry, eng.prim),
            VLMVerifier(model, tabletop, tmp_path / "frames"),
        ]
    )
    result = eng.run("put the red block in the blue bowl")
    assert result.status == "failed"
    verdict = result.verdict
    assert verdict["source"] == "code+vlm"
    assert [p["success"] for p in verdict["parts"]] == [True, False]
    assert "beside the bowl" in verdict["reason"]
    eng.close()


@pytest.mark.sim
def test_malformed_vlm_reply_is_a_failed_verdict_not_a_crash(tabletop, shared_sandbox, tmp_path):
    from policywright.agent.verify import VLMVerifier

    planner = ScriptedPlanner([prog("say('done')\n")])
    eng = _engine(tabletop, shared_sandbox, tmp_path, planner, max_attempts=1)
    eng.verifier = VLMVerifier(_vlm("Sure! It looks done."), tabletop, tmp_path / "f")
    result = eng.run("put the red block in the blue bowl")
    assert result.status == "failed"
    assert result.verdict is not None, result.attempts
    assert "not a JSON verdict" in result.verdict["reason"]
    eng.close()


def test_vlm_verify_needs_a_vision_model(tmp_path):
    from policywright.agent.verify import VLMVerifier

    with pytest.raises(ConfigError, match="vision"):
        VLMVerifier(ScriptedChatModel.of("x"), object(), tmp_path)  # type: ignore[arg-type]


class _ReplyErrorThenGood:
    """A planner whose model first answers with no code, then with a good program."""

    name = "llm:fake"

    def __init__(self, meter_sink):
        self.calls = 0
        self.sink = meter_sink
        self.seen = []

    def write(self, ctx):
        self.calls += 1
        self.seen.append(ctx)
        self.sink(Usage(calls=1, input_tokens=100, output_tokens=20, cost_usd=0.001))
        if self.calls == 1:
            raise ModelReplyError("the reply holds no ```python code block")
        return GOOD


@pytest.mark.sim
def test_bad_reply_is_fed_back_and_usage_is_summed(tabletop, shared_sandbox, tmp_path):
    eng = _engine(tabletop, shared_sandbox, tmp_path, ScriptedPlanner([GOOD]), max_attempts=2)
    planner = _ReplyErrorThenGood(eng.meter.add)
    eng.planner = planner
    result = eng.run("put the red block in the blue bowl", thread_id="repair1")
    assert result.status == "succeeded", result.reason
    assert [a["outcome"] for a in result.attempts] == ["failed", "succeeded"]
    assert "no ```python code block" in planner.seen[1].feedback[0]
    assert result.usage.llm_calls == 2
    assert result.usage.input_tokens == 200 and result.usage.output_tokens == 40
    assert result.usage.cost_usd == pytest.approx(0.002)
    assert result.attempts[0]["usage"]["input_tokens"] == 100
    eng.close()


@pytest.mark.sim
def test_bad_reply_with_no_budget_left_fails_cleanly(tabletop, shared_sandbox, tmp_path):
    eng = _engine(
        tabletop,
        shared_sandbox,
        tmp_path,
        ScriptedPlanner([GOOD]),
        max_attempts=1,
        rehearsal_budget=0,
    )
    eng.planner = _ReplyErrorThenGood(eng.meter.add)
    result = eng.run("put the red block in the blue bowl")
    assert result.status == "failed" and result.actor == "llm" and result.exit_code == 1
    assert len(result.attempts) == 1
    eng.close()


@pytest.mark.sim
def test_session_history_reaches_the_planner(tabletop, shared_sandbox, tmp_path):
    planner = ScriptedPlanner([GOOD])
    eng = _engine(tabletop, shared_sandbox, tmp_path, planner)
    first = eng.run("put the red block in the blue bowl", session="s1")
    assert first.session == "s1" and first.thread_id == "s1-1"
    second = eng.run("undo that", session="s1")
    assert second.thread_id == "s1-2"
    history = planner.seen[-1].history
    assert len(history) == 1
    turn = history[0] if isinstance(history[0], dict) else history[0].model_dump()
    assert turn["command"] == "put the red block in the blue bowl"
    assert "put_first_on_second" in turn["program"]
    assert turn["outcome"] == "succeeded"
    assert any(o["name"] == "red block" for o in turn["scene_before"])
    # Another session does not see it; a bad session name is a user error.
    eng.run("put the red block in the blue bowl", session="s2")
    assert planner.seen[-1].history == []
    with pytest.raises(UserError, match="session name"):
        eng.run("x", session="../../etc")
    eng.close()


def test_scripted_reply_object_passthrough():
    reply = ChatReply(text="ok", finish_reason="length")
    model = ScriptedChatModel.of(reply)
    assert model.chat(ChatRequest(messages=())).truncated


@pytest.mark.sim
def test_broken_check_falls_back_to_the_memory_check(tabletop, shared_sandbox, tmp_path):
    from policywright.agent.planner import Program

    program = Program(
        code='put_first_on_second("red block", "blue bowl")\n',
        check_code="if False:\n    verdict(True, 'never')\n",
        provenance="scripted",
        fallback_check='verdict(is_on("red block", "blue bowl"), "in the bowl (memory check)")\n',
    )
    eng = _engine(tabletop, shared_sandbox, tmp_path, ScriptedPlanner([program]), max_attempts=1)
    result = eng.run("put the red block in the blue bowl")
    assert result.status == "succeeded", result.reason
    assert "program-memory check" in result.verdict["reason"]
    assert "called it 0 times" in result.verdict["reason"]
    # A check that runs and says no is not overridden.
    program2 = program.model_copy(update={"check_code": "verdict(False, 'not there')\n"})
    eng.planner = ScriptedPlanner([program2])
    assert eng.run("put the red block in the blue bowl").status == "failed"
    eng.close()


@pytest.mark.sim
def test_engine_gives_a_vision_planner_the_overview_camera(tabletop, tmp_path):
    from policywright.agent.planner import LLMPlanner, PlanContext
    from policywright.engine import make_planner

    cfg = EngineConfig(state_dir=tmp_path, llm="openai-compatible:http://127.0.0.1:1/v1#qwen2-vl")
    planner = make_planner("offline", cfg, world=tabletop)
    assert isinstance(planner, LLMPlanner) and planner.model.vision
    request = planner.request(PlanContext(command="stack the blocks", scene=[]))
    images = [p for m in request.messages for p in m.content if isinstance(p, ImagePart)]
    assert len(images) == 1
    assert base64.b64decode(images[0].png_b64)[:8] == b"\x89PNG\r\n\x1a\n"
    text = request.messages[-1].plain_text()
    assert "320" in text and "240" in text  # the pixel frame is described
