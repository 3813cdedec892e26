"""The real `minichat chat` in a pseudo-terminal, on the real default model (slow).

pexpect runs the command in a pty; pyte plays the terminal: it keeps the screen
and answers prompt-toolkit's cursor-position requests, as a terminal emulator
does, so the test reads the screen a user would see, bottom toolbar included.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

pytestmark = pytest.mark.slow

ROWS, COLUMNS = 30, 100
CURSOR_REQUEST = "\x1b[6n"


class Terminal:
    def __init__(self, *args: str):
        env = {**os.environ, "TERM": "xterm-256color"}
        self.child = pexpect.spawn(
            sys.executable, list(args), env=env, encoding="utf-8", dimensions=(ROWS, COLUMNS)
        )
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.Stream(self.screen)

    def pump(self) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=0.1)
        except pexpect.TIMEOUT:
            return
        for _ in range(data.count(CURSOR_REQUEST)):
            row, column = self.screen.cursor.y + 1, self.screen.cursor.x + 1
            self.child.send(f"\x1b[{row};{column}R")
        self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, pattern: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if re.search(pattern, self.text()):
                return self.text()
            if not self.child.isalive():
                break
        raise AssertionError(f"{pattern!r} never appeared; the screen:\n{self.text()}")

    def type(self, line: str) -> None:
        self.child.send(line + "\r")


def test_question_temp_model_swap_and_exit() -> None:
    term = Terminal("-m", "minichat", "chat", "--temperature", "0", "--no-history")
    try:
        term.wait_for(r"/help for commands")
        term.wait_for(r"smollm2 │ temp 0 top_p 0.9 top_k 50 max 512 │ context 0/8192 tokens")
        term.type("What is the capital of Germany?")
        term.wait_for(r"Berlin.*\n>>>")
        term.wait_for(r"context [1-9]\d*/8192 tokens")  # the toolbar counts the turn
        term.type("/temp 0")
        term.wait_for(r"temperature = 0\.0")
        term.type("/model echo")
        term.wait_for(r"now echo \(echo, context 4096\); 2 messages kept")
        term.type("and now?")
        screen = term.wait_for(r"You said: and now\?")
        term.wait_for(r"echo │ temp 0 .*context \d+/4096 tokens")
        term.type("/exit")
        term.child.expect(pexpect.EOF, timeout=30)
    finally:
        term.child.close()
    assert term.child.exitstatus == 0
    assert "Traceback" not in screen
