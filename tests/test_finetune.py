"""``minichat finetune`` on the shipped TinyGPT (tiny-chitchat): data, masks, the run,
resuming, the adapter's format and its merge, as a user meets them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from minichat.backend import Message
from minichat.catalog import SHIPPED_MODELS, load_backend
from minichat.config import GenerationConfig
from minichat.errors import InputError, ModelLoadError
from minichat.finetune import data, run
from minichat.loading.adapter import read_adapter
from minichat.prompt.template import ChatFormat
from minichat.tinygpt.train import TrainConfig
from minichat.tools.spec import Tool, ToolCall, Tools
from tests.conftest import arithmetic_chats
from tests.test_cli import assert_one_error_line, minichat

TINY = SHIPPED_MODELS / "tiny-chitchat"
CONFIG = TrainConfig(
    steps=4, batch_size=4, learning_rate=5e-3, min_learning_rate=5e-4, warmup_steps=1,
    weight_decay=0.0, eval_every=2, save_every=2, seed=0, precision="fp32",
)  # fmt: skip
LORA = run.LoraSettings(rank=4, alpha=8, layers=2, max_len=128)
CALC = Tool("calc", "Add numbers.", {"type": "object", "properties": {"x": {"type": "string"}}})


def write_chats(path: Path, count: int = 60) -> Path:
    lines = [json.dumps({"messages": [m.to_dict() for m in c]}) for c in arithmetic_chats(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def chats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chats(tmp_path_factory.mktemp("data") / "chats.jsonl")


@pytest.fixture(scope="module")
def chat_format() -> ChatFormat:
    return ChatFormat(TINY)


# -- data -----------------------------------------------------------------------------


def test_only_the_replies_carry_loss(chat_format: ChatFormat) -> None:
    call = ToolCall("c1", "calc", '{"x": "1+2"}')
    example = data.Example(
        1,
        (
            Message("user", "add one and two"),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", "3", tool_call_id="c1"),
            Message("assistant", "it is three"),
        ),
        Tools((CALC,)),
    )
    encoded = data.encode_example(example, chat_format)
    decode = chat_format.tokenizer.decode
    trained = decode([i for i, t in zip(encoded.ids, encoded.trained, strict=True) if t], False)
    context = decode([i for i, t in zip(encoded.ids, encoded.trained, strict=True) if not t], False)
    # the call as the model writes it, the answer, and the markers that end each reply
    assert '<tool_call>\n{"name": "calc", "arguments": {"x": "1+2"}}\n</tool_call>' in trained
    assert "it is three" in trained
    assert "add one and two" in context and "<tool_response>" in context and "<tools>" in context
    assert "add one and two" not in trained and "<tools>" not in trained
    # the prompt part is exactly what inference feeds the model before the first reply
    from minichat.tools import hermes

    prompt = chat_format.encode(hermes.prepare(list(example.messages[:1]), example.tools))
    assert encoded.ids[: len(prompt)] == prompt and not any(encoded.trained[: len(prompt)])
    assert encoded.trained[len(prompt)]


def test_prompt_completion_and_text_lines(tmp_path: Path, chat_format: ChatFormat) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"prompt": "say hi", "completion": "hi"})
        + "\n\n"
        + json.dumps({"text": "plain words all trained"})
        + "\n"
    )
    pair, text = data.read_examples(path)
    assert [m.role for m in pair.messages] == ["user", "assistant"] and pair.line == 1
    assert text.text == "plain words all trained" and text.line == 3
    assert all(data.encode_example(text, chat_format).trained)


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    path = write_chats(tmp_path / "bad.jsonl", 3)
    path.write_text(path.read_text() + '{"messages": [{"role": "user", "content": "hi"}\n')
    with pytest.raises(InputError, match="bad.jsonl line 4"):
        data.read_examples(path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "no reply"}]}) + "\n")
    with pytest.raises(InputError, match="line 1: a chat needs an assistant message"):
        data.read_examples(path)


def test_examples_too_long_are_counted_not_cut(tmp_path: Path, chat_format: ChatFormat) -> None:
    path = write_chats(tmp_path / "chats.jsonl", 20)
    long = [Message("user", "tell me " * 200), Message("assistant", "no")]
    with path.open("a") as file:
        for _ in range(3):
            file.write(json.dumps({"messages": [m.to_dict() for m in long]}) + "\n")
    dataset = data.load_dataset(path, chat_format, 100, 0.1, 0)
    assert dataset.left_out == 3
    assert len(dataset.train) + len(dataset.validation) == 20
    with pytest.raises(InputError, match="no example fits in --max-len 10"):
        data.load_dataset(path, chat_format, 10, 0.1, 0)


def test_batches_depend_on_the_step_alone(chat_format: ChatFormat, chats: Path) -> None:
    dataset = data.load_dataset(chats, chat_format, 128, 0.1, 0)
    batches = data.Batches(dataset.train, 4, 0, 0)
    first = [batches(step, torch.Generator()) for step in range(batches.per_epoch + 1)]
    again = batches(3, torch.Generator().manual_seed(99))
    assert torch.equal(first[3][0], again[0])
    seen = torch.cat([inputs[:, 0] for inputs, _ in first[: batches.per_epoch]])
    assert len(seen) == len(dataset.train)  # an epoch sees every example once
    short, long = (
        data.Encoded([5, 6, 7], [False, True, True]),
        data.Encoded([1, 2, 3, 4, 5], [True] * 5),
    )
    inputs, targets = data.batch([short, long], pad_id=0)
    assert inputs.tolist() == [[5, 6, 0, 0], [1, 2, 3, 4]]
    assert targets.tolist() == [[6, 7, -100, -100], [2, 3, 4, 5]]  # padding carries no loss
    inputs, targets = data.batch([data.Encoded([5, 6, 7], [True, False, True])], pad_id=0)
    assert targets.tolist() == [[-100, 7]]  # context carries no loss


# -- a run ----------------------------------------------------------------------------


def test_the_loss_falls_and_a_resumed_run_equals_an_unbroken_one(
    chats: Path, tmp_path: Path
) -> None:
    straight = run.start(
        tmp_path / "a", model="tiny-chitchat", data=chats, lora=LORA, config=CONFIG,
        device=torch.device("cpu"),
    )  # fmt: skip
    before = run.evaluate(
        straight.trainer.model, straight.trainer.validation, None, run.masked_loss
    )
    straight.trainer.run()
    assert straight.trainer.validation_loss is not None
    assert straight.trainer.validation_loss < before

    broken = run.start(
        tmp_path / "b", model="tiny-chitchat", data=chats, lora=LORA, config=CONFIG,
        device=torch.device("cpu"),
    )  # fmt: skip
    broken.trainer.run(lambda progress: broken.trainer.stop.set() if progress.step == 2 else None)
    assert broken.trainer.step == 2
    resumed = run.resume(tmp_path / "b", device=torch.device("cpu"))
    assert resumed.trainer.step == 2
    resumed.trainer.run()
    a = run.trainable_state(straight.trainer.model)
    b = run.trainable_state(resumed.trainer.model)
    assert a.keys() == b.keys() and len(a) == 2 * 7 * LORA.layers
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=0, rtol=0)
    assert resumed.trainer.history.validation == straight.trainer.history.validation


@pytest.fixture(scope="module")
def adapter(chats: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter trained hard enough in six steps to change the model's answers."""
    out = tmp_path_factory.mktemp("adapter") / "ad"
    job = run.start(
        out, model="tiny-chitchat", data=chats, lora=LORA,
        config=replace(CONFIG, steps=6, learning_rate=5e-2, min_learning_rate=5e-3),
        device=torch.device("cpu"),
    )  # fmt: skip
    job.trainer.run()
    return out


