"""A local transformers causal LM (extra ``[local]``): offline, greedy, exact token counts.

The model directory must hold the weights and the tokenizer (``save_pretrained`` output).
Nothing is downloaded: loading uses ``local_files_only=True``. Generation is greedy (the
request's temperature is ignored) so that a run is reproducible; images are replaced by their
labels because this backend is text-only.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from types import ModuleType

from policywright.agent.llm._base import ChatReply, ChatRequest, TextPart, Usage
from policywright.agent.llm._openai import image_placeholder
from policywright.agent.llm._settings import LLMSettings
from policywright.errors import ConfigError, MissingExtraError, ModelRequestError

__all__ = ["HFChatModel"]

log = logging.getLogger(__name__)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError("local", name) from exc


class HFChatModel:
    """A chat model running a local Hugging Face causal LM on the CPU.

    Attributes:
        id: "hf:<path>".
        vision: Always False (images become text placeholders).
        path: The model directory.
    """

    vision: bool = False

    def __init__(
        self,
        path: str | Path,
        *,
        settings: LLMSettings | None = None,
        id: str | None = None,
        device: str = "cpu",
    ) -> None:
        """Load the tokenizer and the model from ``path`` (no network access).

        Args:
            path: A directory written by ``save_pretrained`` (model and tokenizer).
            settings: ``max_tokens`` caps generation; other settings do not apply.
            id: The model id to report (default "hf:<path>").
            device: The torch device.

        Raises:
            MissingExtraError: torch or transformers is not installed.
            ConfigError: ``path`` is not a model directory, or the model cannot be loaded.
        """
        self.path = Path(path).expanduser()
        self.settings = settings or LLMSettings()
        self.id = id or f"hf:{path}"
        self.vision = False
        if not (self.path / "config.json").is_file():
            raise ConfigError(
                f"{self.id}: {str(self.path)!r} is not a local model folder (no config.json); "
                "save one with save_pretrained() or download it first"
            )
        self._torch = _import("torch")
        transformers = _import("transformers")
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(self.path), local_files_only=True
            )
            self._model = transformers.AutoModelForCausalLM.from_pretrained(
                str(self.path), local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.id}: cannot load the model: {exc}") from exc
        self._model.to(device).eval()
        self._device = device
        config = self._model.config
        self._context: int | None = getattr(config, "max_position_embeddings", None) or getattr(
            config, "n_positions", None
        )

    def _prompt(self, request: ChatRequest) -> str:
        messages = [
            {
                "role": m.role,
                "content": "".join(
                    p.text if isinstance(p, TextPart) else f"\n{image_placeholder(p)}\n"
                    for p in m.content
                ),
            }
            for m in request.messages
        ]
        if getattr(self._tokenizer, "chat_template", None):
            prompt = self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            return str(prompt)
        # A base model without a chat template: a plain transcript is the best guess.
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def chat(self, request: ChatRequest) -> ChatReply:
        """Generate greedily until EOS, a stop sequence or ``max_tokens``.

        Raises:
            ModelRequestError: The prompt does not fit into the model's context.
        """
        torch = self._torch
        start = time.perf_counter()
        prompt = self._prompt(request)
        encoded = self._tokenizer(prompt, return_tensors="pt").to(self._device)
        prompt_len = int(encoded["input_ids"].shape[1])
        max_new = request.max_tokens
        if self.settings.max_tokens is not None:
            max_new = min(max_new, self.settings.max_tokens)
        if self._context is not None:
            if prompt_len >= self._context:
                raise ModelRequestError(
                    f"{self.id}: the prompt has {prompt_len} tokens; the model's context is "
                    f"{self._context}"
                )
            max_new = min(max_new, self._context - prompt_len)
        eos = self._tokenizer.eos_token_id
        pad = self._tokenizer.pad_token_id
        with torch.no_grad():
            output = self._model.generate(
                **encoded,
                max_new_tokens=max_new,
                do_sample=False,
                pad_token_id=pad if pad is not None else eos,
            )
        generated: list[int] = [int(t) for t in output[0, prompt_len:].tolist()]
        finish = "length"
        if eos is not None and eos in generated:
            generated = generated[: generated.index(eos)]
            finish = "stop"
        text = str(self._tokenizer.decode(generated, skip_special_tokens=True))
        for stop in request.stop:
            cut = text.find(stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        output_tokens = len(generated)
        if finish == "length" and output_tokens < max_new:
            finish = "stop"  # generation ended early on another stop criterion
        return ChatReply(
            text=text,
            finish_reason=finish,
            model=self.path.name,
            usage=Usage(
                calls=1,
                input_tokens=prompt_len,
                output_tokens=output_tokens,
                latency_s=time.perf_counter() - start,
            ),
        )

    def __repr__(self) -> str:
        return f"HFChatModel({str(self.path)!r})"
