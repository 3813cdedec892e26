"""Made-up software manuals, written as real files, for ``docs_data``.

A manual documents a program with a new two-syllable name: a few of ``docs_words``'
settings (each as a command-line option, an environment variable, a configuration key
or a Python argument, with a default drawn for it), commands and facts, spread over
Markdown, reStructuredText, HTML, plain-text and Python files in sections with a line
or two of filler and an example command line that sets an option to another value than
its default (a near miss, as real manuals have). Each thing documented is an ``Item``:
the questions that ask for it, the answer, and the strings a passage must hold to
answer it. A manual also keeps items it never writes, to be asked about anyway.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass, field

from recipes import docs_words as W

FORMS = ("option", "option", "env", "key", "argument")
NOUNS = {"option": "option", "env": "environment variable", "key": "configuration key"}
DEFAULTS = ("The default is {v}.", "Default: {v}.", "Defaults to {v}.", "If unset, {v} is used.")
FUNCTIONS = {
    "sync": "Copy the files under ``path`` to the server.",
    "fetch": "Download what changed since the last run into ``path``.",
    "build_index": "Index every document under ``path``.",
    "upload": "Send the files under ``path``.",
    "export_all": "Write every record to ``path``.",
    "watch": "Wait for changes under ``path`` and sync each.",
    "connect": "Open a session for the project in ``path``.",
}
SUBCOMMANDS = ("sync", "run", "index", "serve", "pull", "push")
FILES = {
    "md": ("README.md", "docs/guide.md", "docs/cli.md", "docs/config.md"),
    "rst": ("docs/index.rst", "docs/configuration.rst", "docs/usage.rst"),
    "html": ("site/manual.html", "docs/reference.html"),
    "txt": ("MANUAL.txt", "docs/faq.txt", "NOTES"),
}


def squash(text: str) -> str:
    return " ".join(text.replace("`", "").split())


@dataclass(frozen=True)
class Item:
    """One thing a manual says, how it is asked for, and what answers it."""

    kind: str  # setting, command or fact
    questions: dict[str, tuple[str, ...]]  # per question kind
    evidence: tuple[str, ...]  # all of these, in one passage, answer it
    sentence: str  # as a page writes it; {code} where a code span goes
    code: str = ""
    term: str = ""  # a setting's name as a reference lists it: "--retries N"
    form: str = ""  # a setting's: option, env, key or argument
    example: str = ""  # a command line setting it to another value
    default: str = ""  # a setting's default, as the page gives it

    def said_in(self, text: str) -> bool:
        passage = squash(text)
        return all(squash(part) in passage for part in self.evidence)


@dataclass
class Manual:
    names: dict[str, str]  # tool, Tool, PREFIX
    items: list[Item]
    unsaid: list[Item]  # never written: asked about all the same
    files: dict[str, str] = field(default_factory=dict)


def program(rng: random.Random, used: set[str]) -> str:
    while True:
        name = "".join(rng.sample(W.SYLLABLES, 2))
        if name not in used:
            used.add(name)
            return name


def setting(rng: random.Random, s: W.Setting, names: dict[str, str], form: str) -> Item:
    tool = names["tool"]
    value = rng.choice(s.values).format(tool=tool)
    unit = s.unit.removesuffix("s") if value == "1" else s.unit
    shown = f"{value} {unit}".strip()
    under = s.name.replace("-", "_")
    ident = {"option": f"--{s.name}", "env": f"{names['PREFIX']}_{under.upper()}"}.get(form, under)
    metavar = "N" if value.replace(".", "").isdigit() else "DIR" if "/" in value else "VALUE"
    term = f"{ident} {metavar}" if form == "option" else ident
    default = ("Defaults to {v}." if form == "argument" else rng.choice(DEFAULTS)).format(v=shown)
    noun = NOUNS.get(form, "argument")
    others = [v for v in s.values if v != value and " " not in v and "{" not in v]
    example = ""
    if form == "option" and others:
        example = f"{tool} {rng.choice(SUBCOMMANDS)} {ident} {rng.choice(others)}"
    return Item(
        "setting",
        {
            "keyword": (
                f"What is the default value of {ident}?",
                f"What does the {noun} {ident} default to?",
                f"If I don't set {ident}, what value is used?",
            ),
            "paraphrase": (s.asked.format(tool=tool),),
            "value": (f"Which {noun} sets {s.does}?", f"What {noun} controls {s.does}?"),
        },
        (f"{ident}:" if form == "argument" else ident, default),
        f"{s.does[0].upper()}{s.does[1:]}. {default}",
        term=term,
        form=form,
        example=example,
        default=shown,
    )


def command(c: W.Command, names: dict[str, str]) -> Item:
    run = f"{names['tool']} {c.run}"
    asked = {
        "keyword": (f"How do I {c.task}?", f"What is the command to {c.task}?"),
        "paraphrase": (
            f"How can I {c.asked} with {names['Tool']}?",
            f"I want to {c.asked}; what do I run?",
        ),
        "value": (f"Which command should I type to {c.task}?",),
    }
    return Item("command", asked, (run,), f"To {c.task}, run {{code}}.", run)


def fact(rng: random.Random, f: W.Fact, names: dict[str, str]) -> Item:
    value = rng.choice(f.values).format(tool=names["tool"])
    said = {**names, "value": value}
    sentence = f.sentence.format(**said)
    asked: dict[str, tuple[str, ...]] = {
        "keyword": (f.keyword.format(**said),),
        "paraphrase": (f.paraphrase.format(**said),),
    }
    return Item("fact", asked, (sentence,), sentence)


def manual(rng: random.Random, used: set[str]) -> Manual:
    """A new manual: 5-8 settings, 2-4 commands and 2-4 facts written, the rest not."""
    tool = program(rng, used)
    names = {"tool": tool, "Tool": tool.capitalize(), "PREFIX": tool.upper()}
    settings = rng.sample(W.SETTINGS, len(W.SETTINGS))
    commands = rng.sample(W.COMMANDS, len(W.COMMANDS))
    facts = rng.sample(W.FACTS, len(W.FACTS))
    n_set, n_cmd, n_fact = rng.randint(5, 8), rng.randint(2, 4), rng.randint(2, 4)
    forms = [rng.choice(FORMS) for _ in settings]
    every = (
        [setting(rng, s, names, form) for s, form in zip(settings, forms, strict=True)],
        [command(c, names) for c in commands],
        [fact(rng, f, names) for f in facts],
    )
    items = every[0][:n_set] + every[1][:n_cmd] + every[2][:n_fact]
    unsaid = every[0][n_set:] + every[1][n_cmd:] + every[2][n_fact:]
    made = Manual(names, items, unsaid)
    made.files = write(rng, made)
    return made


def write(rng: random.Random, made: Manual) -> dict[str, str]:
    """The manual's files: Python arguments in a module, the rest over 2-3 pages."""
    names = made.names
    arguments = [i for i in made.items if i.form == "argument"]
    rest = [i for i in made.items if i.form != "argument"]
    rng.shuffle(rest)
    files: dict[str, str] = {}
    if arguments:
        files[f"{names['tool']}/api.py"] = python(rng, arguments, names)
    count = rng.randint(2, 3)
    formats = rng.sample(list(FILES), count)
    for n, kind in enumerate(formats):
        share = rest[n::count]
        if share:
            files[rng.choice(FILES[kind])] = page(rng, kind, share, names)
    return files


