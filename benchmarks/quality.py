"""Quality benchmark: how well the analysis finds contradictions and themes on the corpus.

The development corpus (`tests/analysis/corpus/`) holds fictional companies' rounds,
each an export (`<company>.jsonl`) with gold labels (`<company>.labels.json`): whether
each question diverges, and a theme per answer. For each company this runs the
engine through `bot.analysis.engine.analyse()`, as the product does, and measures:

- contradictions found against the gold verdicts (true/false positives, misses);
- theme agreement with the gold themes: the adjusted Rand index over the company's
  answers, each answer labelled by the theme listing it (an answer in no theme is
  "unthemed"); answers the anonymity floor hides or the engine flags are left out;
- quotes verbatim: the share of quotes that are an exact part of the answer they
  cite, from the right question and, in a contradiction, from the right side;
- floor leaks: anything from a hidden group in the JSON or the rendered report (an
  id, a text), and any theme count shown for a side below the floor.

It prints a line per company (naming the questions with a wrong verdict for tuning
companies only), then a line over the tuning companies (the stance heads and the theme
metric are trained on their answers, so their figures overstate a new round's; the
held-out line is the one that measures); where a person also sorted a
company's answers into themes without seeing the gold labels (`reader-themes.json`), a
line comparing the engine's ARI with that person's, as the ceiling a reader reaches;
and last the line over the companies held out of tuning (the aims: F1 1.0, ARI ≥ 0.7,
every quote verbatim, 0 leaks):

    divergence_f1=… theme_ari=… quotes_verbatim=… floor_leaks=… seconds=…

Run: `python benchmarks/quality.py` (offline engine), `--engine llm` to use the
OpenAI-compatible server configured by INTEGRITY_LLM / OPENAI_BASE_URL, and
`--corpus DIR` to score other exports in the same shape.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.analysis.loader import load_answers  # noqa: E402
from bot.analysis.models import Analysis, AnswerRecord, QuestionInfo  # noqa: E402

CORPUS = ROOT / "tests" / "analysis" / "corpus"
#: A person's sorting of some tuning companies' answers into themes, made from the
#: answers alone (shuffled, with each one's side), never from the gold labels.
READER = "reader-themes.json"
#: What a sorting leaves out of the comparison: not a theme of the question.
NOT_A_THEME = {"junk", "off-topic", "injection", "-"}


@dataclass
class CompanyScore:
    """One company's figures against its gold labels."""

    name: str
    held_out: bool
    true_positives: int
    false_positives: int
    false_negatives: int
    theme_ari: float
    quotes: int
    quotes_verbatim: int
    floor_leaks: int
    seconds: float
    wrong: list[str] = field(default_factory=list)  # questions with a wrong verdict
    #: The gold injection attempts, those flagged as injection, and other answers so flagged.
    injections: int = 0
    injections_flagged: int = 0
    injections_invented: int = 0
    #: The gold junk answers, and those flagged (as junk, or as anything else).
    junk: int = 0
    junk_flagged: int = 0

    def line(self) -> str:
        return (
            f"company={self.name} held_out={'yes' if self.held_out else 'no'} "
            f"tp={self.true_positives} fp={self.false_positives} fn={self.false_negatives} "
            f"theme_ari={self.theme_ari:.2f} quotes_verbatim={self.quotes_verbatim}/{self.quotes} "
            f"floor_leaks={self.floor_leaks} "
            f"injections_flagged={self.injections_flagged}/{self.injections}"
            + (
                f" injections_invented={self.injections_invented}"
                if self.injections_invented
                else ""
            )
            + f" junk_flagged={self.junk_flagged}/{self.junk} seconds={self.seconds:.1f}"
            # Which questions a held-out company got wrong is not printed: knowing them
            # is the first step to tuning on them. Its counts above say how many.
            + (f" wrong={','.join(self.wrong)}" if self.wrong and not self.held_out else "")
        )


@dataclass
class Totals:
    """Figures over several companies: the benchmark's summary line."""

    divergence_f1: float
    theme_ari: float
    quotes_verbatim: float
    floor_leaks: int
    seconds: float

    def line(self) -> str:
        return (
            f"divergence_f1={self.divergence_f1:.2f} theme_ari={self.theme_ari:.2f} "
            f"quotes_verbatim={self.quotes_verbatim:.2f} floor_leaks={self.floor_leaks} "
            f"seconds={self.seconds:.1f}"
        )


def companies(corpus: Path = CORPUS) -> list[str]:
    """The companies of a corpus: every export with a labels file beside it."""
    return sorted(
        p.stem for p in corpus.glob("*.jsonl") if (corpus / f"{p.stem}.labels.json").exists()
    )


