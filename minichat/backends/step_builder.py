"""The background builder of the compiled decode step: a process of its own.

``compiled.Builds.start`` runs ``main`` in a new Python process that loads the
model as the chat did and builds its step (``tinygpt.aot``). It lives apart from
``compiled`` because it loads a backend, and the backend uses ``compiled``.
"""

from __future__ import annotations

import os
from pathlib import Path

from minichat.loading.compiled import Builds, lowest_priority


def main(argv: list[str]) -> int:
    """The background builder: load the model as the chat did, build, note a failure.
    It inherits the lock (see ``Builds.start``), held until it exits."""
    # a process group of its own, so that Ctrl+C in the chat does not reach it and it
    # finishes after the chat quits; not a session of its own, which would put it in a
    # scheduler group of its own with an equal share of the CPU whatever its priority
    # (Linux autogroups)
    os.setpgid(0, 0)
    lowest_priority(0)
    folder, quant, dtype, package, *adapter = argv
    builds = Builds(Path(package))
    try:
        from minichat.backends.native import load_native  # failures are noted, as below
        from minichat.loading.adapter import read_adapter
        from minichat.tinygpt.aot import fingerprint

        backend = load_native(
            Path(folder),
            device="cpu",
            dtype=dtype,
            quant=quant,  # type: ignore[arg-type]
            compile="off",
            adapter=read_adapter(adapter[0]) if adapter else None,
        )
        model = backend.token_model.model
        if builds.package.stem != f"step-{fingerprint(model)}":
            raise RuntimeError(f"{folder} loads a model of another shape than the chat's")
        builds.build_unlocked(model)
    except Exception as error:
        if builds.failure() is None:
            builds.note_failure(error)
        raise
    return 0
