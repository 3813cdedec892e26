"""The MCP servers a chat uses: which are declared, which are on, and their tools' names.

A server's tools keep their own names unless one is taken (a built-in, a
``--functions`` function, another server's tool): then they are ``server__tool``
(not ``server.tool``: OpenAI's API, and so every ``openai:`` server, refuses a dot
in a tool's name).
Starting one that runs already in this process reuses it (``tools.mcp.server``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from minichat.errors import ConfigError
from minichat.tools.base import ToolFunction
from minichat.tools.mcp import McpServer, ServerSpec, declared, server, spec_for, tool_name


@dataclass(frozen=True)
class ServerRow:
    """One line of ``/mcp``: a server, how it is reached, its state and tools on."""

    name: str
    reached: str
    state: str
    tools: list[str]
    trusted: bool


@dataclass
class Servers:
    declared: dict[str, ServerSpec] = field(default_factory=dict)
    on: dict[str, McpServer] = field(default_factory=dict)  # name -> a running server
    names: dict[str, list[str]] = field(default_factory=dict)  # name -> its tools, as named

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Servers:
        return cls(declared(config))

    def start(self, given: str, taken: Collection[str]) -> tuple[str, list[ToolFunction]]:
        """Start the server ``given`` names (declared, or a command); its name and its
        tools, renamed where ``taken`` (the names a chat knows) holds theirs."""
        spec = spec_for(given, self.declared)
        if spec.name in self.on and self.on[spec.name].spec != spec:
            raise ConfigError(f"an MCP server named {spec.name} is on already; /mcp stop it first")
        running = server(spec)
        running.start()
        mine = set(self.names.get(spec.name, []))
        clash = set(taken) - mine
        names = {
            t.name: tool_name(t.name, spec.name if tool_name(t.name) in clash else None)
            for t in running.tools
        }
        self.on[spec.name] = running
        self.names[spec.name] = list(names.values())
        return spec.name, running.functions(names)

    def stop(self, name: str) -> list[str]:
        """Stop server ``name``; the names of the tools it took with it."""
        running = self.on.pop(name, None)
        if running is None:
            raise ConfigError(f"no MCP server {name!r} is on; /mcp lists them")
        running.stop()
        return self.names.pop(name, [])

    def rows(self) -> list[ServerRow]:
        """Every server: those declared in the config file, and those on."""
        specs = {**self.declared, **{n: s.spec for n, s in self.on.items()}}
        rows = []
        for name, spec in specs.items():
            running = self.on.get(name)
            state = running.state if running is not None else "stopped"
            tools = self.names.get(name, []) if running is not None and running.running else []
            rows.append(ServerRow(name, spec.describe(), state, tools, spec.trusted))
        return rows

    def left_out(self, name: str) -> list[str]:
        running = self.on.get(name)
        return running.left_out if running is not None else []