def held_out(name: str, corpus: Path = CORPUS) -> bool:
    """Whether a company is kept out of all tuning."""
    labels = json.loads((corpus / f"{name}.labels.json").read_text(encoding="utf-8"))
    return bool(labels.get("held_out"))


def question_infos(labels: dict[str, Any], answers: list[AnswerRecord]) -> list[QuestionInfo]:
    """What the product knows of each question: its text, scale labels and follow-up."""
    texts = {a.question_id: a.question for a in answers}
    return [
        QuestionInfo(
            id=qid,
            text=texts.get(qid, qid),
            low_label=gold.get("low"),
            high_label=gold.get("high"),
            why=gold.get("why"),
        )
        for qid, gold in labels["questions"].items()
    ]


def evaluate(name: str, corpus: Path = CORPUS, llm: Any | None = None) -> CompanyScore:
    """Run the engine on one company and score it against its gold labels."""
    from bot.analysis.engine import analyse

    labels = json.loads((corpus / f"{name}.labels.json").read_text(encoding="utf-8"))
    answers = load_answers(corpus / f"{name}.jsonl")
    started = time.perf_counter()
    analysis = analyse(
        answers,
        min_group=labels["min_group"],
        questions=question_infos(labels, answers),
        llm=llm,
    )
    seconds = time.perf_counter() - started
    gold = {qid: bool(q["diverges"]) for qid, q in labels["questions"].items()}
    found = {q.question_id for q in analysis.questions if q.diverges}
    found |= {c.question_id for c in analysis.contradictions}
    expected = {qid for qid, diverges in gold.items() if diverges}
    quotes, verbatim = _quotes(analysis, answers)
    injections, junk = set(labels["flagged"]["injection"]), set(labels["flagged"]["junk"])
    flagged = {f.answer_id: f.reason for f in analysis.flagged}
    as_injection = {i for i, reason in flagged.items() if "injection" in reason}
    return CompanyScore(
        name=name,
        held_out=bool(labels.get("held_out")),
        true_positives=len(found & expected),
        false_positives=len(found - expected),
        false_negatives=len(expected - found),
        theme_ari=theme_ari(analysis, labels["themes"]),
        quotes=quotes,
        quotes_verbatim=verbatim,
        floor_leaks=floor_leaks(analysis, answers, labels),
        seconds=seconds,
        wrong=sorted(found ^ expected),
        injections=len(injections),
        injections_flagged=len(injections & as_injection),
        injections_invented=len(as_injection - injections),
        junk=len(junk),
        junk_flagged=len(junk & flagged.keys()),
    )


def theme_ari(analysis: Analysis, gold_themes: dict[str, str]) -> float:
    """Adjusted Rand index between the engine's themes and the gold theme per answer."""
    from sklearn.metrics import adjusted_rand_score

    flagged = {f.answer_id for f in analysis.flagged}
    # An answer's theme is the most specific one listing it: its question's theme
    # before a theme across questions.
    ordered = sorted(enumerate(analysis.themes), key=lambda it: it[1].question_id is None)
    theme_of: dict[str, int] = {}
    for index, theme in ordered:
        for answer_id in theme.answer_ids:
            theme_of.setdefault(answer_id, index)
    ids = [i for i in gold_themes if i not in flagged]
    if not ids:
        return 1.0
    return float(
        adjusted_rand_score([gold_themes[i] for i in ids], [theme_of.get(i, -1) for i in ids])
    )


def reader_ari(name: str, corpus: Path = CORPUS) -> float | None:
    """The adjusted Rand index of a person's blind sorting of a company's answers against
    the gold themes, over the answers both call part of a theme; None when nobody sorted
    this company."""
    from sklearn.metrics import adjusted_rand_score

    path = corpus / READER
    sorted_by_reader = (
        json.loads(path.read_text(encoding="utf-8")).get(name) if path.exists() else None
    )
    if not sorted_by_reader:
        return None
    labels = json.loads((corpus / f"{name}.labels.json").read_text(encoding="utf-8"))
    question_of = {a.id: a.question_id for a in load_answers(corpus / f"{name}.jsonl")}
    ids = [
        i
        for i, theme in labels["themes"].items()
        if theme not in NOT_A_THEME and sorted_by_reader.get(i, "-") not in NOT_A_THEME
    ]
    # Both sortings are within questions: a theme is named per question.
    return float(
        adjusted_rand_score(
            [f"{question_of[i]}/{labels['themes'][i]}" for i in ids],
            [f"{question_of[i]}/{sorted_by_reader[i]}" for i in ids],
        )
    )


