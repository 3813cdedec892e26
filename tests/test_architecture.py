"""The import graph, read with ``ast``: arrows run one way and no two modules import
each other, however indirectly (imports inside functions and TYPE_CHECKING blocks
count too: a cycle hidden there is still a cycle of ideas).

CLI -> surfaces (repl, web, server; one-shot lives in cli) -> chat core -> conversation,
budget -> ChatBackend -> backends -> engine -> model (tinygpt), with the loading
machinery (registry, device, conversion, compiled step) beside the backends, the
documents (retrieval) and the tools under the chat core, beside the contract (what a
tool is, ``tools.spec``, is part of it).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minichat"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The minichat modules ``name`` imports, anywhere in its code."""
    found: set[str] = set()
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from minichat.chat import transcript` imports the module minichat.chat.transcript
            targets = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in MODULES
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_graph_is_read() -> None:
    assert "minichat.chat.session" in GRAPH["minichat.repl.loop"]
    assert "minichat.chat.transcript" in GRAPH["minichat.chat.session"]


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components: every one must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == []


def layer(name: str) -> str:
    for prefix, kind in (
        ("minichat.cli", "cli"),
        ("minichat.__main__", "cli"),
        ("minichat.repl", "repl"),
        ("minichat.web", "web"),
        ("minichat.server", "server"),
        ("minichat.chat", "chat"),
        ("minichat.tools.spec", "base"),  # what a tool is: part of the backend contract
        ("minichat.retrieval", "retrieval"),
        ("minichat.tools", "tools"),
        ("minichat.finetune", "finetune"),
        ("minichat.catalog", "catalog"),
        ("minichat.loading", "loading"),
        ("minichat.backends", "backends"),
        ("minichat.engine", "engine"),
        ("minichat.tinygpt", "tinygpt"),
    ):
        if name == prefix or name.startswith(prefix + "."):
            return kind
    return "base" if name != "minichat" else "api"  # backend, config, params, budget, ...


SURFACES = {"repl", "web", "server"}
# what retrieval and tools, used by the chat core and beside the backend contract, never use
BESIDE_THE_CONTRACT = {
    *("cli", *SURFACES, "chat", "catalog"),
    *("loading", "backends", "engine", "tinygpt", "api"),
}
# what each layer may not import; "api" (minichat/__init__.py) is the public face
FORBIDDEN = {
    "cli": set(),
    "repl": {"cli", "web", "server"},
    "web": {"cli", "repl", "server"},
    "server": {"cli", "repl", "web"},
    "chat": {"cli", *SURFACES, "finetune"},
    # retrieval: files to passages to ranked hits; the chat core puts them in a prompt
    "retrieval": {*BESIDE_THE_CONTRACT, "finetune"},
    # tools a model may call: what runs them is the chat core's, how a model writes them base's
    "tools": {*BESIDE_THE_CONTRACT, "retrieval"},
    # finetuning: data and a training run over a loaded model; only the CLI uses it
    "finetune": {"cli", *SURFACES, "chat", "retrieval"},
    # the model table: names to backends, above them; only what chats and trains uses it
    "catalog": {"cli", *SURFACES, "chat", "finetune"},
    # what loading a model takes (device, conversion, adapters, the compiled step), below
    # the backends that use it
    "loading": {"cli", *SURFACES, "chat", "finetune", "catalog", "backends"},
    "backends": {"cli", *SURFACES, "chat", "finetune", "catalog"},
    "engine": {"cli", *SURFACES, "chat", "backends", "loading", "finetune", "catalog"},
    "tinygpt": {"cli", *SURFACES, "chat", "backends", "loading", "engine", "finetune", "catalog"},
    "base": {
        *("cli", *SURFACES, "chat", "retrieval", "tools", "backends", "engine", "tinygpt", "api"),
        *("finetune", "catalog"),
    },
    "api": {"cli", *SURFACES},
}
# the base layer may check names against the loading choices, which import nothing heavy
ALLOWED = {("minichat.settings.layered", "minichat.loading.choices")}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_arrows_run_one_way(name: str) -> None:
    wrong = sorted(
        target
        for target in GRAPH[name]
        if layer(target) in FORBIDDEN[layer(name)]
        or (layer(name) == "base" and layer(target) == "loading" and (name, target) not in ALLOWED)
    )
    assert wrong == [], f"{name} ({layer(name)}) imports {wrong}"


# a surface asks the chat core, never the model behind it: "session.backend.model_id"
# in a page would tie the page to how the core holds its model
REACHING = re.compile(r"\b(?:session|chat)\.backend\b")


@pytest.mark.parametrize(
    "name", sorted(n for n in GRAPH if layer(n) in {"cli", *SURFACES} and n in MODULES)
)
def test_no_surface_reaches_through_the_session_to_the_backend(name: str) -> None:
    text = MODULES[name].read_text(encoding="utf-8")
    found = [m.group(0) for m in REACHING.finditer(text)]
    assert found == [], f"{name} reaches through the chat core: {found}"
