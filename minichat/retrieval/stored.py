"""A collection's files as they are stored: written private, read back checked.

``manifest.json`` must have the shape a build writes (``valid_manifest``: a file that
is valid JSON can still be damaged), each generation file is checked against the
size and SHA-256 the manifest records, and ``vectors.npy``'s header against the
chunks before anything is allocated (``read_vectors``). Files are created 0600
whatever the umask (``write_private``): they are the user's documents in another form.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

from minichat.retrieval.embedder import DIMENSIONS

FORMAT = 1

GENERATION = re.compile(r"g-[0-9a-f]{12}")
CHECKSUMMED = re.compile(r"chunks\.jsonl|vectors\.npy|keywords/[A-Za-z0-9][A-Za-z0-9._-]*")
MiB = 1 << 20
# the most read back of a collection's own files: far beyond what a build writes (a
# manifest line per file, passages of documents of at most a few MB), yet bounded
MANIFEST_LIMIT = 256 * MiB
GENERATION_LIMIT = 4096 * MiB


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sync(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())


def write_private(path: Path, data: bytes) -> None:
    """A new file that only its owner can read, whatever the umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def valid_manifest(manifest: Any) -> dict[str, Any]:
    """``manifest`` if it has the shape a build writes, else ``ValueError`` saying what is
    wrong: a manifest that is valid JSON can still be damaged (``[]``, a count as text)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError("unknown format")
    paths, files = manifest.get("paths"), manifest.get("files")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError("its paths are not a list of paths")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and type(entry.get("chunks")) is int
        and entry["chunks"] >= 0
        for entry in files.values()
    ):
        raise ValueError("its files are not each a hash and a count of passages")
    if not isinstance(manifest.get("generation"), str) or not GENERATION.fullmatch(
        manifest["generation"]
    ):
        raise ValueError("it names no generation folder")
    checksums = manifest.get("checksums", {})  # absent in collections built before them
    sizes = manifest.get("sizes", {})
    if not isinstance(checksums, dict) or not all(
        CHECKSUMMED.fullmatch(name) and isinstance(value, str) for name, value in checksums.items()
    ):
        raise ValueError("its checksums are not a checksum per file")
    if not isinstance(sizes, dict) or set(sizes) != set(checksums):
        raise ValueError("its sizes are not a size per file")
    if not all(type(size) is int for size in sizes.values()):
        raise ValueError("its sizes are not a size per file")
    return manifest


def read_vectors(data: bytes, rows: int) -> Any:
    """The float32 matrix of ``rows`` vectors a ``.npy`` file holds; its header is checked
    before anything is allocated (a damaged one can claim any shape)."""
    import numpy as np
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    version = npy.read_magic(stream)
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if shape != (rows, DIMENSIONS) or fortran_order or dtype.base != np.dtype(np.float32):
        raise ValueError("the vectors do not match the chunks")
    offset = stream.tell()
    if len(data) != offset + rows * DIMENSIONS * 4:
        raise ValueError("the vectors file is cut short")
    vectors = np.frombuffer(data, dtype, rows * DIMENSIONS, offset).reshape(rows, DIMENSIONS)
    return vectors.astype(np.float32)  # a copy, native order: faiss writes nothing back
