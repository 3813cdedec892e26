"""Reading files safely and writing them atomically.

Reading: ``read_regular`` reads at most a given number of bytes of a regular file,
and refuses anything else in one line: a device such as ``/dev/zero`` would be read
until memory runs out, a FIFO would wait forever for a writer, a folder or socket
has no text. The check is made on the opened descriptor, so a file swapped for
something else between a check and the open is still caught.

Writing: everything minichat saves (chats, checkpoints) goes through ``replacing``:
the data is written to a temporary file in the same folder, flushed to disk, then
renamed over the target, so a crash or Ctrl+C mid-write leaves the previous file
intact.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PIECE = 16 << 20  # bytes read at a time


class NotRegularFile(OSError):
    """The path is a folder, device, FIFO or socket, not a regular file."""


KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFIFO: "a pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
}


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, in words ("a device", "a pipe (FIFO)", ...)."""
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_regular(path: Path | str, limit: int, *, follow_links: bool = True) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path`` (one more than the limit,
    so a caller can tell a file that is longer). ``NotRegularFile`` for anything else,
    ``OSError`` as the system gives it (missing, no permission, a link where
    ``follow_links`` is off)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    before = os.stat(path, follow_symlinks=follow_links)
    if not stat.S_ISREG(before.st_mode):  # not even opened: opening a device may act
        raise NotRegularFile(f"{path} is {kind_of(before.st_mode)}, not a regular file")
    descriptor = os.open(path, flags)  # O_NONBLOCK: a FIFO put here meanwhile opens at once
    try:
        opened = os.fstat(descriptor)
        if not stat.S_ISREG(opened.st_mode):
            raise NotRegularFile(f"{path} is {kind_of(opened.st_mode)}, not a regular file")
        return _read_upto(descriptor, limit + 1, opened.st_size)
    finally:
        os.close(descriptor)


def read_given(path: Path, limit: int, flag: str, wanted: str) -> bytes:
    """A file the user named with ``flag``, of at most ``limit`` bytes; what is wrong
    (no such file, a folder, too big) in one ``ConfigError`` line that names ``wanted``."""
    from minichat.errors import ConfigError

    try:
        data = read_regular(path, limit)
    except NotRegularFile as error:
        raise ConfigError(f"{flag}: {error}; give {wanted}") from None
    except FileNotFoundError:
        raise ConfigError(f"{flag}: no file at {path}") from None
    except OSError as error:
        raise ConfigError(f"{flag}: cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise ConfigError(f"{flag}: {path} is over {limit // 1024} KiB; give {wanted}")
    return data


def _read_upto(descriptor: int, most: int, size: int) -> bytes:
    """At most ``most`` bytes, read in pieces: asking for all of ``most`` at once would
    set that much memory aside first, gigabytes for a cap of gigabytes. The file's size
    sizes the first piece; a file that grows while read is read on, to the cap."""
    data = bytearray()
    want = min(size + 1, most)
    while len(data) < most:
        piece = os.read(descriptor, max(min(want - len(data), PIECE), 1))
        if not piece:
            break
        data += piece
        want = most if len(data) >= want else want
    return bytes(data)


@contextmanager
def replacing(path: Path, *, private: bool = False) -> Iterator[Path]:
    """A temporary path to write; on success it replaces ``path``, on error it is removed.
    ``private``: the file is the user's alone (0600), as in minichat's data and cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # the same suffix as the target: some writers judge a file by its name
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp makes the file private (0600), and writers that recreate it may too;
        # give it the mode a plain open() would, unless it is to stay private
        os.chmod(temporary, 0o600 if private else _plain_mode(path))
        with temporary.open("rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str, *, private: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with replacing(path, private=private) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _plain_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask
