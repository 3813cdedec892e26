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
atomically. A lock keeps two starts from building the same step (a later ``wait``
waits for a background build); a failed build, or a package that fails to load,
leaves a note with its error, shown by the backend's ``describe`` (the banner,
``/model``), and is not tried again until the note is removed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from minichat.safety.files import replacing
from minichat.settings.paths import cache_dir


def package_path(fingerprint: str) -> Path:
    """Where the step for a model of this fingerprint is cached. The weights are its
    inputs, so models of one shape (two TinyGPT checkpoints of a preset, say) share it."""
    return cache_dir() / "compiled" / f"step-{fingerprint}.pt2"


class Builds:
    """The files around one package: the package, its lock, its failure note and the
    builder's log.

    The lock is an ``flock`` on ``.lock``, held by the building process for its whole
    life: the kernel lets go of it however that process ends, so a lock is never stale.
    """

    def __init__(self, package: Path):
        self.package = package
        self.lock = package.with_suffix(".lock")
        self.failed = package.with_suffix(".failed")
        self.log = package.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None  # a builder started here

    def failure(self) -> str | None:
        """Why the last build failed, with how to retry; None if it did not."""
        try:
            text = self.failed.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        first = text.splitlines()[0] if text else "unknown error"
        return f"{first} (details in {self.log}; remove {self.failed} to retry)"

    def note_failure(self, error: BaseException) -> None:
        self.package.parent.mkdir(parents=True, exist_ok=True)
        self.failed.write_text(f"{type(error).__name__}: {error}", encoding="utf-8")

    def _lock(self, *, wait: bool) -> int | None:
        """Take the lock: a descriptor holding it (closing it lets go), or None when
        another process holds it and ``wait`` is false."""
        import fcntl

        self.package.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def building(self) -> bool:
        """Whether some process holds the lock now."""
        if self.process is not None:
            self.process.poll()  # reaps it once it has ended
        if sys.platform == "win32":
            return False
        fd = self._lock(wait=False)
        if fd is None:
            return True
        os.close(fd)
        return False

    def start(self, folder: Path, quant: str, dtype: str, adapter: Path | None = None) -> bool:
        """Build in a low-priority process of its own, unless one is at it already; it
        loads the model as the chat did (``adapter``: merged, which keeps some layers
        at int8). False where that cannot be done (no ``flock``: Windows)."""
        if sys.platform == "win32":
            return False
        fd = self._lock(wait=False)
        if fd is None:  # another start builds it
            return True
        builder = "minichat.backends.step_builder"
        entry = f"import sys; from {builder} import main; sys.exit(main(sys.argv[1:]))"
        command = [sys.executable, "-c", entry, str(folder), quant, dtype, str(self.package)]
        command += [str(adapter)] if adapter is not None else []
        # one compiler job at a time: the chat in the foreground keeps the other core
        env = {**os.environ, "TORCHINDUCTOR_COMPILE_THREADS": "1"}
        try:
            with self.log.open("w", encoding="utf-8") as log:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    pass_fds=(fd,),  # the child holds the lock until it exits
                )
        except OSError as error:
            self.note_failure(error)
            return False
        finally:
            os.close(fd)
        lowest_priority(process.pid)  # at once, before it has loaded anything
        self.process = process
        return True

    def build_here(self, model: object) -> None:
        """Build in this process (``--compile wait``), waiting first for a build that
        another process has under way; a failure is noted and raised."""
        if sys.platform == "win32":
            self.build_unlocked(model)
            return
        fd = self._lock(wait=True)
        assert fd is not None  # a waiting lock is always taken
        try:
            if not self.package.is_file():
                self.build_unlocked(model)
        finally:
            os.close(fd)

    def build_unlocked(self, model: object) -> None:
        from minichat.tinygpt.aot import build

        try:
            with replacing(self.package) as temporary:
                build(model, temporary)  # type: ignore[arg-type]
        except Exception as error:
            self.note_failure(error)
            raise


def lowest_priority(pid: int) -> None:
    """Let process ``pid`` run only when the CPU is otherwise idle: a chat decoding on
    every core would otherwise wait for it at each of its threads' meeting points."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or the process has ended
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    # nice 19 too: its CPU time then counts as "nice" in /proc/stat, which the chat's
    # thread choice (engine.threads) leaves out, since such work yields to it
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, pid, 19)
