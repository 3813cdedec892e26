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
to the call's running (``tool path``): what a reader follows. Last, ``load``: what a
reader follows from ``load_backend(name)`` to the loaded backend, the modules its calls
enter (each once) and how many of those calls climb to a higher layer than the caller's
(a factory below what it builds, a callback).
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
    "minichat.catalog",
    "minichat.retrieval minichat.docs",
    "minichat.backends",
    "minichat.loading minichat.tools minichat.toolcalls minichat.engine.constraint",
    "minichat.backend minichat.config minichat.prompt minichat.settings minichat.safety",
    # before the renovation these were loose modules of the same layer
    "minichat.budget minichat.chat_format minichat.params minichat.settings minichat.paths",
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


def _is_load(frame: FrameType) -> bool:
    return _named(frame, "load_backend") and _module(frame).endswith(("catalog", "registry"))


def _caller(frame: FrameType) -> str:
    """The nearest minichat module below ``frame`` on the stack."""
    back = frame.f_back
    while back is not None and not _module(back).startswith("minichat"):
        back = back.f_back
    return _module(back) if back is not None else ""


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
    load: dict[str, Any] = {"depth": 0, "modules": [], "climbs": []}

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if _is_load(frame) and event in ("call", "return"):
            load["depth"] += 1 if event == "call" else -1
        if event != "call":
            return
        module = _module(frame)
        if not module.startswith("minichat") or frame.f_code.co_name == "<module>":
            return
        if load["depth"] > 0:
            caller = _caller(frame)
            if caller != module:
                if module not in load["modules"]:
                    load["modules"].append(module)
                if layer(module) < layer(caller):
                    load["climbs"].append(f"{caller[9:]} > {module[9:]}")
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
    entered = " ".join(m[9:] for m in load["modules"])
    print(f"load: {len(load['modules'])} modules entered: {entered}")
    print(f"load: {len(load['climbs'])} calls climb: {', '.join(sorted(set(load['climbs'])))}")


if __name__ == "__main__":
    main()
