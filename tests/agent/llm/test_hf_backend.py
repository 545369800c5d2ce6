"""HFChatModel on a tiny random GPT-2 built in a temporary folder (needs the [local] extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywright.agent.llm import (
    ChatMessage,
    ChatRequest,
    HFChatModel,
    ImagePart,
    LLMSettings,
    TextPart,
    make_chat_model,
)
from policywright.errors import ConfigError, ModelRequestError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    corpus = [
        "pick up the red block",
        "place it on the blue block",
        "open gripper",
        "close gripper",
    ] * 10
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=300,
            show_progress=False,
            special_tokens=["<|endoftext|>", "<|pad|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|pad|>",
    )
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tok),
        n_positions=128,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    path = tmp_path_factory.mktemp("tiny_lm")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def request(text: str = "stack blocks", max_tokens: int = 12) -> ChatRequest:
    return ChatRequest(
        messages=(ChatMessage.text("system", "You plan."), ChatMessage.text("user", text)),
        max_tokens=max_tokens,
    )


def test_greedy_generation_is_deterministic_with_exact_token_counts(tiny_lm):
    model = make_chat_model(f"hf:{tiny_lm}")
    assert isinstance(model, HFChatModel) and not model.vision
    a = model.chat(request())
    b = model.chat(request())
    assert a.text == b.text
    tok = transformers.AutoTokenizer.from_pretrained(str(tiny_lm))
    prompt = tok.apply_chat_template(
        [{"role": "system", "content": "You plan."}, {"role": "user", "content": "stack blocks"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert a.usage.input_tokens == len(tok(prompt)["input_ids"])
    assert 1 <= a.usage.output_tokens <= 12
    assert a.usage.calls == 1 and a.usage.cost_usd == 0.0
    if a.finish_reason == "length":
        assert a.usage.output_tokens == 12 and a.truncated


def test_max_tokens_caps_generation(tiny_lm):
    model = HFChatModel(tiny_lm, settings=LLMSettings(max_tokens=3))
    reply = model.chat(request(max_tokens=50))
    assert reply.usage.output_tokens <= 3


def test_images_become_their_labels(tiny_lm):
    model = HFChatModel(tiny_lm)
    msg = ChatMessage(
        role="user", content=(TextPart(text="see"), ImagePart(png_b64="AAAA", label="top cam"))
    )
    reply = model.chat(ChatRequest(messages=(msg,), max_tokens=2))
    assert reply.usage.input_tokens > 3


def test_prompt_longer_than_the_context_is_refused(tiny_lm):
    model = HFChatModel(tiny_lm)
    with pytest.raises(ModelRequestError, match="context is 128"):
        model.chat(request("pick up the red block " * 100))


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"config\.json"):
        HFChatModel(tmp_path)
