"""Opening a path beneath a folder, so that no link or race leads out of it.

The file tools let a model name any path; the path must lead to something inside
the working folder. Checking the path first and opening it afterwards is a race:
between the two, a folder on the way can be swapped for a symlink to ``/``. So the
path is walked here one name at a time, each opened relative to the folder opened
before it (``dir_fd``) with ``O_NOFOLLOW``: a name that is a symlink is never
followed by the system. A symlink found on the way is read and its target walked
the same way, from the folder it sits in, so a link that stays inside still works
and one that leads out is refused whenever it is met. Hidden names (``.env``,
``.git``) are refused wherever they appear, and only folders and regular files are
opened at all: a device, FIFO or socket is named and left shut.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from minichat.safety.files import kind_of
from minichat.tools.base import ToolError

MAX_LINKS = 40  # as the system's own limit: a loop of links ends here
FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def open_beneath(root: Path, path: str) -> int:
    """A descriptor of the folder or regular file ``path`` names inside ``root``
    (relative to it, or absolute and inside it); ``ToolError`` when it leads out, is
    hidden, missing, or neither a folder nor a regular file. The caller closes it."""
    if not path.strip():
        raise ToolError("the path is empty; give one relative to the working folder")
    if "\0" in path:
        raise ToolError(f"`{path!r}` has a NUL character; it cannot be a path")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as JSON's "\ud800" can carry
        raise ToolError(f"the path {path!r} is not valid text") from None
    pending = _relative(root, path)
    if any(name.startswith(".") and name not in (".", "..") for name in pending):
        raise ToolError(f"`{path}` is hidden (a name starting with '.'); it is not read")
    folders = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))]
    links = 0
    try:
        while pending:
            name = pending.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if len(folders) == 1:
                    raise ToolError(_outside(path))
                os.close(folders.pop())
                continue
            if name.startswith("."):  # .env, .git/config, .ssh: never read, even through a link
                raise ToolError(f"`{path}` is hidden (a name starting with '.'); it is not read")
            found = _lstat(folders[-1], name, path)
            if stat.S_ISLNK(found.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise ToolError(f"`{path}` goes through too many symbolic links")
                try:
                    target = os.readlink(name, dir_fd=folders[-1])
                except OSError:  # no longer a link: look at the name again
                    pending.insert(0, name)
                    continue
                if os.path.isabs(target):
                    pending = _relative(root, target, path) + pending
                    while len(folders) > 1:  # an absolute target is walked from the root
                        os.close(folders.pop())
                else:
                    pending = target.split(os.sep) + pending
                continue
            if not (stat.S_ISDIR(found.st_mode) or stat.S_ISREG(found.st_mode)):
                raise ToolError(f"`{path}` is {kind_of(found.st_mode)}, not a file; it is not read")
            if pending and not stat.S_ISDIR(found.st_mode):
                raise ToolError(f"`{path}` does not exist in the working folder")
            folders.append(_open(folders[-1], name, path))
        return folders.pop()  # the rest are closed below
    finally:
        for descriptor in folders:
            os.close(descriptor)


def _relative(root: Path, path: str, named: str | None = None) -> list[str]:
    """``path``'s names relative to ``root``; an absolute one must lie inside it."""
    if not os.path.isabs(path):
        if os.path.normpath(path).split(os.sep)[0] == "..":  # out before a name is looked up
            raise ToolError(_outside(named or path))
        return path.split(os.sep)
    absolute = Path(os.path.normpath(path))
    if not absolute.is_relative_to(root):
        # reached through a link above the working folder (/tmp on macOS, a linked
        # home): its real path may lie inside. Only the start is taken from it: the
        # walk from the root below still follows no link out, whatever changes
        absolute = Path(os.path.realpath(path))
        if not absolute.is_relative_to(root):
            raise ToolError(_outside(named or path))
    return list(absolute.relative_to(root).parts)


def _lstat(folder: int, name: str, path: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        raise ToolError(f"`{path}` does not exist in the working folder") from None
    except OSError as error:
        raise ToolError(f"cannot use the path `{path}`: {error.strerror}") from None


def _open(folder: int, name: str, path: str) -> int:
    """``name`` in ``folder``, opened without following a link, checked once open: what
    was looked at a moment ago may have been swapped since."""
    try:
        descriptor = os.open(name, FLAGS, dir_fd=folder)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):  # became a link meanwhile
            raise ToolError(f"`{path}` changed while it was opened; ask again") from None
        if error.errno == errno.ENOENT:
            raise ToolError(f"`{path}` does not exist in the working folder") from None
        raise ToolError(f"cannot open `{path}`: {error.strerror}") from None
    mode = os.fstat(descriptor).st_mode
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        os.close(descriptor)
        raise ToolError(f"`{path}` is {kind_of(mode)}, not a file; it is not read")
    return descriptor


def _outside(path: str) -> str:
    return f"`{path}` is outside the working folder; only paths inside it are allowed"