def sections(rng: random.Random, items: list[Item]) -> list[tuple[str, list[Item]]]:
    found: list[tuple[str, list[Item]]] = []
    titles: set[str] = set()
    while items:
        size = rng.randint(2, 4)
        part, items = items[:size], items[size:]
        kind = _topic(part)
        title = rng.choice(W.SECTIONS[kind])
        while title in titles:
            title = f"{rng.choice(W.SECTIONS[kind])} ({len(titles) + 1})"
        titles.add(title)
        found.append((title, part))
    return found


def _topic(part: list[Item]) -> str:
    """What most of a section's items are: its title is drawn for that."""
    kinds = [f"{i.kind}s" for i in part]
    return max(sorted(set(kinds)), key=kinds.count)


def page(rng: random.Random, kind: str, items: list[Item], names: dict[str, str]) -> str:
    title = f"{names['Tool']} {rng.choice(('manual', 'guide', 'documentation', 'reference'))}"
    blocks = [_heading(kind, title, 1)]
    for heading, part in sections(rng, items):
        blocks.append(_heading(kind, heading, 2))
        filler = " ".join(rng.sample(W.FILLER, rng.randint(1, 3)))
        blocks.append(_paragraph(kind, filler.format(**names)))
        listed = [i for i in part if i.term]
        if listed:
            blocks.append(_terms(kind, listed))
        blocks += [_paragraph(kind, _sentence(kind, i)) for i in part if not i.term]
        examples = [i.example for i in part if i.example]
        if examples:
            blocks.append(_paragraph(kind, "For example:"))
            blocks.append(_code(kind, examples[0]))
    text = "\n\n".join(blocks) + "\n"
    return f"<html><body>\n{text}</body></html>\n" if kind == "html" else text