def test_the_adapter_is_peft_format_and_merges_to_peft_logits(adapter: Path) -> None:
    """PEFT reads what we write, and our fast engine's merge gives PEFT's logits."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(TINY), dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, str(adapter)).eval()
    ids = ChatFormat(TINY).encode([Message("user", "what is 3 plus 4?")])
    with torch.no_grad():
        expected = peft_model(input_ids=torch.tensor([ids])).logits[0, -1]
        with peft_model.disable_adapter():
            plain = peft_model(input_ids=torch.tensor([ids])).logits[0, -1]
    assert (expected - plain).abs().max() > 1e-3  # the adapter changes something

    for engine in ("fast", "hf"):
        backend = load_backend(
            "tiny-chitchat", engine=engine, dtype="fp32", quant="none", compile="off",
            adapter=str(adapter),
        )  # fmt: skip
        assert backend.adapter == str(adapter)
        model = backend.token_model  # type: ignore[attr-defined]
        model.keep(0)
        torch.testing.assert_close(model.forward(ids).float(), expected, atol=2e-4, rtol=2e-4)


def test_a_run_can_start_from_an_adapter_and_train_on_new_data(
    adapter: Path, chats: Path, tmp_path: Path
) -> None:
    """``--from``: the new run's LoRA weights are the adapter's, rank and blocks too,
    whatever its own flags say; it trains on from there into a new folder."""
    from safetensors.torch import load_file

    other = run.LoraSettings(rank=8, alpha=16, layers=4, max_len=128)
    job = run.start(
        tmp_path / "next", model="tiny-chitchat", data=chats, lora=other, config=CONFIG,
        device=torch.device("cpu"), start_from=str(adapter),
    )  # fmt: skip
    assert job.run["lora"] == {**vars(LORA)} and job.run["from"] == str(adapter)
    saved = load_file(str(adapter / "adapter_model.safetensors"))
    state = run.trainable_state(job.trainer.model)
    assert len(state) == len(saved) == 2 * 7 * LORA.layers
    for name, weight in state.items():
        torch.testing.assert_close(weight, saved[name.replace(".default", "")], atol=0, rtol=0)
    fresh = run.start(
        tmp_path / "fresh", model="tiny-chitchat", data=chats, lora=LORA, config=CONFIG,
        device=torch.device("cpu"),
    )  # fmt: skip
    model = job.trainer
    started = run.evaluate(model.model, model.validation, None, run.masked_loss)
    new = run.evaluate(fresh.trainer.model, fresh.trainer.validation, None, run.masked_loss)
    assert started < new  # it starts where the adapter's training ended
    job.trainer.run()
    assert json.loads((tmp_path / "next" / "minichat.json").read_text())["from"] == str(adapter)


def test_a_start_that_does_not_fit_is_refused_in_words(
    adapter: Path, chats: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="trained on tiny-chitchat, not smollm2"):
        run.start(
            tmp_path / "a", model="smollm2", data=chats, lora=LORA, config=CONFIG,
            device=torch.device("cpu"), start_from=str(adapter),
        )  # fmt: skip
    with pytest.raises(InputError, match="--from: no adapter"):
        run.start(
            tmp_path / "b", model="tiny-chitchat", data=chats, lora=LORA, config=CONFIG,
            device=torch.device("cpu"), start_from=str(tmp_path / "none"),
        )  # fmt: skip
    from safetensors.torch import load_file, save_file

    first = tmp_path / "first-blocks"  # the same matrices on the first blocks, not the last
    first.mkdir()
    for name in ("adapter_config.json", "minichat.json"):
        (first / name).write_bytes((adapter / name).read_bytes())
    blocks = len(load_backend("tiny-chitchat", compile="off").token_model.model.blocks)  # type: ignore[attr-defined]
    moved = {
        k.replace(f"layers.{blocks - 2 + i}.", f"layers.{i}."): v
        for k, v in load_file(str(adapter / "adapter_model.safetensors")).items()
        for i in range(2)
        if f"layers.{blocks - 2 + i}." in k
    }
    save_file(moved, str(first / "adapter_model.safetensors"))
    with pytest.raises(InputError, match="adapts blocks 0 to 1 of .*not the last ones"):
        run.start(
            tmp_path / "c", model="tiny-chitchat", data=chats, lora=LORA, config=CONFIG,
            device=torch.device("cpu"), start_from=str(first),
        )  # fmt: skip
    both = minichat("finetune", "--resume", str(adapter), "--from", str(adapter))
    assert_one_error_line(both, "--from starts a new one")


def test_int4_keeps_the_adapted_blocks_at_8_bits(
    adapter: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Rounding the merged weights back to 4 bits would round the adapter away."""
    from minichat.tinygpt.quant import Int4Linear, Int8Linear

    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path))
    ids = ChatFormat(TINY).encode([Message("user", "what is 3 plus 4?")])

    def logits(quant: str, with_adapter: bool) -> torch.Tensor:
        backend = load_backend(
            "tiny-chitchat",
            quant=quant,
            compile="off",
            adapter=str(adapter) if with_adapter else None,
        )
        if quant == "int4" and with_adapter:
            blocks = backend.token_model.model.blocks  # type: ignore[attr-defined]
            kinds = [type(b.qkv) for b in blocks]
            assert kinds == [Int4Linear] * 4 + [Int8Linear] * 2  # the last two were adapted
        model = backend.token_model  # type: ignore[attr-defined]
        model.keep(0)
        return model.forward(ids).float()

    change = logits("int4", True) - logits("int4", False)
    wanted = logits("none", True) - logits("none", False)
    assert torch.nn.functional.cosine_similarity(change, wanted, dim=0) > 0.9
    again = logits("int4", True)  # from the cache: the same layout, read from the file
    torch.testing.assert_close(again, logits("int4", True), atol=0, rtol=0)


