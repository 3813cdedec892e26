"""The page: a Gradio Blocks layout, each control wired to one ``WebChat`` handler.

Only layout and wiring live here; what a control does lives in ``handlers``.
Parameter controls apply on release (a slider let go, a box left), not on every
keystroke, so a half-typed number is never refused. ``page.load`` fills every
control from the session, so a reloaded tab shows the chat as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from minichat.errors import MinichatError
from minichat.settings.params import BY_NAME, PARAMS
from minichat.web.handlers import Controls, View, WebChat
from minichat.web.policy import ContentSecurity

CSS = """
#status { font-size: 0.85em; opacity: 0.75; }
#notice p { margin: 0; color: var(--color-accent); }
"""

# a slider for each parameter that has one in minichat.settings.params: field -> (label, help,
# minimum, maximum, step); max_new_tokens is sized to the model's context
SLIDERS: dict[str, tuple[str, str, float, float, float]] = {
    p.name: (p.label, p.help, *p.slider) for p in PARAMS if p.slider is not None
}


def build(chat: WebChat) -> gr.Blocks:
    """The page over ``chat``; every tab that opens it shows the same chat."""
    page = gr.Blocks(title="minichat", analytics_enabled=False)
    with page:
        with gr.Row():
            with gr.Column(scale=3):
                pane = _chat_pane()
            with gr.Column(scale=1, min_width=260):
                settings = _settings_pane(chat.controls())
        _wire(page, chat, pane, settings)
    return page


@dataclass(frozen=True)
class _ChatPane:
    conversation: Any
    status: Any
    notice: Any
    message: Any
    send: Any
    stop: Any
    retry: Any
    undo: Any
    clear: Any

    @property
    def shown(self) -> list[Any]:
        """What a ``View`` fills."""
        return [self.conversation, self.status, self.notice]


@dataclass(frozen=True)
class _SettingsPane:
    model: Any
    docs: Any
    tools: Any
    schema: Any
    system: Any
    sliders: dict[str, Any]
    seed: Any
    stops: Any

    @property
    def controls(self) -> list[Any]:
        """What ``Controls`` fills, in its order."""
        fixed = [self.model, self.docs, self.tools, self.schema, self.system]
        return [*fixed, *self.sliders.values(), self.seed, self.stops]


def _chat_pane() -> _ChatPane:
    conversation = gr.Chatbot(
        label="minichat", elem_id="chat", height=460, feedback_options=None, buttons=["copy"]
    )
    status = gr.Markdown(elem_id="status")
    notice = gr.Markdown(elem_id="notice")
    with gr.Row():
        message = gr.Textbox(
            show_label=False,
            placeholder="Message (Enter sends, Shift+Enter adds a line)",
            elem_id="message",
            scale=5,
            lines=1,
            max_lines=8,
            autofocus=True,
        )
        send = gr.Button("Send", variant="primary", elem_id="send", scale=1)
    with gr.Row():
        stop = gr.Button("Stop", elem_id="stop-reply", size="sm")
        retry = gr.Button("Retry", elem_id="retry", size="sm")
        undo = gr.Button("Undo", elem_id="undo", size="sm")
        clear = gr.Button("Clear", elem_id="clear", size="sm")
    return _ChatPane(conversation, status, notice, message, send, stop, retry, undo, clear)


def _settings_pane(start: Controls) -> _SettingsPane:
    model = _picker(
        "model",
        "Model (pick one, or type hf:PATH, tiny:PATH, openai:MODEL@URL)",
        start.models,
        start.model,
    )
    docs = _picker(
        "docs",
        "Documents (a collection, or type a file or folder path; off: none)",
        start.collections,
        start.docs,
    )
    tools = gr.CheckboxGroup(
        choices=start.tool_choices,
        value=start.tools,
        label="Tools replies may call",
        elem_id="tools",
    )
    schema = gr.Textbox(
        label="Answer as JSON in this shape (a JSON Schema, or fields: name, age int)",
        placeholder="empty: free text",
        lines=1,
        elem_id="schema",
    )
    system = gr.Textbox(
        label="System prompt", placeholder="none: the model's own", lines=2, elem_id="system"
    )
    sliders = {
        field: gr.Slider(
            minimum,
            maximum,
            label=label,
            info=info,
            step=step,
            elem_id=field,
            buttons=[],  # no reset: it would go back to the page's first value
        )
        for field, (label, info, minimum, maximum, step) in SLIDERS.items()
    }
    seed = gr.Number(
        label=f"{BY_NAME['seed'].label} (empty: random)", precision=0, minimum=0, elem_id="seed"
    )
    stops = gr.Textbox(
        label=f'{BY_NAME["stop"].label}, one a line ("\\n" in quotes for escapes)',
        lines=2,
        elem_id="stops",
    )
    return _SettingsPane(model, docs, tools, schema, system, sliders, seed, stops)


def _picker(elem_id: str, label: str, choices: list[str], value: str) -> Any:
    """A list to pick from that also takes what is typed (a path, hf:PATH)."""
    return gr.Dropdown(
        choices=choices,
        value=value,
        label=label,
        allow_custom_value=True,
        filterable=True,
        elem_id=elem_id,
    )


def _show(view: View) -> tuple[Any, ...]:
    return view.messages, view.status, view.notice


def _fill(now: Controls) -> tuple[Any, ...]:
    """Every control as the chat has it now (a model's context sizes the reply slider)."""
    values = now.config
    return (
        gr.Dropdown(choices=now.models, value=now.model),
        gr.Dropdown(choices=now.collections, value=now.docs),
        gr.CheckboxGroup(choices=now.tool_choices, value=now.tools),
        now.schema,
        now.system,
        *(
            gr.Slider(
                minimum=min(low, values[field]),
                maximum=_maximum(field, high, values[field], now.context_length),
                value=values[field],
            )
            for field, (_, _, low, high, _) in SLIDERS.items()
        ),
        values["seed"],
        now.stop,
    )


def _streamed(turn: Callable[..., Iterator[View]]) -> Callable[..., Iterator[Any]]:
    def run(*args: Any) -> Iterator[tuple[Any, ...]]:
        for view in turn(*args):
            yield (*_show(view), view.draft)

    return run


def _wire(page: gr.Blocks, chat: WebChat, pane: _ChatPane, settings: _SettingsPane) -> None:
    """Each control to its handler, each handler's view to what it fills."""
    shown, controls = pane.shown, settings.controls

    def swap(name: str) -> tuple[Any, ...]:
        if name.strip() == chat.session.model_id:
            # the dropdown reports a pick again when it loses focus: keep the page as it is
            return tuple(gr.skip() for _ in [*shown, *controls])
        return (*_show(chat.swap_model(name)), *_fill(chat.controls()))

    def setter(field: str) -> Callable[[Any], tuple[Any, str]]:
        return lambda value: chat.set_parameter(field, value)

    page.load(lambda: (*_show(chat.view()), *_fill(chat.controls())), outputs=[*shown, *controls])
    for trigger in (pane.message.submit, pane.send.click):
        trigger(_streamed(chat.send), inputs=pane.message, outputs=[*shown, pane.message])
    pane.retry.click(_streamed(chat.retry), outputs=[*shown, pane.message])
    pane.stop.click(chat.stop, concurrency_limit=None)  # beside the running reply, not after it
    pane.undo.click(lambda: _show(chat.undo()), outputs=shown)
    for trigger in (pane.clear.click, pane.conversation.clear):  # the pane has a bin icon too
        trigger(lambda: _show(chat.clear()), outputs=shown)
    settings.model.input(swap, inputs=settings.model, outputs=[*shown, *controls])
    settings.docs.input(
        lambda target: (*_show(chat.use_documents(target)), *_fill(chat.controls())),
        inputs=settings.docs,
        outputs=[*shown, *controls],
    )
    settings.tools.input(
        chat.set_tools, inputs=settings.tools, outputs=[settings.tools, pane.notice]
    )
    for trigger in (settings.schema.blur, settings.schema.submit):
        trigger(chat.set_schema, inputs=settings.schema, outputs=[settings.schema, pane.notice])
    settings.system.blur(
        lambda text: _show(chat.set_system(text)), inputs=settings.system, outputs=shown
    )
    for field, slider in settings.sliders.items():
        slider.release(setter(field), inputs=slider, outputs=[slider, pane.notice])
    for trigger in (settings.seed.blur, settings.seed.submit):
        trigger(setter("seed"), inputs=settings.seed, outputs=[settings.seed, pane.notice])
    settings.stops.blur(chat.set_stop, inputs=settings.stops, outputs=[settings.stops, pane.notice])


def _maximum(field: str, high: float, value: float, context_length: int) -> float:
    if field == "max_new_tokens":
        return max(context_length - 1, 1)  # ChatSession refuses a reply as long as the context
    return max(high, value)  # a value set by flag beyond the usual range still shows


def serve(chat: WebChat, *, host: str, port: int, share: bool) -> None:
    """Serve the page until Ctrl+C; the address in use is one line on stderr."""
    page = build(chat)
    try:
        _, local_url, share_url = page.queue().launch(
            server_name=host,
            server_port=port,
            share=share,
            inbrowser=False,
            quiet=True,
            prevent_thread_lock=True,
            css=CSS,
            footer_links=[],
            # images and media from this server only: a reply cannot make the page fetch
            app_kwargs={"middleware": [Middleware(ContentSecurity)]},
        )
    except OSError as error:  # gradio's own words name its settings, not our flags
        raise MinichatError(
            f"cannot serve on {host}:{port}: the port is in use or the address is not this "
            "machine's; pick another --port or --host"
        ) from error
    where = local_url + (f" and {share_url}" if share_url else "")
    print(
        f"minichat: {chat.session.describe()} at {where} (Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )
    page.block_thread()
