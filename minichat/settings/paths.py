"""Where minichat keeps its files: the platform's user directories.

``MINICHAT_CONFIG_DIR``, ``MINICHAT_CACHE_DIR`` and ``MINICHAT_DATA_DIR`` move
them (tests point them at temporary folders).

The cache and data folders hold what a user's documents, chats and models turned
into (indexed text, saved conversations, history), so they are the user's alone:
``cache_dir`` and ``data_dir`` make them with mode 0700 and take group and others'
access away from the platform's one that already exists (not from a folder the user
named in the variables: that may be shared on purpose), and ``private_folder``
makes the folders inside them the same way.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

APP = "minichat"


def config_dir() -> Path:
    return Path(os.environ.get("MINICHAT_CONFIG_DIR") or platformdirs.user_config_dir(APP))


def cache_dir() -> Path:
    return _own("MINICHAT_CACHE_DIR", platformdirs.user_cache_dir(APP))


def data_dir() -> Path:
    return _own("MINICHAT_DATA_DIR", platformdirs.user_data_dir(APP))


def _own(variable: str, default: str) -> Path:
    """minichat's folder: the platform's, made private; or the one ``variable`` names,
    made private if minichat makes it, left as it is if the user made it (a folder
    they chose may be shared on purpose; what minichat makes inside it is private)."""
    chosen = os.environ.get(variable)
    return private_folder(Path(chosen), tighten=False) if chosen else private_folder(Path(default))


def private_folder(folder: Path, *, tighten: bool = True) -> Path:
    """``folder``, made (with its missing parents) readable by the user alone; one that
    exists and is the user's loses group and others' access (with ``tighten``). One
    that cannot be made is left for the first write to report, in its own words."""
    try:
        existed = folder.is_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = folder.stat()
        if existed and not tighten:
            return folder
        if found.st_uid == os.geteuid() and stat.S_IMODE(found.st_mode) & 0o077:
            folder.chmod(stat.S_IMODE(found.st_mode) & 0o700)
    except OSError:
        pass
    return folder


def package_file(package: str, name: str) -> Path | None:
    """A data file shipped inside an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / name
        if path.is_file():
            return path
    return None
