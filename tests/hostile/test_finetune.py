"""``minichat finetune`` fed what it should refuse: special files, oversized data, one
odd line among good ones, nonsense flags, a damaged or foreign run to resume. Each is
refused in one line that says what to do, before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from minichat.errors import InputError
from minichat.finetune import data, run
from minichat.prompt.template import ChatFormat
from minichat.tinygpt.checkpoint import STATE_FILE
from tests.test_cli import assert_one_error_line
from tests.test_finetune import CONFIG, LORA, TINY, write_chats

GOOD = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'


@pytest.fixture(scope="module")
def chat_format() -> ChatFormat:
    return ChatFormat(TINY)


def finetune(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, list[str]]:
    """``minichat finetune ARGS`` in this process, as ``main`` runs it: its exit code and
    the lines it wrote to stderr."""
    from minichat.cli.app import main

    monkeypatch.setattr(sys, "argv", ["minichat", "finetune", *args])
    with pytest.raises(SystemExit) as exit:
        main()
    return int(exit.value.code or 0), capsys.readouterr().err.strip().splitlines()


def assert_refused(outcome: tuple[int, list[str]], words: str) -> None:
    code, lines = outcome
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("minichat: error: ") and words in lines[0], lines


def minichat_within(seconds: float, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, which must end within ``seconds`` (a FIFO
    used to make it wait forever)."""
    result = subprocess.run(
        [sys.executable, "-m", "minichat", *args],
        capture_output=True,
        timeout=seconds,
        env={**os.environ, "MINICHAT_COMPILE": "off"},
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


# -- special and oversized files ------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "/dev/null", "/dev/zero", "folder-fifo"])
def test_special_files_as_data_are_refused_in_one_line(kind: str, tmp_path: Path) -> None:
    if kind.startswith("/dev/"):
        source, words = Path(kind), f"{kind} is a device, not a regular file"
    else:
        source = tmp_path / "data.jsonl"
        if kind == "folder-fifo":
            source = tmp_path / "folder"
            source.mkdir()
            os.mkfifo(source / "train.jsonl")
            words = "train.jsonl is a pipe (FIFO), not a regular file"
        else:
            os.mkfifo(source)
            words = "data.jsonl is a pipe (FIFO), not a regular file"
    out = tmp_path / "out"
    result = minichat_within(
        90, "finetune", str(source), "-m", "tiny-chitchat", "--out", str(out), "--compare", "0"
    )
    assert_one_error_line(result, words)
    assert not out.exists()


def test_a_valid_jsonl_that_is_not_a_file_is_refused_not_ignored(
    tmp_path: Path, chat_format: ChatFormat
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    write_chats(folder / "train.jsonl", 10)
    (folder / "valid.jsonl").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="valid.jsonl is a device, not a regular file"):
        data.load_dataset(folder, chat_format, 128, 0.1, 0)
    (folder / "valid.jsonl").unlink()
    with pytest.raises(InputError, match=r"needs a train.jsonl"):
        data.load_dataset(tmp_path, chat_format, 128, 0.1, 0)


def test_data_over_the_cap_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert data.DATA_LIMIT == 256 * 2**20
    path = write_chats(tmp_path / "chats.jsonl", 20)
    with path.open("a") as file:  # blank lines up to one byte over 1 MiB
        file.write("\n" * (2**20 + 1 - path.stat().st_size))
    monkeypatch.setattr(data, "DATA_LIMIT", 2**20)
    with pytest.raises(InputError, match=r"chats.jsonl is over 1 MiB") as error:
        data.read_examples(path)
    assert "\n" not in str(error.value)
    monkeypatch.setattr(data, "DATA_LIMIT", 2**20 + 1)
    assert len(data.read_examples(path)) == 20


@pytest.mark.parametrize("name", ["empty.txt", "blank.jsonl"])
def test_data_without_examples_says_so(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text("\n" * 1_000_000 if name.endswith(".jsonl") else "\n\n  \n")
    with pytest.raises(InputError, match=f"{name} has no examples"):
        data.read_examples(path)


def test_a_byte_order_mark_and_a_line_separator_in_text_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    chat = {
        "messages": [{"role": "user", "content": "a\u2028b"}, {"role": "assistant", "content": "c"}]
    }
    line = json.dumps(chat, ensure_ascii=False)  # U+2028 raw inside a JSON string is valid
    path.write_bytes(("\ufeff" + line + "\n" + line + "\n").encode())
    examples = data.read_examples(path)
    assert [e.line for e in examples] == [1, 2]
    assert examples[0].messages[0].content == "a\u2028b"


# -- one odd line among good ones -----------------------------------------------------

ODD_LINES = [
    ('{"text": ""}', "the text is empty"),
    ('{"text": 5}', "the text must be a string, not 5"),
    ('{"prompt": 1, "completion": "x"}', "the prompt must be a string"),
    ('{"messages": []}', '"messages" is empty'),
    ('{"messages": "hello"}', "\"messages\" must be a list of messages, not 'hello'"),
    ('{"messages": {"role": "user"}}', '"messages" must be a list of messages'),
    ('{"messages": [5]}', "message 1 is not a JSON object"),
    (
        '{"messages": [{"role": "wizard", "content": "a"}, {"role": "assistant", "content": "b"}]}',
        "message 1: the role must be system, user, assistant or tool, not 'wizard'",
    ),
    (
        '{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "b"}]}',
        "message 1: the content must be a string, not 5",
    ),
    (
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b",'
        ' "tool_calls": "zz"}]}',
        "message 2: \"tool_calls\" must be a list, not 'zz'",
    ),
    (
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": null,'
        ' "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}]}]}',
        "message 2, tool call 1: the arguments are not JSON",
    ),
    (
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": null,'
        ' "tool_calls": [{"function": "f"}]}]}',
        'message 2, tool call 1: "function" must be an object with a name',
    ),
    (
        '{"messages": [{"role": "tool", "content": "3", "tool_call_id": ["x"]},'
        ' {"role": "assistant", "content": "b"}]}',
        "message 1: the tool_call_id must be a string",
    ),
    (GOOD[:-1] + ', "tools": "notalist"}', "\"tools\" must be a list of tools, not 'notalist'"),
    (GOOD[:-1] + ', "tools": {"a": 1}}', '"tools" must be a list of tools'),
    (GOOD[:-1] + ', "tools": [5]}', "tool 1 is not a JSON object"),
    (GOOD[:-1] + ', "tools": [{"function": {"name": 5}}]}', "tool 1: the name must be a string"),
    (
        GOOD[:-1] + ', "tools": [{"name": "f", "parameters": []}]}',
        "tool 1: the parameters must be a JSON object",
    ),
    (GOOD[:-1] + ', "tools": [{"name": "f"}, {"name": "f"}]}', "two tools share a name"),
    (
        '{"messages": [{"role": "user", "content": "\\ud800"}, '
        '{"role": "assistant", "content": "b"}]}',
        "'\\ud800' is half of a UTF-16 pair (a lone surrogate), not text",
    ),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("line", "words"), ODD_LINES)
def test_one_odd_line_among_good_ones_is_named(
    line: str, words: str, tmp_path: Path, chat_format: ChatFormat
) -> None:
    path = write_chats(tmp_path / "chats.jsonl", 10)
    good = path.read_text().splitlines()
    path.write_text("\n".join([*good[:3], line, *good[3:]]) + "\n")
    with pytest.raises(InputError) as error:
        data.load_dataset(path, chat_format, 128, 0.1, 0)
    message = str(error.value)
    assert message.startswith(f"{path} line 4: "), message
    assert words in message and "\n" not in message and len(message) < 400


def test_file_text_in_an_error_is_shown_escaped_and_short(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    role = "\x1b]0;pwned\x07" + "x" * 10_000
    path.write_text(json.dumps({"messages": [{"role": role, "content": "a"}]}) + "\n")
    with pytest.raises(InputError) as error:
        data.read_examples(path)
    message = str(error.value)
    assert "\x1b" not in message and "\x07" not in message and "\\x1b" in message
    assert len(message) < 400


def test_text_too_short_to_learn_from_is_left_out_and_counted(
    tmp_path: Path, chat_format: ChatFormat
) -> None:
    """A one-token text carries no loss: a batch of them alone would give a NaN loss,
    and NaN weights."""
    path = write_chats(tmp_path / "chats.jsonl", 20)
    with path.open("a") as file:
        file.write('{"text": "a"}\n' * 5)
    dataset = data.load_dataset(path, chat_format, 128, 0.1, 0)
    assert dataset.no_loss == 5
    assert all(e.loss_tokens > 0 for e in dataset.train + dataset.validation)
    assert len(dataset.train) + len(dataset.validation) == 20


# -- flags ----------------------------------------------------------------------------

BAD_FLAGS = [
    (["--steps", "-1"], "--steps must be 1 or more, not -1"),
    (["--steps", "0"], "--steps must be 1 or more, not 0"),
    (["--epochs", "0"], "--epochs must be a number above 0, not 0.0"),
    (["--epochs", "nan"], "--epochs must be a number above 0, not nan"),
    (["--epochs", "-2"], "--epochs must be a number above 0"),
    (["--max-len", "1"], "--max-len must be 2 or more"),
    (["--rank", "0"], "--rank must be 1 or more, not 0"),
    (["--alpha", "nan"], "--alpha must be a number above 0, not nan"),
    (["--alpha", "inf"], "--alpha must be a number above 0, not inf"),
    (["--alpha", "0"], "--alpha must be a number above 0"),
    (["--lr", "0"], "--lr must be a number above 0, not 0.0"),
    (["--lr", "-1"], "--lr must be a number above 0"),
    (["--lr", "nan"], "--lr must be a number above 0"),
    (["--batch-size", "0"], "--batch-size must be 1 or more, not 0"),
    (["--layers", "-1"], "--layers must be 0 (all) or more, not -1"),
    (["--valid-fraction", "1.0"], "--valid-fraction must be above 0 and below 1, not 1.0"),
    (["--valid-fraction", "-0.1"], "--valid-fraction must be above 0 and below 1"),
    (["--valid-fraction", "0"], "--valid-fraction must be above 0 and below 1"),
    (["--eval-every", "0"], "--eval-every must be 1 or more, not 0"),
    (["--save-every", "0"], "--save-every must be 1 or more, not 0"),
    (["--compare", "-1"], "--compare must be 0 or more, not -1"),
    (["--seed", "-1"], "--seed must be from 0 to 4294967295, not -1"),
    (["--seed", str(2**64)], "--seed must be from 0 to 4294967295"),
    # beyond the model: tiny-chitchat has 6 blocks 192 wide
    (["--layers", "7"], "--layers 7: tiny-chitchat has 6 blocks; give 6 or fewer (0: all)"),
    (["--rank", "193"], "--rank 193 is above tiny-chitchat's width of 192"),
]


@pytest.mark.parametrize(("flags", "words"), BAD_FLAGS)
def test_bad_flags_are_refused_before_anything_is_written(
    flags: list[str],
    words: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chats, out = write_chats(tmp_path / "chats.jsonl", 20), tmp_path / "out"
    outcome = finetune(
        capsys, monkeypatch, str(chats), "-m", "tiny-chitchat", "--out", str(out), *flags
    )
    assert_refused(outcome, words)
    assert not out.exists()


def test_a_run_that_diverges_says_so_and_fails(
    chats: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A learning rate this large makes the weights NaN: no "done", but what to do."""
    out = tmp_path / "out"
    flags = ["--steps", "2", "--rank", "2", "--layers", "1", "--compare", "0", "--lr", "1e30"]
    code, lines = finetune(
        capsys, monkeypatch, str(chats), "-m", "tiny-chitchat", "--out", str(out), *flags
    )
    assert code == 1 and not any(line.startswith("done") for line in lines), lines
    assert lines[-1] == (
        f"minichat: error: the run diverged (validation loss nan), so the adapter in {out} is "
        "unusable: delete it and start again with a lower --lr"
    )


@pytest.mark.parametrize("where", ["file", "under-a-file", "adapter"])
def test_an_out_that_cannot_hold_the_run_is_refused(
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chats, taken = write_chats(tmp_path / "chats.jsonl", 20), tmp_path / "taken"
    taken.write_text("precious\n")
    if where == "file":
        out, words = taken, f"--out {taken} is a file; give a folder"
    elif where == "under-a-file":
        out, words = taken / "sub", f"--out {taken / 'sub'}: {taken} is a file"
    else:
        out = tmp_path / "adapter"
        out.mkdir()
        (out / "adapter_config.json").write_text("{}")
        words = f"{out} already holds an adapter; choose another --out"
    outcome = finetune(capsys, monkeypatch, str(chats), "-m", "tiny-chitchat", "--out", str(out))
    assert_refused(outcome, words)
    assert taken.read_text() == "precious\n"
    if where == "adapter":
        assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json"]


def test_the_estimate_of_a_huge_run_samples_its_steps(chats: Path, tmp_path: Path) -> None:
    """A huge ``--steps`` must not walk every step to say how long the run would take."""
    from dataclasses import replace

    job = run.start(
        tmp_path / "a", model="tiny-chitchat", data=chats, lora=LORA,
        config=replace(CONFIG, steps=10**5), device=torch.device("cpu"),
    )  # fmt: skip
    calls: list[int] = []
    sample = job.trainer.sample

    def counted(step: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(step)
        return sample(step, generator)

    job.trainer.sample = counted
    seconds = run.estimate_seconds(job)
    assert 0 < len(calls) <= 2000 and seconds > 0
    assert max(calls) > 9 * 10**4  # spread over the run, not its start alone


@pytest.fixture(scope="module")
def chats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chats(tmp_path_factory.mktemp("data") / "chats.jsonl", 30)


def test_the_compare_table_shows_file_text_as_plain_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from io import StringIO

    from minichat.cli import finetune as command

    rows = [("\x1b]0;pwned\x07[red]asked[/red]", "\x1b[2Jbefore", "[bold]after\u202e")]
    monkeypatch.setattr(run, "answer_before_after", lambda job, count: rows)
    out = StringIO()
    command._compare(object(), 1, Console(file=out, width=200, color_system=None))
    shown = out.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "[red]asked[/red]" in shown and "[bold]after\\u202e" in shown and "\\x1b" in shown


# -- resuming -------------------------------------------------------------------------


def test_resume_from_a_damaged_state_says_so(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(InputError, match="is damaged and cannot be resumed from"):
        run.resume(tmp_path, device=torch.device("cpu"))


def test_resume_from_a_state_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / STATE_FILE)
    with pytest.raises(InputError, match="training_state.pt is a pipe"):
        run.resume(tmp_path, device=torch.device("cpu"))


def saved_state(chats: Path, **changes: object) -> dict[str, object]:
    train = {
        "steps": 4, "batch_size": 4, "learning_rate": 5e-3, "min_learning_rate": 5e-4,
        "warmup_steps": 1, "weight_decay": 0.0, "grad_clip": 1.0, "eval_every": 2,
        "eval_batches": 20, "save_every": 2, "seed": 0, "precision": "fp32",
        "validation_fraction": 0.1,
    }  # fmt: skip
    lora = {"rank": 4, "alpha": 8.0, "layers": 2, "max_len": 128}
    state = {
        "model": {},
        "step": 2,
        "train_config": train,
        "run": {"base": "tiny-chitchat", "data": str(chats), "lora": lora},
        "optimizer": {"state": {}, "param_groups": []},
        "generator": torch.Generator().get_state(),
        "history": {"train": [], "validation": []},
    }
    return {**state, **changes}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"run": {"data": "x", "preset": "tiny"}}, "is not from minichat finetune"),
        ({"run": ["not", "a", "run"]}, "is not from minichat finetune"),
        ({"train_config": {"steps": 4, "unknown": 1}}, "is not from minichat finetune"),
        ({}, "does not fit tiny-chitchat with LoRA rank 4 on 2 blocks"),
        ({"model": {"base_model.x.lora_A.weight": torch.zeros(2)}}, "does not fit tiny-chitchat"),
    ],
)
def test_resume_from_a_foreign_or_broken_state_says_so(
    changes: dict[str, object], words: str, chats: Path, tmp_path: Path
) -> None:
    torch.save(saved_state(chats, **changes), tmp_path / STATE_FILE)
    with pytest.raises(InputError, match=words) as error:
        run.resume(tmp_path, device=torch.device("cpu"))
    assert str(error.value).startswith(str(tmp_path / STATE_FILE))


def test_resume_from_a_state_with_a_broken_optimizer_says_so(chats: Path, tmp_path: Path) -> None:
    job = run.start(
        tmp_path, model="tiny-chitchat", data=chats, lora=LORA, config=CONFIG,
        device=torch.device("cpu"),
    )  # fmt: skip
    job.trainer.run(lambda progress: job.trainer.stop.set())
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    state["optimizer"] = {"state": {}, "param_groups": [{"params": [1, 2]}]}
    torch.save(state, tmp_path / STATE_FILE)
    with pytest.raises(InputError, match="is not from minichat finetune or is damaged"):
        run.resume(tmp_path, device=torch.device("cpu"))


def test_a_state_is_read_once_as_a_capped_regular_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from minichat.errors import InputError
    from minichat.tinygpt import checkpoint

    torch.save({"model": {}, "step": 3}, tmp_path / checkpoint.STATE_FILE)
    assert checkpoint.load_state(tmp_path)["step"] == 3
    monkeypatch.setattr(checkpoint, "STATE_LIMIT", 64)
    with pytest.raises(InputError, match="is larger than"):
        checkpoint.load_state(tmp_path)
    opened: list[object] = []
    monkeypatch.setattr(torch, "load", lambda source, **_: opened.append(source) or {})
    monkeypatch.setattr(checkpoint, "STATE_LIMIT", 1 << 20)
    with pytest.raises(InputError, match="damaged"):
        checkpoint.load_state(tmp_path)
    assert not isinstance(opened[0], (str, Path))  # torch never opens the path itself