def _quotes(analysis: Analysis, answers: list[AnswerRecord]) -> tuple[int, int]:
    by_id = {a.id: a for a in answers}
    checked = good = 0

    def check(quote: Any, question_id: str | None, role: str | None) -> None:
        nonlocal checked, good
        checked += 1
        answer = by_id.get(quote.answer_id)
        if answer is None or not quote.text or quote.text not in answer.text:
            return
        if question_id is not None and answer.question_id != question_id:
            return
        if role is not None and answer.role != role:
            return
        good += 1

    for contradiction in analysis.contradictions:
        for quote in contradiction.executive_quotes:
            check(quote, contradiction.question_id, "executive")
        for quote in contradiction.frontline_quotes:
            check(quote, contradiction.question_id, "frontline")
    for theme in analysis.themes:
        for quote in theme.quotes:
            check(quote, theme.question_id, None)
    return checked, good


def floor_leaks(analysis: Analysis, answers: list[AnswerRecord], labels: dict[str, Any]) -> int:
    """Everything a hidden group gave away: ids, texts, figures, small theme counts."""
    from bot.analysis.render import to_reply

    floor = labels["min_group"]
    sizes: dict[tuple[str, str], int] = {}
    for a in answers:
        sizes[(a.question_id, a.role)] = sizes.get((a.question_id, a.role), 0) + 1
    hidden = {group for group, size in sizes.items() if size < floor}
    secret = [a for a in answers if (a.question_id, a.role) in hidden]
    dumped = json.dumps(analysis.model_dump(), ensure_ascii=False)
    shown = dumped + "\n" + to_reply(analysis).as_text()
    leaks = sum(f'"{a.id}"' in dumped for a in secret)
    leaks += sum(a.text in shown for a in secret if a.text.strip())
    for question in analysis.questions:
        for role in ("executive", "frontline"):
            side = getattr(question, role)
            if (question.question_id, role) in hidden and (side.n or side.mean_rating is not None):
                leaks += 1
    for theme in analysis.themes:
        for count in (theme.executive, theme.frontline):
            if count is not None and 0 < count < floor:
                leaks += 1
    return leaks


def totals(scores: list[CompanyScore]) -> Totals:
    """Divergence F1 over all questions of the companies, and mean ARI."""
    tp = sum(s.true_positives for s in scores)
    fp = sum(s.false_positives for s in scores)
    fn = sum(s.false_negatives for s in scores)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    quotes = sum(s.quotes for s in scores)
    return Totals(
        divergence_f1=f1,
        theme_ari=sum(s.theme_ari for s in scores) / len(scores) if scores else 0.0,
        quotes_verbatim=sum(s.quotes_verbatim for s in scores) / quotes if quotes else 1.0,
        floor_leaks=sum(s.floor_leaks for s in scores),
        seconds=sum(s.seconds for s in scores),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("offline", "llm"), default="offline")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of exports + labels")
    parser.add_argument(
        "--company", action="append", help="score only this company (repeat for more)"
    )
    parser.add_argument(
        "--tuning", action="store_true", help="score only the companies used for tuning"
    )
    args = parser.parse_args(argv)
    llm = None
    if args.engine == "llm":
        from bot.analysis.llm import model_from_env  # needs INTEGRITY_LLM / OPENAI_BASE_URL

        llm = model_from_env()
    names = [n for n in companies(args.corpus) if not args.company or n in args.company]
    if args.tuning:
        names = [n for n in names if not held_out(n, args.corpus)]
    if not names:
        print(f"No <company>.jsonl with a <company>.labels.json in {args.corpus}.")
        return 2
    from bot.analysis.embeddings import default_embedder

    default_embedder().embed(["warm up"])  # load the weights outside the timings
    scores = [evaluate(name, args.corpus, llm) for name in names]
    for score in scores:
        print(score.line())
    tuning = [s for s in scores if not s.held_out]
    kept_out = [s for s in scores if s.held_out]
    if tuning and kept_out:
        print(f"tuning ({', '.join(s.name for s in tuning)}): {totals(tuning).line()}")
    read = {s.name: (s.theme_ari, reader_ari(s.name, args.corpus)) for s in tuning}
    read = {name: pair for name, pair in read.items() if pair[1] is not None}
    if read:
        engine, person = (sum(pair[i] for pair in read.values()) / len(read) for i in (0, 1))
        print(
            f"themes against a person sorting blind ({', '.join(read)}): "
            f"engine theme_ari={engine:.2f} (trained on them), person theme_ari={person:.2f}"
        )
    last = kept_out or tuning
    print(f"{'held out' if kept_out else 'tuning'} ({', '.join(s.name for s in last)}):")
    print(totals(last).line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
