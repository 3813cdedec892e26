"""Every example runs as documented, so none of them rots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_custom_backend() -> None:
    result = run(str(EXAMPLES / "custom_backend.py"))
    assert result.returncode == 0, result.stderr
    assert "> I like tea\nGreen, black or oolong?" in result.stdout
    assert "6 messages kept" in result.stdout


def test_one_shot() -> None:
    result = run(str(EXAMPLES / "one_shot.py"), "Is tea hot?", "echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You said: Is tea hot?\n[")
    assert "reply tokens 5 · " in result.stdout and "ended: end_turn" in result.stdout


def test_config_file() -> None:
    config = EXAMPLES / "config.yaml"
    result = run("-m", "minichat", "config", "--config", str(config))
    assert result.returncode == 0, result.stderr
    temperature = next(line for line in result.stdout.splitlines() if "temperature" in line)
    assert "0.3" in temperature and "config file" in temperature
    assert (
        "MCP server time: python -m mcp_server_time --local-timezone UTC (trusted)" in result.stdout
    )


def test_turn_events() -> None:
    result = run(str(EXAMPLES / "turn_events.py"), "Is tea hot?", "echo")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[no tools: echo (echo) cannot call tools")
    assert lines[1] == "You said: Is tea hot?"
    assert lines[2].startswith("[prompt tokens ") and lines[2].endswith("ended: end_turn]")
