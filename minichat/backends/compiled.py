"""When the fast engine decodes through its compiled step (``tinygpt.aot``), and how it
gets built.

``--compile`` chooses:

- ``auto`` (the default): use the step if it is in the cache; if not, build it in a
  background process at the lowest priority and go on decoding eagerly. The chat
  picks the step up at its next reply once the build lands; a later start finds it
  in the cache. The build outlives a one-shot ``minichat ask``, so it is done once.
- ``wait``: build it now, before the first reply, if it is not cached.
- ``off``: decode eagerly.

Only the CPU is concerned. The cache key (``tinygpt.aot.fingerprint``) covers the
model code, the weights' layout and the torch version; the package is written
atomically. A lock file (holding the builder's pid) keeps two starts from building
the same step; a failed build leaves a note with its error, shown by ``describe``,
and is not retried until the note is removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from minichat.errors import ConfigError
from minichat.files import replacing
from minichat.paths import cache_dir

CHOICES = ("auto", "wait", "off")


def check_compile(value: str) -> str:
    if value not in CHOICES:
        raise ConfigError(f"compile must be one of {', '.join(CHOICES)}, got {value!r}")
    return value


def package_path(fingerprint: str) -> Path:
    """Where the step for a model of this fingerprint is cached. The weights are its
    inputs, so models of one shape (two TinyGPT checkpoints of a preset, say) share it."""
    return cache_dir() / "compiled" / f"step-{fingerprint}.pt2"


class Builds:
    """The files around one package: the package, its lock and its failure note."""

    def __init__(self, package: Path):
        self.package = package
        self.lock = package.with_suffix(".lock")
        self.failed = package.with_suffix(".failed")

    def failure(self) -> str | None:
        try:
            return self.failed.read_text(encoding="utf-8").strip() or "unknown error"
        except OSError:
            return None

    def building(self) -> bool:
        """Whether a live process holds the lock (a stale lock is cleared)."""
        try:
            pid = int(self.lock.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.lock.unlink(missing_ok=True)
            return False
        except PermissionError:
            pass  # alive, someone else's
        return True

    def start(self, folder: Path, quant: str, dtype: str) -> None:
        """Build in a detached, low-priority process, unless one is at it already."""
        self.package.parent.mkdir(parents=True, exist_ok=True)
        if self.building():
            return
        try:  # created exclusively: of two starts at once, one builds
            os.close(os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        entry = f"import sys; from {__name__} import main; sys.exit(main(sys.argv[1:]))"
        command = [sys.executable, "-c", entry, str(folder), quant, dtype, str(self.package)]
        # one compiler job at a time: the chat in the foreground keeps the other core
        env = {**os.environ, "TORCHINDUCTOR_COMPILE_THREADS": "1"}
        # its own process group, so Ctrl+C in the chat does not reach it and it finishes
        # after the chat quits; not its own session, which would give it a scheduler group
        # of its own and an equal share of the CPU whatever its priority (Linux autogroups)
        group: dict[str, Any] = (
            {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        )
        with self.package.with_suffix(".log").open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, **group
            )
        lowest_priority(process.pid)  # before it has loaded anything
        self.lock.write_text(str(process.pid), encoding="utf-8")

    def build_here(self, model: object) -> None:
        """Build in this process (``--compile wait``); a failure is noted and raised."""
        from minichat.tinygpt.aot import build

        self.package.parent.mkdir(parents=True, exist_ok=True)
        try:
            with replacing(self.package) as temporary:
                build(model, temporary)  # type: ignore[arg-type]
        except Exception as error:
            self.failed.write_text(f"{type(error).__name__}: {error}"[:500], encoding="utf-8")
            raise


def lowest_priority(pid: int) -> None:
    """Let process ``pid`` run only when the CPU is otherwise idle: a chat decoding on
    every core would otherwise wait for it at each of its threads' meeting points."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        os.setpriority(os.PRIO_PROCESS, pid, 19)


def main(argv: list[str]) -> int:
    """The background builder: load the model as the chat did, build, note a failure."""
    folder, quant, dtype, package = argv
    builds = Builds(Path(package))
    try:
        from minichat.backends.native import load_native

        backend = load_native(
            Path(folder),
            device="cpu",
            dtype=dtype,
            quant=quant,  # type: ignore[arg-type]
            compile="off",
        )
        from minichat.tinygpt.aot import fingerprint

        model = backend.token_model.model
        if Path(package).stem != f"step-{fingerprint(model)}":
            raise RuntimeError(f"{folder} loads a model of another shape than the chat's")
        builds.build_here(model)
    except Exception as error:  # noted in the failure file by build_here or here
        if not builds.failed.exists():
            builds.failed.write_text(f"{type(error).__name__}: {error}"[:500], encoding="utf-8")
        return 1
    finally:
        builds.lock.unlink(missing_ok=True)
    return 0
