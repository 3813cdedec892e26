"""``minichat train`` as a user runs it: real subprocesses on a small generated corpus."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import arithmetic_chats
from tests.test_cli import assert_one_error_line, minichat

FAST = ["--preset", "tiny", "--context", "32", "--batch-size", "2", "--eval-every", "2"]


@pytest.fixture
def chats_file(tmp_path: Path) -> Path:
    path = tmp_path / "chats.jsonl"
    lines = [json.dumps({"messages": [m.to_dict() for m in c]}) for c in arithmetic_chats(120)]
    path.write_text("\n".join(lines) + "\n")
    return path


def saved_step(folder: Path) -> int:
    return int(json.loads((folder / "config.json").read_text())["minichat"]["step"])


def test_train_writes_a_checkpoint_that_chats_and_resumes(chats_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = minichat("train", "--data", str(chats_file), "--out", str(out), "--steps", "4", *FAST)
    assert result.returncode == 0, result.stderr
    assert "validation loss" in result.stderr and f"tiny:{out}" in result.stderr
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "loss.png"} <= names
    assert "training_state.pt" in names and saved_step(out) == 4

    reply = minichat("ask", "--model", f"tiny:{out}", "-n", "5", "--json", "what is 1 plus 2?")
    assert reply.returncode == 0, reply.stderr
    assert json.loads(reply.stdout)["model"] == f"tiny:{out}"

    again = minichat("train", "--resume", str(out), "--steps", "6")
    assert again.returncode == 0, again.stderr
    assert "steps 4 to 6" in again.stderr and saved_step(out) == 6


def test_ctrl_c_saves_a_checkpoint_and_exits_130(chats_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(chats_file), "--out", str(out), "--steps", "100000", *FAST]
    process = subprocess.Popen(
        [sys.executable, "-m", "minichat", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stderr is not None
    header = process.stderr.readline().decode()  # printed when training starts
    assert header.startswith("TinyGPT"), header
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, rest
    assert b"stopped at step" in rest and b"--resume" in rest
    assert saved_step(out) >= 0 and (out / "training_state.pt").is_file()


def test_train_refuses_bad_input_in_one_line(chats_file: Path, tmp_path: Path) -> None:
    assert_one_error_line(minichat("train", "--preset", "huge"), "unknown preset 'huge'")
    missing = minichat("train", "--data", str(tmp_path / "none.txt"))
    assert_one_error_line(missing, "cannot read training data")
    out = tmp_path / "run"
    minichat("train", "--data", str(chats_file), "--out", str(out), "--steps", "1", *FAST)
    again = minichat("train", "--data", str(chats_file), "--out", str(out), "--steps", "1")
    assert_one_error_line(again, "already holds a checkpoint")
    assert_one_error_line(minichat("train", "--resume", str(out), "--lr", "1"), "only --steps")
    for flag, value in (("--preset", "small"), ("--data", "x.txt"), ("--out", "elsewhere")):
        assert_one_error_line(minichat("train", "--resume", str(out), flag, value), "only --steps")
    assert_one_error_line(
        minichat("train", "--resume", str(out), "--steps", "1"), "already at step 1"
    )
    assert_one_error_line(minichat("train", "--steps", "0"), "steps must be at least 1")
    assert_one_error_line(minichat("train", "--resume", str(tmp_path)), "no training_state.pt")