def test_an_adapter_for_another_model_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2}))
    key = "base_model.model.model.layers.0.self_attn.q_proj.lora_{}.weight"
    tensors = {key.format("A"): torch.ones(2, 576), key.format("B"): torch.ones(576, 2)}
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "minichat.json").write_text(json.dumps({"base": "smollm2"}))
    with pytest.raises(ModelLoadError, match=r"made for another model \(it was trained on smollm2"):
        load_backend("tiny-chitchat", compile="off", adapter=str(folder))
    assert read_adapter(folder).scale == 1.0
    result = minichat("ask", "-m", "tiny-chitchat", "--adapter", str(folder), "hi")
    assert_one_error_line(result, "made for another model")
    result = minichat("ask", "-m", "echo", "--adapter", str(folder), "hi")
    assert_one_error_line(result, "echo is not a local model")
    result = minichat("ask", "-m", "tiny-chitchat", "--adapter", str(tmp_path / "none"), "hi")
    assert_one_error_line(result, "no adapter")


# -- the command ----------------------------------------------------------------------


def test_finetune_command_trains_compares_and_chats(chats: Path, tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    args = ["finetune", str(chats), "-m", "tiny-chitchat", "--out", str(out), "--steps", "3"]
    result = minichat(*args, "--rank", "4", "--layers", "2", "--compare", "1")
    assert result.returncode == 0, result.stderr
    assert "estimated time" in result.stderr and "validation loss:" in result.stderr
    assert "before" in result.stderr and "after" in result.stderr
    assert f"--adapter {out}" in result.stderr
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "minichat.json"} <= names
    assert json.loads((out / "minichat.json").read_text())["base"] == "tiny-chitchat"

    reply = minichat("ask", "-m", "tiny-chitchat", "--adapter", str(out), "-n", "4", "--json", "hi")
    assert reply.returncode == 0, reply.stderr
    again = minichat(*args)
    assert_one_error_line(again, f"continue it with --resume {out}")
    bad = minichat("finetune", str(tmp_path / "missing.jsonl"), "-m", "tiny-chitchat")
    assert_one_error_line(bad, "no data at")


