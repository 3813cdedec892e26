"""The settings flags, declared once and added to every command that takes them.

The decoding flags come from ``minichat.settings.params.PARAMS``. Numbers are taken as text
and parsed by ``minichat.config.coerce``, so a bad
``--temperature`` gets the same message as a bad config file or environment
value, naming where it came from.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from minichat.settings.layered import Settings, load_settings
from minichat.settings.params import PARAMS, Param

MODEL_HELP = (
    "model: smollm2 (default), tiny-chitchat, tiny:PATH, echo, openai:MODEL@URL, "
    "or hf:PATH (folder, .gguf, hub id)"
)
PANEL = "Model and decoding"
CONTEXT = "_context"  # Typer passes the click context here when the command has none


def parameter_option(param: Param) -> Any:
    """The flag for one decoding parameter, from its row in ``minichat.settings.params``."""
    default = "" if param.default in (None, ()) else f" (default {param.default:g})"
    metavar = {int: "INT", float: "FLOAT"}.get(param.kind, "TEXT")
    kind = list[str] if param.kind is str else str  # numbers are parsed by coerce
    option = typer.Option(
        *param.flag_names, metavar=metavar, help=param.help + default, rich_help_panel=PANEL
    )
    return Annotated[kind | None, option]


SETTINGS_OPTIONS: dict[str, Any] = {
    "model": Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="NAME", help=MODEL_HELP, rich_help_panel=PANEL),
    ],
    "device": Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="auto, cpu, cuda, cuda:N or mps (default auto)",
            rich_help_panel=PANEL,
        ),
    ],
    "dtype": Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="auto, fp32, fp16 or bf16 (default auto)", rich_help_panel=PANEL
        ),
    ],
    "engine": Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="fast (minichat's own, Llama-family), hf (transformers) or auto (default)",
            rich_help_panel=PANEL,
        ),
    ],
    "quant": Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="fast-engine weights: none, int8, int4; auto (default) = int4 for smollm2 on "
            "CPU (int8 where AVX2 is the widest)",
            rich_help_panel=PANEL,
        ),
    ],
    "compile": Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="fast engine's compiled decode step: auto (default: built once, in the "
            "background), wait (build before the first reply) or off",
            rich_help_panel=PANEL,
        ),
    ],
    "adapter": Annotated[
        str | None,
        typer.Option(
            metavar="DIR",
            help="LoRA adapter merged into a local model: a folder from minichat finetune, "
            "a shipped name, off, or auto (default: smollm2-tools while tools are on)",
            rich_help_panel=PANEL,
        ),
    ],
    "system": Annotated[
        str | None,
        typer.Option("--system", "-s", metavar="TEXT", help="system prompt", rich_help_panel=PANEL),
    ],
    **{p.name: parameter_option(p) for p in PARAMS},
    "config": Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="YAML config file (default the user config dir's)",
            rich_help_panel=PANEL,
        ),
    ],
}


@dataclass(frozen=True)
class Group:
    """Flags several commands take, declared once and built into one value a command
    receives (``settings``, ``extras``, ...)."""

    options: dict[str, Any]  # parameter name -> its flag, as an Annotated type
    build: Callable[[dict[str, Any]], Any]
    defaults: dict[str, Any] = field(default_factory=dict)  # the rest default to None

    def only(self, *names: str) -> Group:
        """The same group with fewer flags (those left out are not given)."""
        return Group({n: self.options[n] for n in names}, self.build, self.defaults)


def with_options(**groups: Group) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command every flag of each group; it receives each group built, under the
    group's keyword. A flag not given after the subcommand takes the value given before
    it (``minichat -t 0 --docs notes ask ...``): the one place flags are merged."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [
            p
            for p in inspect.signature(command, eval_str=True).parameters.values()
            if p.name not in groups
        ]
        added = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=group.defaults.get(name),
                annotation=kind,
            )
            for group in groups.values()
            for name, kind in group.options.items()
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            context = kwargs.pop(CONTEXT) if CONTEXT in kwargs else kwargs["ctx"]
            before = context.parent.params if context.parent else {}
            for key, group in groups.items():
                values = {}
                for name in group.options:
                    value = kwargs.pop(name)
                    if value in (None, (), [], group.defaults.get(name)) and before.get(name):
                        value = before[name]
                    values[name] = value
                kwargs[key] = group.build(values)
            return command(*args, **kwargs)

        if not any(p.annotation is typer.Context for p in own):
            added.append(
                inspect.Parameter(CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
            )
        wrapper.__signature__ = inspect.Signature([*own, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
        return wrapper

    return decorate


def settings_from(flags: dict[str, Any]) -> Settings:
    """The settings, from the model and decoding flags over the config file and the
    environment."""
    flags = dict(flags)
    config = flags.pop("config")
    if flags["stop"]:
        flags["stop"] = tuple(flags["stop"])
    return load_settings(flags, config_file=config)


SETTINGS = Group(SETTINGS_OPTIONS, settings_from)
with_settings = with_options(settings=SETTINGS)
