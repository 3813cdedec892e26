"""What logging costs a reply: the time to keep one exchange in the chat log.

Run as ``.venv/bin/python bench/log.py`` from the repository root. It keeps a
conversation of ``--turns`` exchanges (each reply a paragraph, the whole
conversation rewritten as it stands, as the chat core does) in a fresh log, and
prints the median and the worst time per exchange, next to the time to write the
same conversation as a ``/save`` file (atomic: a temporary file, fsync, rename)
measured in the same run: the ratio says what the log costs against what a user
already pays to keep a chat. The target: under 5 ms per exchange.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minichat.backend import Message  # noqa: E402
from minichat.chat import transcript  # noqa: E402
from minichat.config import GenerationConfig  # noqa: E402
from minichat.log.store import ChatLog, Record, new_id  # noqa: E402

REPLY = (
    "The relay daemon listens on port 48213 by default; set relay.port in the config "
    "file to change it, and restart the daemon so the new port takes effect. "
) * 3


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    args = parser.parse_args()
    config = GenerationConfig()
    with tempfile.TemporaryDirectory() as folder:
        log = ChatLog(Path(folder) / "logs.db")
        log.conversations()  # the database made, as by an earlier chat
        messages: list[Message] = []
        logged: list[float] = []
        saved: list[float] = []
        cid = new_id()
        for turn in range(args.turns):
            asked = f"Question {turn}: which port does the relay use, and how do I change it?"
            messages += [Message("user", asked), Message("assistant", REPLY)]
            data = [transcript.message_data(m) for m in messages]
            record = Record(
                model="smollm2",
                adapter=None,
                system=None,
                settings=config.to_dict(),
                surface="bench",
                prompt=asked,
                reply=REPLY,
                finish="end_turn",
                cut_off=False,
                prompt_tokens=100 * turn,
                new_tokens=60,
                first_token_s=0.2,
                total_s=2.0,
                messages=data,
            )
            start = time.perf_counter()
            log.record(cid, record)
            logged.append(time.perf_counter() - start)
            start = time.perf_counter()
            kept = transcript.Transcript("smollm2", None, config, list(messages))
            transcript.save(Path(folder) / "chat.json", kept)
            saved.append(time.perf_counter() - start)
    log_ms, save_ms = statistics.median(logged) * 1000, statistics.median(saved) * 1000
    print(f"CPU: {cpu()}; {args.turns} exchanges, the last with {len(messages)} messages")
    print(f"log one exchange:   median {log_ms:.2f} ms, worst {max(logged) * 1000:.2f} ms")
    print(f"/save the same chat: median {save_ms:.2f} ms, worst {max(saved) * 1000:.2f} ms")
    print(
        f"log / save: {log_ms / save_ms:.2f}x; target under 5 ms per exchange: "
        f"{'met' if log_ms < 5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
