"""How far a model name and a tool call travel: the modules they cross, from the flag
to where the work is done, read off the live call stack.

Run as ``.venv/bin/python bench/paths.py`` from the repository root. It runs
``minichat ask --model smollm2 --tools calculator --yes "..."`` in this process
under ``sys.setprofile`` and, each time a watched place is entered, takes the chain
of minichat modules on the stack (the CLI at its root), a module counted once per
run of frames in it:

- ``model``: a backend is built (a ``ChatBackend`` subclass's ``__init__``);
- ``grammar``: the tool-call grammar is made from the tools the flag named;
- ``tool``: the toolbox runs the call the model wrote.

Printed per place: how many modules the chain crosses, how many of its steps climb
from a lower layer back to a higher one (``LAYERS``: a callback, or a module that
imports upwards), and the chain itself; then the modules whose code ran (imports
aside) from the start to the backend's being built (``model path``) and from then
to the call's running (``tool path``): what a reader follows.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# higher first: a step from a later prefix to an earlier one climbs back up
LAYERS = (
    "minichat.cli",
    "minichat.repl minichat.web minichat.server",
    "minichat.chat",
    "minichat.catalog minichat.loading.registry",
    "minichat.retrieval minichat.docs",
    "minichat.backends",
    "minichat.loading minichat.tools minichat.toolcalls minichat.engine.constraint",
    "minichat.backend minichat.budget minichat.config minichat.params minichat.settings",
    "minichat.engine",
    "minichat.tinygpt",
)
WATCHED: dict[str, Callable[[FrameType], bool]] = {
    "model": lambda f: _named(f, "__init__") and _module(f).startswith("minichat.backends."),
    "grammar": lambda f: _named(f, "__init__") and _module(f).endswith((".constraint", ".grammar")),
    "tool": lambda f: f.f_code.co_qualname == "Toolbox.run",
}
QUESTION = "What is 1234 * 5678? Use the calculator."


def _named(frame: FrameType, name: str) -> bool:
    return frame.f_code.co_name == name


def _module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes.split()):
            return rank
    return len(LAYERS)


def chain(frame: FrameType | None) -> list[str]:
    modules: list[str] = []
    while frame is not None:
        name = _module(frame)
        code = frame.f_code.co_name
        if name.startswith("minichat") and code != "<module>" and modules[-1:] != [name]:
            modules.append(name)
        frame = frame.f_back
    return modules[::-1]


def main() -> None:
    from minichat.cli.app import main as cli

    seen: dict[str, list[str]] = {}
    ran: dict[str, set[str]] = {"model path": set(), "tool path": set()}

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        module = _module(frame)
        if not module.startswith("minichat") or frame.f_code.co_name == "<module>":
            return
        for place, watched in WATCHED.items():
            if place not in seen and watched(frame):
                seen[place] = chain(frame)
        if "tool" not in seen:
            ran["tool path" if "model" in seen else "model path"].add(module)

    sys.argv = ["minichat", "ask", "--model", "smollm2", "--tools", "calculator", "--yes", QUESTION]
    threading.setprofile(profile)  # threads the turn starts, too
    sys.setprofile(profile)
    try:
        cli()
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    print()
    for place in WATCHED:
        modules = seen.get(place)
        if modules is None:
            print(f"{place}: not reached")
            continue
        climbs = sum(layer(b) < layer(a) for a, b in itertools.pairwise(modules))
        shown = " > ".join(m[9:] for m in modules)
        print(f"{place}: {len(set(modules))} modules, {climbs} climbs: {shown}")
    for path, modules in ran.items():
        print(f"{path}: {len(modules)} modules: {' '.join(sorted(m[9:] for m in modules))}")


if __name__ == "__main__":
    main()
