"""Verification: did the command get done?

* :class:`CodeVerifier` runs the program's check code in the sandbox on the perceived scene.
* :class:`VLMVerifier` renders the top and front cameras and asks a vision model for a JSON
  verdict with a reason.
* :class:`CombinedVerifier` joins them ("both": success needs both to agree).

Frames are written to disk (their paths go into the verdict); images never enter graph state.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from policywright.agent._images import png_b64, save_png
from policywright.agent.host import RegistryHost
from policywright.agent.llm import ChatMessage, ChatModel, ChatRequest, ImagePart, TextPart, Usage
from policywright.agent.planner import Program
from policywright.agent.sandbox import Sandbox
from policywright.agent.state import VerdictRecord
from policywright.errors import ConfigError, ModelError
from policywright.primitives import PrimitiveContext, Registry

if TYPE_CHECKING:
    from policywright.sim import World

__all__ = [
    "CodeVerifier",
    "CombinedVerifier",
    "VLMVerifier",
    "Verifier",
    "VerifyMode",
    "parse_vlm_verdict",
]

logger = logging.getLogger(__name__)

VerifyMode = Literal["code", "vlm", "both"]


class Verifier(Protocol):
    """Decides whether a command was achieved after its program ran."""

    name: str

    def verify(self, command: str, program: Program, *, label: str = "") -> VerdictRecord:
        """Return the verdict and its reason (``label`` names the attempt, for frame files)."""
        ...


@dataclass
class CodeVerifier:
    """Runs the program's check code in the sandbox on the perceived scene."""

    sandbox: Sandbox
    registry: Registry
    ctx: PrimitiveContext
    name: str = "code"

    def verify(self, command: str, program: Program, *, label: str = "") -> VerdictRecord:
        """Run ``program.check_code`` and return the single verdict it reports.

        When the check itself breaks (it raises, or does not call ``verdict`` exactly once) and
        the program carries a verified ``fallback_check`` from program memory, that check
        decides instead, and the reason says so.
        """
        verdict, broken = self._run(program.check_code)
        if broken and program.fallback_check:
            second, second_broken = self._run(program.fallback_check)
            if not second_broken:
                second["reason"] = (
                    f"{second['reason']} (verified by the program-memory check, because the "
                    f"planner's own check broke: {verdict['reason']})"
                )
                return second
        return verdict

    def _run(self, code: str) -> tuple[VerdictRecord, bool]:
        self.ctx.invalidate()
        self.ctx.verdicts.clear()
        host = RegistryHost(self.registry, self.ctx, mode="check")
        report = self.sandbox.run(code, host)
        if report.status != "ok":
            where = f" (line {report.line})" if report.line else ""
            return VerdictRecord(
                success=False,
                reason=f"the check program did not finish: {report.status}{where}: "
                f"{report.message}",
                source=self.name,
            ), True
        if len(self.ctx.verdicts) != 1:
            return VerdictRecord(
                success=False,
                reason="the check program must call verdict(success, reason) exactly once; "
                f"it called it {len(self.ctx.verdicts)} times",
                source=self.name,
            ), True
        success, reason = self.ctx.verdicts[0]
        return VerdictRecord(success=bool(success), reason=reason, source=self.name), False


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_vlm_verdict(text: str) -> tuple[bool, str] | None:
    """Read ``{"success": bool, "reason": str}`` from a model reply (fences and prose allowed).

    Returns:
        (success, reason), or None when the reply holds no such object.
    """
    for candidate in [text, *_JSON_OBJECT.findall(text)]:
        try:
            data = json.loads(candidate.strip().strip("`").removeprefix("json").strip())
        except (json.JSONDecodeError, ValueError):
            continue
        if (
            isinstance(data, dict)
            and isinstance(data.get("success"), bool)
            and isinstance(data.get("reason", ""), str)
        ):
            return bool(data["success"]), str(data.get("reason", ""))[:500]
    return None


def _default_prompt(command: str, cameras: Sequence[str]) -> str:
    from policywright.prompts import render

    return render("vlm_verify.j2", command=command, cameras=list(cameras))


@dataclass
class VLMVerifier:
    """Asks a vision model whether the rendered scene shows the command achieved.

    Attributes:
        model: A chat model with ``vision=True``.
        world: The world to render.
        frames_dir: Where frames are written (one subfolder per task thread).
        usage_sink: Receives the usage of each call.
        cameras: The cameras shown (the world's first two by default).
        size: Frame size (width, height).
    """

    model: ChatModel
    world: World
    frames_dir: Path
    usage_sink: Callable[[Usage], None] = field(default=lambda _u: None)
    cameras: tuple[str, ...] = ()
    size: tuple[int, int] = (320, 240)
    prompt: Callable[[str, Sequence[str]], str] = field(default=_default_prompt)
    name: str = "vlm"

    def __post_init__(self) -> None:
        if not self.model.vision:
            raise ConfigError(
                f"--verify vlm needs a vision model; {self.model.id!r} does not accept images"
            )
        if not self.cameras:
            self.cameras = tuple(self.world.cameras[:2])

    def verify(self, command: str, program: Program, *, label: str = "") -> VerdictRecord:
        """Render the cameras, ask the model, parse its JSON verdict."""
        frames: list[str] = []
        parts: list[TextPart | ImagePart] = [TextPart(text=self.prompt(command, self.cameras))]
        for cam in self.cameras:
            rgb = self.world.render(cam, *self.size)
            frames.append(str(save_png(rgb, self.frames_dir, f"{label or 'verify'}-{cam}")))
            parts.append(TextPart(text=f"Camera {cam!r}:"))
            parts.append(ImagePart(png_b64=png_b64(rgb), label=f"{cam} camera {self.size}"))
        request = ChatRequest(
            messages=(ChatMessage(role="user", content=tuple(parts)),),
            max_tokens=300,
            purpose="verify",
        )
        try:
            reply = self.model.chat(request)
        except ModelError as exc:
            return VerdictRecord(
                success=False, reason=f"the VLM call failed: {exc}", source=self.name, frames=frames
            )
        self.usage_sink(reply.usage)
        parsed = parse_vlm_verdict(reply.text)
        if parsed is None:
            return VerdictRecord(
                success=False,
                reason="the VLM reply was not a JSON verdict "
                f'{{"success": bool, "reason": str}}: {reply.text[:200]!r}',
                source=self.name,
                frames=frames,
            )
        success, reason = parsed
        return VerdictRecord(success=success, reason=reason, source=self.name, frames=frames)


@dataclass
class CombinedVerifier:
    """Both verifiers must agree; the reason says what each decided."""

    verifiers: Sequence[Verifier]
    name: str = "both"

    def verify(self, command: str, program: Program, *, label: str = "") -> VerdictRecord:
        """Run every verifier; succeed only if all succeed."""
        verdicts = [v.verify(command, program, label=label) for v in self.verifiers]
        frames: list[str] = [f for v in verdicts for f in v.get("frames", [])]
        reason = "; ".join(
            f"{v['source']}: {'yes' if v['success'] else 'no'} ({v['reason']})" for v in verdicts
        )
        return VerdictRecord(
            success=all(v["success"] for v in verdicts),
            reason=reason,
            source="+".join(v["source"] for v in verdicts),
            frames=frames,
            parts=[dict(v) for v in verdicts],
        )