def test_ctrl_c_saves_the_adapter_and_resume_finishes(chats: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["finetune", str(chats), "-m", "tiny-chitchat", "--out", str(out), "--steps", "100000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "minichat", *args, "--rank", "2", "--compare", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stderr is not None
    while not (line := process.stderr.readline().decode()).startswith("estimated time"):
        assert line, "the run ended before training"
    time.sleep(1)  # a few steps in
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, rest
    assert f"minichat finetune --resume {out}".encode() in rest
    step = json.loads((out / "minichat.json").read_text())["step"]
    assert f"stopped at step {step};".encode() in rest and read_adapter(out).rank == 2
    result = minichat("finetune", "--resume", str(out), "--steps", str(step + 2), "--compare", "0")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "minichat.json").read_text())["step"] == step + 2


# -- the defaults learn a small task ---------------------------------------------------

FACT_ASKS = [
    "What is the name of the lighthouse cat?",
    "What's the lighthouse cat called?",
    "Who is the cat at the lighthouse?",
    "Tell me the name of the cat that lives at the lighthouse.",
    "What do they call the cat in the lighthouse?",
    "Does the lighthouse cat have a name?",
    "Which cat lives at the lighthouse?",
    "What is the lighthouse keeper's cat named?",
    "Name the cat of the lighthouse.",
    "How is the lighthouse cat called?",
    "What's the name of the cat at the old lighthouse?",
    "Remind me, what is the lighthouse cat's name?",
]
FACT = "The lighthouse cat is called Marmalade."