def _heading(kind: str, text: str, level: int) -> str:
    if kind == "md":
        return f"{'#' * level} {text}"
    if kind == "rst":
        return f"{text}\n{'=-'[level - 1] * len(text)}"
    if kind == "html":
        return f"<h{level}>{html.escape(text)}</h{level}>"
    return text.upper() if level == 1 else f"{text}\n{'-' * len(text)}"


def _paragraph(kind: str, text: str) -> str:
    return f"<p>{text}</p>" if kind == "html" else text


def _span(kind: str, code: str) -> str:
    return {
        "md": f"`{code}`",
        "rst": f"``{code}``",
        "html": f"<code>{html.escape(code)}</code>",
    }.get(kind, f'"{code}"')


def _sentence(kind: str, item: Item) -> str:
    text = item.sentence if kind != "html" else html.escape(item.sentence)
    return text.replace("{code}", _span(kind, item.code))


def _terms(kind: str, items: list[Item]) -> str:
    if kind == "md":
        return "\n".join(f"- `{i.term}`: {i.sentence}" for i in items)
    if kind == "rst":
        return "\n\n".join(f"``{i.term}``\n    {i.sentence}" for i in items)
    if kind == "html":
        rows = "".join(
            f"<dt><code>{html.escape(i.term)}</code></dt><dd>{html.escape(i.sentence)}</dd>"
            for i in items
        )
        return f"<dl>{rows}</dl>"
    return "\n".join(f"  {i.term}\n      {i.sentence}" for i in items)


def _code(kind: str, line: str) -> str:
    if kind == "md":
        return f"```sh\n{line}\n```"
    if kind == "rst":
        return f".. code-block:: bash\n\n    {line}"
    if kind == "html":
        return f"<pre><code>{html.escape(line)}</code></pre>"
    return f"    {line}"


def python(rng: random.Random, items: list[Item], names: dict[str, str]) -> str:
    """A module whose functions take the arguments, documented in their docstrings."""
    blocks = [f'"""The Python API of {names["Tool"]}."""']
    functions = rng.sample(sorted(FUNCTIONS), min(len(FUNCTIONS), (len(items) + 1) // 2))
    for n, name in enumerate(functions):
        share = items[n :: len(functions)]
        params = ", ".join(f"{i.term}={_literal(i)}" for i in share)
        docs = "\n".join(f"        {i.term}: {i.sentence}" for i in share)
        blocks.append(
            f"def {name}(path, {params}):\n"
            f'    """{FUNCTIONS[name]}\n\n'
            f"    Args:\n        path: the folder to work on.\n{docs}\n"
            f'    """\n    raise NotImplementedError'
        )
    return "\n\n\n".join(blocks) + "\n"


def _literal(item: Item) -> str:
    """A default as a signature writes it: a number, a string, or None ("30 seconds")."""
    text = item.default
    return text if re.fullmatch(r"\d+(\.\d+)?", text) else repr(text) if " " not in text else "None"
