"""Answers from documents: does the default model say what the passages say, and say so
when they do not hold the answer? Each adapter (``none`` is the bare model) against the
same questions, in one run.

Run as ``.venv/bin/python bench/answers.py [--manual DIR] [--adapters none smollm2-docs]``
from the repository root. Asked with ``--docs``, default settings but for the
temperature (``--temperatures``, default ``0 0.7``: greedy, and the default with a
fixed seed per question so two runs agree) and a 96-token reply limit:

- ``corpus``: the 40 questions of ``tests/docs_corpus.py``, about its generated
  corpus: replies holding the fact's value (case and spacing aside), per kind;
- ``manual`` (with ``--manual DIR``, the ``docs/`` folder of the sqlite-utils 4.2.1
  sdist, as ``bench/retrieval.py --manual`` takes it): the 30 questions of
  ``bench/manual_questions.json``, replies holding one of a question's answers, per
  kind, with how often the right passage was among those the model read; and its 10
  questions the manual does not answer: replies that say the documents do not say
  (``refused``), the rest state something the manual does not hold (``invented``);
- time to first token with the passages in the prompt, median over the manual's
  questions (over the corpus's without ``--manual``).

``--tools calculator,now`` turns those tools on beside the documents, as a chat with
both does (their descriptions in the prompt, calls allowed).

Nothing here was trained on: the adapters' data is generated (``recipes/docs_data``)
from made-up programs' manuals, and neither the corpus nor the manual is among them.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent
# a reply that says the documents do not answer, in the words small models use for it
REFUSED = re.compile(
    r"(don't|do not|doesn't|does not|didn't|did not) (say|mention|answer|cover|contain|"
    r"include|state|specify|provide|tell|describe)|not (mentioned|covered|stated|specified|"
    r"described|answered)|no (information|mention)|(can't|cannot|could not|couldn't|unable to)"
    r" (find|answer|tell|determine)|not in the (documents|passages)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Asked:
    text: str
    answers: tuple[str, ...]  # a right reply holds one; none: the documents don't say
    kind: str
    file: str = ""  # the file that holds the answer


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", info)
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split()) if "flags" in info else set()  # type: ignore[union-attr]
    shown = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags)
    return f"{model.group(1) if model else '?'}, flags {shown}"


def squashed(text: str) -> str:
    return " ".join(re.findall(r"[\w.-]+", text.lower().replace("`", "")))


def holds(reply: str, answer: str) -> bool:
    """Case and spacing aside; an answer starting with - is matched as a whole token."""
    if answer.startswith("-"):
        return (
            re.search(rf"(?<![\w-]){re.escape(answer.lower())}(?![\w-])", reply.lower()) is not None
        )
    words = " ".join(re.findall(r"\w+", answer.lower()))
    return words in " ".join(re.findall(r"\w+", reply.lower()))


def corpus_questions(folder: Path) -> list[Asked]:
    from tests.docs_corpus import make_corpus

    return [Asked(q.text, (q.answer,), q.kind, q.file) for q in make_corpus(folder)]


def manual_questions() -> tuple[list[Asked], list[Asked]]:
    data = json.loads((HERE / "manual_questions.json").read_text(encoding="utf-8"))
    told = [
        Asked(q["question"], tuple(q["answer"]), q["kind"], q["file"]) for q in data["questions"]
    ]
    return told, [Asked(text, (), "unanswered") for text in data["unanswered"]]


def ask(
    backend: Any, temperature: float, folder: Path, questions: list[Asked], tools: list[str]
) -> tuple[Counter[str], list[float], int]:
    """Per kind, the right replies (unanswered: refused ones); the times to first token;
    how many answered questions had the right file among the passages read."""
    from minichat.chat.session import ChatSession
    from minichat.settings.layered import load_settings

    right: Counter[str] = Counter()
    firsts, found = [], 0
    for n, question in enumerate(questions):
        flags = {"temperature": str(temperature), "max_new_tokens": "96", "seed": str(n)}
        session = ChatSession.start(backend, load_settings(flags, environ={}))
        session.use_documents(str(folder))
        if tools:
            session.use_tools(tools)
        exchange = session.send(question.text)
        reply = exchange.reply
        if question.answers:
            right[question.kind] += any(holds(reply, a) for a in question.answers)
            found += any(
                Path(h.chunk.path).name == Path(question.file).name for h in exchange.sources
            )
        else:
            right[question.kind] += REFUSED.search(reply) is not None
        if exchange.stats.time_to_first_token is not None:
            firsts.append(exchange.stats.time_to_first_token)
    return right, firsts, found


def main() -> None:
    from minichat.catalog import load_backend

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--manual", type=Path, metavar="DIR", help="the sqlite-utils 4.2.1 docs/ folder"
    )
    parser.add_argument("--adapters", nargs="+", default=["none", "smollm2-docs"], metavar="A")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[0.0, 0.7], metavar="T")
    parser.add_argument("--no-corpus", action="store_true", help="only the manual")
    parser.add_argument("--tools", default="", help="tools on beside the documents: a,b,...")
    args = parser.parse_args()
    tools = [name for name in args.tools.split(",") if name]
    print(cpu())
    with tempfile.TemporaryDirectory() as folder:
        corpus = [] if args.no_corpus else corpus_questions(Path(folder) / "corpus")
        told, unanswered = manual_questions() if args.manual else ([], [])
        for adapter in args.adapters:
            backend = load_backend(
                "smollm2", adapter=None if adapter == "none" else adapter, compile="off"
            )
            print(f"\n{backend.describe()}")
            for temperature in args.temperatures:
                line, firsts = [], []
                if corpus:
                    right, times, _ = ask(
                        backend, temperature, Path(folder) / "corpus", corpus, tools
                    )
                    kinds = ", ".join(f"{k} {right[k]}" for k in sorted(right))
                    line.append(f"corpus {sum(right.values())}/{len(corpus)} ({kinds})")
                    firsts = times
                if told:
                    right, times, found = ask(backend, temperature, args.manual, told, tools)
                    kinds = ", ".join(f"{k} {right[k]}" for k in ("keyword", "paraphrase", "value"))
                    line.append(
                        f"manual {sum(right.values())}/{len(told)} ({kinds}; "
                        f"right file read {found}/{len(told)})"
                    )
                    refused, more, _ = ask(backend, temperature, args.manual, unanswered, tools)
                    line.append(f"unanswered: refused {refused['unanswered']}/{len(unanswered)}")
                    firsts = times + more
                median = statistics.median(firsts) if firsts else float("nan")
                print(
                    f"  temperature {temperature:g}: "
                    + "; ".join(line)
                    + f"; first token {median:.2f} s median"
                )
                sys.stdout.flush()
            backend.close()


if __name__ == "__main__":
    main()