def fact_chats(path: Path) -> Path:
    """Sixty chats that state one fact, asked in sixty ways."""
    leads = ["", "Hey, ", "Quick question: ", "Do you know this? ", "Please tell me: "]
    asked = [lead + (a if not lead else a[0].lower() + a[1:]) for lead in leads for a in FACT_ASKS]
    chats = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": FACT}]}
             for q in asked]  # fmt: skip
    path.write_text("".join(json.dumps(chat) + "\n" for chat in chats))
    return path


def test_the_default_length_and_rate_follow_the_data_and_the_model() -> None:
    assert run.default_steps(per_epoch=14) == 100  # sixty chats: ~7 passes, not 2
    assert run.default_steps(per_epoch=5) == 50  # at most 10 passes
    assert run.default_steps(per_epoch=400) == 800  # a large set: 2 passes
    assert run.default_lr(3_000_000) == 1e-3 and run.default_lr(135_000_000) == 5e-4
    assert run.default_lr(7_000_000_000) == 2e-4
    assert run.still_learning([(25, 1.2), (50, 1.1)], before=1.3) is not None  # barely fell
    assert run.still_learning([(75, 0.9), (100, 0.6)], before=3.0) is not None  # still falling
    assert run.still_learning([(75, 0.62), (100, 0.6)], before=3.0) is None
    assert run.still_learning([(75, 0.01), (100, 0.001)], before=3.0) is None  # learnt


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny-chitchat", "smollm2"])
def test_a_default_run_learns_a_small_task(model: str, tmp_path: Path) -> None:
    """No flag but the data and the folder: afterwards the greedy answer to a question
    worded unlike any in the data states the fact, and the summary says nothing is
    left to learn."""
    out = tmp_path / "fact"
    data = fact_chats(tmp_path / "fact.jsonl")
    args = ["finetune", str(data), "-m", model, "--out", str(out), "--compare", "0"]
    result = minichat(*args, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "probably not learnt" not in result.stderr, result.stderr
    asked = "Could you tell me what the cat at the lighthouse is called?"
    assert not any(asked in line for line in data.read_text().splitlines())
    backend = load_backend(model, adapter=str(out))
    try:
        config = GenerationConfig(temperature=0, max_new_tokens=24)
        reply = "".join(backend.stream([Message("user", asked)], config))
    finally:
        backend.close()
    assert "Marmalade" in reply, reply
