"""The file tools under attack: links, races, special files and odd names never lead a
model outside the working folder, hang it, or crash the chat."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from minichat.safety.files import NotRegularFile, read_regular
from minichat.settings.paths import cache_dir, data_dir, private_folder
from minichat.tools.base import ToolError
from minichat.tools.builtin import run_list_dir, run_read_file

SWAPS = 3000  # folder/symlink swaps a racing thread makes while the tools read


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    inside = tmp_path / "work"
    inside.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("SECRET", encoding="utf-8")
    monkeypatch.chdir(inside)
    return inside


def race(folder: Path, attempt: object) -> list[str]:
    """Swap ``sub`` between a real folder and a link out while ``attempt`` runs; what
    each attempt returned (or the error it gave), for every attempt made."""
    real, link, outside = folder / "sub.real", folder / "sub.link", folder.parent / "outside"
    real.mkdir()
    (real / "secret.txt").write_text("inside", encoding="utf-8")
    os.symlink(outside, link)
    os.rename(real, folder / "sub")
    results: list[str] = []
    stop = threading.Event()

    def swap() -> None:
        for turn in range(SWAPS):
            if stop.is_set():
                break
            os.rename(folder / "sub", real if turn % 2 == 0 else link)
            os.rename(link if turn % 2 == 0 else real, folder / "sub")

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        while swapper.is_alive() and len(results) < 20 * SWAPS:
            try:
                results.append(attempt())  # type: ignore[operator]
            except ToolError as error:
                results.append(f"error: {error}")
    finally:
        stop.set()
        swapper.join()
    return results


def test_read_file_never_reads_outside_while_folders_are_swapped(folder: Path) -> None:
    results = race(folder, lambda: run_read_file({"path": "sub/secret.txt"}))
    assert "inside" in results  # the race really ran both ways
    assert not any("SECRET" in result for result in results)


def test_list_dir_never_lists_outside_while_folders_are_swapped(folder: Path) -> None:
    (folder.parent / "outside" / "private-name.txt").write_text("", encoding="utf-8")
    results = race(folder, lambda: run_list_dir({"path": "sub"}))
    assert "secret.txt" in results
    assert not any("private-name" in result for result in results)


def test_a_fifo_is_refused_at_once(folder: Path) -> None:
    os.mkfifo(folder / "pipe")
    with pytest.raises(ToolError, match="`pipe` is a pipe"):
        run_read_file({"path": "pipe"})
    assert run_list_dir({"path": "."}) == "pipe"


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "/proc/self/environ", "/"])
def test_links_to_special_places_are_refused(folder: Path, target: str) -> None:
    os.symlink(target, folder / "thing")
    with pytest.raises(ToolError, match="outside the working folder"):
        run_read_file({"path": "thing"})
    with pytest.raises(ToolError, match="outside the working folder"):
        run_list_dir({"path": "thing"})


def test_links_that_stay_inside_are_followed(folder: Path) -> None:
    (folder / "notes").mkdir()
    (folder / "notes" / "todo.md").write_text("buy milk", encoding="utf-8")
    os.symlink("notes", folder / "alias")
    os.symlink(folder / "notes" / "todo.md", folder / "absolute.md")
    os.symlink("../notes/todo.md", folder / "notes" / "again.md")
    assert run_read_file({"path": "alias/todo.md"}) == "buy milk"
    assert run_read_file({"path": "absolute.md"}) == "buy milk"
    assert run_read_file({"path": "notes/again.md"}) == "buy milk"
    assert run_list_dir({"path": "alias"}) == "again.md\ntodo.md"
    os.symlink(folder.parent / "outside", folder / "away")
    # a link to a folder inside is a folder; one that leads out is a name, and no more
    assert run_list_dir({"path": "."}) == "absolute.md\nalias/\naway\nnotes/"


def test_a_link_to_a_hidden_name_or_a_loop_is_refused(folder: Path) -> None:
    (folder / ".env").write_text("KEY=1", encoding="utf-8")
    os.symlink(".env", folder / "settings.txt")
    with pytest.raises(ToolError, match="is hidden"):
        run_read_file({"path": "settings.txt"})
    os.symlink("loop2", folder / "loop1")
    os.symlink("loop1", folder / "loop2")
    with pytest.raises(ToolError, match="too many symbolic links"):
        run_read_file({"path": "loop1"})


def test_odd_paths_are_one_line(folder: Path) -> None:
    (folder / "a.txt").write_text("a", encoding="utf-8")
    for path, says in [
        ("a.txt/b", "does not exist"),
        ("a\0b", "NUL"),
        ("\ud800", "not valid text"),
        ("x" * 5000, "cannot use the path"),
        ("/", "outside the working folder"),
        ("~/.ssh/id_rsa", "is hidden"),  # no ~ expansion, and .ssh is hidden anywhere
        ("~/notes.txt", "does not exist"),
    ]:
        with pytest.raises(ToolError, match=says):
            run_read_file({"path": path})


def test_names_that_are_not_utf8_are_listed_escaped(folder: Path) -> None:
    os.close(os.open(os.fsencode(folder) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY, 0o600))
    listed = run_list_dir({"path": "."})
    assert listed == "bad\\xff.txt"
    listed.encode("utf-8")  # a tokenizer or terminal takes it


def test_a_file_that_grows_while_read_is_capped(folder: Path) -> None:
    (folder / "big.log").write_bytes(b"x" * (5 * 1024 * 1024))
    shown = run_read_file({"path": "big.log"})
    assert shown.endswith(
        "[truncated: the file has more than 4194304 bytes; showing the first 20000]"
    )


def test_read_regular_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path in ("/dev/zero", tmp_path / "fifo", tmp_path):
        with pytest.raises(NotRegularFile):
            read_regular(path, 10)
    (tmp_path / "f").write_bytes(b"0123456789abc")
    assert read_regular(tmp_path / "f", 5) == b"012345"  # one past the limit: "longer"
    os.symlink(tmp_path / "f", tmp_path / "link")
    with pytest.raises(OSError):
        read_regular(tmp_path / "link", 5, follow_links=False)


def test_minichat_keeps_its_folders_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    # the platform's folders: made private, and an older one open to others closed
    (tmp_path / "platform-data").mkdir(mode=0o755)
    (tmp_path / "platform-data").chmod(0o755)
    monkeypatch.delenv("MINICHAT_DATA_DIR")
    monkeypatch.delenv("MINICHAT_CACHE_DIR", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda _: str(tmp_path / "platform-data"))
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda _: str(tmp_path / "a" / "cache"))
    for folder in (cache_dir(), data_dir(), private_folder(tmp_path / "a" / "cache" / "b")):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    # a folder the user named: made private if minichat makes it, left as it is if not
    (tmp_path / "shared").mkdir(mode=0o755)
    (tmp_path / "shared").chmod(0o755)
    monkeypatch.setenv("MINICHAT_DATA_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("MINICHAT_CACHE_DIR", str(tmp_path / "new"))
    assert stat.S_IMODE(data_dir().stat().st_mode) == 0o755
    assert stat.S_IMODE(cache_dir().stat().st_mode) == 0o700


def test_the_input_history_is_the_users_alone(tmp_path: Path) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from minichat.backends.echo import EchoBackend
    from minichat.chat.session import ChatSession
    from minichat.repl.prompt import history_file, prompt_reader
    from minichat.settings.layered import load_settings

    session = ChatSession.start(EchoBackend(), load_settings({}, environ={}))
    with create_pipe_input() as pipe:
        prompt_reader(session, history=True, input=pipe, output=DummyOutput())
    assert stat.S_IMODE(history_file().stat().st_mode) == 0o600


def test_read_regular_sets_no_memory_aside_for_its_cap(tmp_path: Path) -> None:
    """A cap of gigabytes must not reserve gigabytes before a small file is read: in a
    process whose address space is limited, the old read failed with MemoryError."""
    import subprocess
    import sys

    (tmp_path / "small").write_bytes(b"x" * 1000)
    script = (
        "import resource; from minichat.safety.files import read_regular;"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30));"
        f"print(len(read_regular({str(tmp_path / 'small')!r}, 8 << 30)))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "1000", done.stderr


def test_read_regular_reads_files_whose_size_says_nothing(tmp_path: Path) -> None:
    data = read_regular("/proc/self/status", 1 << 20)  # a size of 0, yet text
    assert b"Name:" in data
    (tmp_path / "f").write_bytes(b"y" * 100)
    assert read_regular(tmp_path / "f", 100) == b"y" * 100
    assert read_regular(tmp_path / "f", 99) == b"y" * 100  # one past: longer than the cap


def test_an_absolute_path_through_a_link_above_the_folder_is_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real" / "notes").mkdir(parents=True)
    (tmp_path / "real" / "notes" / "todo.md").write_text("buy milk", encoding="utf-8")
    os.symlink(tmp_path / "real", tmp_path / "alias")
    monkeypatch.chdir(tmp_path / "alias")  # the working folder's real path is real/
    assert run_read_file({"path": str(tmp_path / "alias" / "notes" / "todo.md")}) == "buy milk"
    os.symlink(tmp_path / "alias" / "notes" / "todo.md", tmp_path / "real" / "link.md")
    assert run_read_file({"path": "link.md"}) == "buy milk"
    (tmp_path / "secret.txt").write_text("SECRET", encoding="utf-8")
    with pytest.raises(ToolError, match="outside the working folder"):
        run_read_file({"path": str(tmp_path / "alias" / ".." / "secret.txt")})
