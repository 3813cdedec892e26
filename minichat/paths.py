"""Where minichat keeps its files: the platform's user directories.

``MINICHAT_CONFIG_DIR``, ``MINICHAT_CACHE_DIR`` and ``MINICHAT_DATA_DIR`` move
them (tests point them at temporary folders).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "minichat"


def config_dir() -> Path:
    return Path(os.environ.get("MINICHAT_CONFIG_DIR") or platformdirs.user_config_dir(APP))


def cache_dir() -> Path:
    return Path(os.environ.get("MINICHAT_CACHE_DIR") or platformdirs.user_cache_dir(APP))


def data_dir() -> Path:
    return Path(os.environ.get("MINICHAT_DATA_DIR") or platformdirs.user_data_dir(APP))


def package_file(package: str, name: str) -> Path | None:
    """A data file shipped inside an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / name
        if path.is_file():
            return path
    return None
