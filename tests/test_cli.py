"""The minichat command as a user runs it: real processes, exit codes, error lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def minichat(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "minichat", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minichat: error: "), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr


def test_piped_prompt_prints_the_raw_reply() -> None:
    result = minichat("-m", "echo", stdin=b"What is the capital of France?\n")
    assert (result.returncode, result.stdout) == (0, "You said: What is the capital of France?\n")


def test_ask_with_flags_and_json() -> None:
    result = minichat(
        "ask", "hello there", "-m", "echo", "-t", "0.7", "--top-p", "0.9", "--seed", "1", "--json"
    )
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["text"] == "You said: hello there"
    assert data["finish_reason"] == "end_turn"
    assert data["usage"]["completion_tokens"] == 4
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + 4
    assert data["usage"]["prompt_tokens_details"]["cached_tokens"] == 0  # no earlier turn
    assert set(data["timings"]) >= {"load_s", "time_to_first_token_s", "tokens_per_second"}


def test_flags_before_the_subcommand_count() -> None:
    result = minichat("-m", "echo", "--stop", "capital", "ask", "the capital of France")
    assert (result.returncode, result.stdout) == (0, "You said: the \n")


def test_stop_and_max_tokens_reach_the_backend() -> None:
    result = minichat("ask", "one two three four", "-m", "echo", "-n", "3", "--json")
    data = json.loads(result.stdout)
    assert data["text"] == "You said: one" and data["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (["ask", "hi", "-m", "echo", "-t", "hot"], b"", "flag --temperature: temperature must be"),
        (["ask", "hi", "-m", "echo", "--top-p", "2"], b"", "top_p must be in (0, 1]"),
        (["ask", "hi", "-m", "ech"], b"", "unknown model 'ech' (did you mean echo?)"),
        (["ask", "hi", "-m", "hf:/no/such/model"], b"", "no model folder at /no/such/model"),
        (["ask", "hi", "-m", "echo", "--device", "tpu"], b"", "device must be one of"),
        (["ask", "hi", "-m", "echo", "--quant", "int3"], b"", "flag --quant: quant must be one of"),
        (["ask", "hi", "--engine", "hf", "--quant", "int4"], b"", "needs the fast engine"),
        (["ask", "hi", "-m", "echo", "--compile", "now"], b"", "flag --compile: compile must be"),
        (["ask", "hi", "-m", "tiny:/no/such/run"], b"", "no TinyGPT checkpoint at /no/such/run"),
        (
            ["ask", "hi", "-m", "tiny-chitchat", "-n", "400"],
            b"",
            "reply limit of 400 tokens leaves no room for a prompt in this model's context of 256",
        ),
        (["-m", "echo"], b"   \n", "the prompt is empty"),
        (["-m", "echo"], b"caf\xe9\n", "stdin is not UTF-8 text (byte 0xe9 at offset 3)"),
        (["-m", "echo"], b"\x7fELF\x00\x01", "binary data"),
        (
            ["ask", "word " * 5000, "-m", "echo"],
            b"",
            "shorten the message or lower the reply limit (--max-tokens",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args: list[str], stdin: bytes, words: str) -> None:
    assert_one_error_line(minichat(*args, stdin=stdin), words)


def test_bad_environment_value_is_one_line() -> None:
    result = minichat("ask", "hi", "-m", "echo", env={"MINICHAT_TOP_K": "many"})
    assert_one_error_line(result, "env MINICHAT_TOP_K: top_k must be a whole number")


def test_unknown_flag_is_a_usage_error() -> None:
    result = minichat("ask", "hi", "--tempreature", "1")
    assert result.returncode == 2 and "No such option" in result.stderr


def test_impossible_device_and_dtype_are_refused_in_words(tiny_model_dir: Path) -> None:
    result = minichat(
        "ask", "hi", "-m", f"hf:{tiny_model_dir}", "--dtype", "fp16", "--device", "cpu"
    )
    assert_one_error_line(result, "--dtype fp16 on the CPU")
    import torch

    if not torch.cuda.is_available():
        result = minichat("ask", "hi", "-m", f"hf:{tiny_model_dir}", "--device", "cuda")
        assert_one_error_line(result, "CUDA is not available")


def test_any_local_transformers_model(tiny_model_dir: Path) -> None:
    result = minichat(
        "ask",
        "hi",
        "-m",
        f"hf:{tiny_model_dir}",
        "-t",
        "0",
        "-n",
        "5",
        "--json",
        "--device",
        "cpu",
        "--dtype",
        "bf16",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["usage"]["completion_tokens"] <= 5


def test_models_lists_the_default() -> None:
    result = minichat("models")
    assert result.returncode == 0
    assert "smollm2 (default)" in result.stdout and "echo" in result.stdout


def test_config_shows_values_and_their_sources(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("top_k: 12\n")
    result = minichat(
        "config", "--config", str(config), "-t", "0.2", env={"MINICHAT_SEED": "5", "COLUMNS": "200"}
    )
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "0.2" in lines["temperature"] and "flag --temperature" in lines["temperature"]
    assert "12" in lines["top_k"] and f"config file {config}" in lines["top_k"]
    assert "5" in lines["seed"] and "env MINICHAT_SEED" in lines["seed"]
    assert "default" in lines["top_p"]


def test_chat_loop_keeps_the_conversation() -> None:
    result = minichat("chat", "-m", "echo", stdin=b"hello\nsecond line\n/exit\n")
    assert result.returncode == 0
    assert "You said: hello\n" in result.stdout and "You said: second line\n" in result.stdout


def imported(*argv: str, modules: tuple[str, ...]) -> tuple[str, dict[str, bool]]:
    """Run ``minichat ARGV`` in a fresh interpreter: what it printed, and which of
    ``modules`` it imported."""
    code = (
        f"import sys\nfrom minichat.cli.app import main\nsys.argv = {['minichat', *argv]!r}\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(*(name in sys.modules for name in {modules!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    *printed, last = result.stdout.strip().splitlines() or [""]
    words = last.split()
    assert len(words) == len(modules) and set(words) <= {"True", "False"}, result.stderr
    return "\n".join(printed), dict(zip(modules, (w == "True" for w in words), strict=True))


def test_echo_path_never_imports_torch() -> None:
    _, loaded = imported("ask", "hi", "-m", "echo", modules=("torch",))
    assert loaded == {"torch": False}


def test_corrupt_model_weights_are_one_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = minichat("ask", "hi", "-m", f"hf:{broken}")
    assert_one_error_line(result, "corrupt or incomplete")


def test_chat_resume_continues_a_saved_chat(tmp_path: Path) -> None:
    saved = tmp_path / "chat.json"
    first = minichat("chat", "-m", "echo", "-t", "0.3", stdin=f"hello\n/save {saved}\n".encode())
    assert first.returncode == 0 and saved.is_file()
    result = minichat("chat", "--resume", str(saved), stdin=b"/params\nagain\n")
    assert result.returncode == 0, result.stderr
    assert ">>> hello\nYou said: hello\n" in result.stdout  # the history is shown again
    assert "You said: again" in result.stdout
    temperature = next(line for line in result.stdout.splitlines() if "temperature" in line)
    assert "0.3" in temperature and "--resume chat.json" in temperature
    damaged = tmp_path / "bad.json"
    damaged.write_text("{not json")
    assert_one_error_line(
        minichat("chat", "--resume", str(damaged)), "is not a saved minichat chat"
    )


def test_a_piped_chat_keeps_notes_off_stdout_and_fails_on_errors() -> None:
    result = minichat("chat", "-m", "echo", stdin=b"hi\n/temp 9\n/nosuch\n")
    assert result.returncode == 1
    assert result.stdout == "You said: hi\n"
    assert "temperature must be in [0, 5]" in result.stderr and "/nosuch" in result.stderr
    assert (
        minichat("chat", "-m", "echo", stdin=b'"""one\ntwo"""\n').stdout == "You said: one\ntwo\n"
    )


def test_every_parameter_by_its_full_name_and_one_shot_flags_before_the_subcommand() -> None:
    result = minichat("ask", "one two three", "-m", "echo", "--max-new-tokens", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["usage"]["completion_tokens"] == 2
    piped = minichat("-v", "-m", "echo", stdin=b"q\n")  # the README: flags before or after
    assert (piped.returncode, piped.stdout) == (0, "You said: q\n")
    described, stats = piped.stderr.splitlines()  # -v: what runs the model, then the figures
    assert described == "minichat: echo (echo, context 4096)"
    assert stats.startswith("prompt tokens ") and "ended: end_turn" in stats
    before = minichat("--json", "-m", "echo", "ask", "q")
    assert json.loads(before.stdout)["text"] == "You said: q"


def test_json_and_verbose_belong_to_one_shot_answers() -> None:
    result = minichat("-v", "chat", "-m", "echo")
    assert_one_error_line(result, "--json and -v go with one-shot answers")
