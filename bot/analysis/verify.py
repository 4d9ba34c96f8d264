"""The verifier between the LLM and the reader: only grounded claims get through.

The LLM engine sends answers to the model in batches, each answer under a short
id that means something only in its batch (`A12`). Whatever the model replies is
checked here before anyone sees it:

- every cited answer id exists **in that batch** (an id from another batch, or an
  invented one, is dropped);
- every quote is an exact substring of the answer it cites, after whitespace
  normalisation (quotation marks around it are allowed), and is at least four
  words long or the whole answer: no paraphrase, no out-of-context fragment;
- a theme rests on at least two answers; a theme without a surviving quote gets
  the verbatim opening of its first answer instead;
- a contradiction names a question of the batch, has at least one verified quote
  from an executive answer and one from a frontline answer **to that question**,
  is not about a question where one side is under the anonymity floor, and does
  not contradict the figures: when the offline engine compared the two sides and
  found no contradiction, the model's claim of one is dropped;
- keywords are kept only when they occur in the theme's answers.

Everything dropped is logged with the reason and counted, so the engine can fall
back to the offline result when too little survives.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.analysis.models import AnswerRecord, Contradiction, QuestionResult, Quote
from bot.analysis.offline import MIN_QUOTE_WORDS, excerpt

if TYPE_CHECKING:
    from bot.analysis.llm import BatchFindings, CitedQuote, FoundContradiction, FoundTheme

logger = logging.getLogger(__name__)

MIN_THEME_ANSWERS = 2
MAX_QUOTES = 3
MAX_KEYWORDS = 5
MAX_TITLE_CHARS = 80
_QUOTE_MARKS = "\"'“”‘’«» "


@dataclass
class Batch:
    """The answers of one LLM call, by the short id the model saw, and the questions in it."""

    answers: dict[str, AnswerRecord]
    question_ids: dict[str, str]  # the model's question id (Q3) -> the real one


@dataclass
class GroundedTheme:
    """A theme that passed verification, in real answer ids."""

    title: str
    summary: str
    keywords: list[str]
    answer_ids: list[str]
    quotes: list[Quote]


@dataclass
class Verified:
    """What survived of one reply, and how much was proposed and dropped."""

    themes: list[GroundedTheme] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)
    proposed: int = 0
    dropped: list[str] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        logger.warning("LLM claim dropped: %s", reason)
        self.dropped.append(reason)


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces, ends trimmed."""
    return " ".join(text.split())


def _alias(value: str) -> str:
    """`a12`, `[A12]` or `A12.` as the model may write it, read as `A12`."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def verify_findings(
    findings: BatchFindings, batch: Batch, results: dict[str, QuestionResult]
) -> Verified:
    """Check one batch's reply against the batch's answers and the round's figures."""
    verified = Verified(proposed=len(findings.themes) + len(findings.contradictions))
    for theme in findings.themes:
        grounded = _theme(theme, batch, verified)
        if grounded is not None:
            verified.themes.append(grounded)
    for claim in findings.contradictions:
        contradiction = _contradiction(claim, batch, results, verified)
        if contradiction is not None:
            verified.contradictions.append(contradiction)
    return verified


def verified_quote(quote: CitedQuote, batch: Batch) -> tuple[AnswerRecord, Quote] | None:
    """The cited answer and the quote as verbatim text, or None when it is not grounded."""
    answer = batch.answers.get(_alias(quote.answer_id))
    if answer is None:
        return None
    text = normalise(quote.text).strip(_QUOTE_MARKS).removesuffix("...").removesuffix("…")
    text = text.strip(_QUOTE_MARKS)
    source = normalise(answer.text)
    if not text or text not in source:
        return None
    if len(text.split()) < MIN_QUOTE_WORDS and text != source:
        return None
    return answer, Quote(answer_id=answer.id, text=text)


def _theme(theme: FoundTheme, batch: Batch, verified: Verified) -> GroundedTheme | None:
    title = normalise(theme.title)[:MAX_TITLE_CHARS]
    ids: list[str] = []
    for cited in theme.answer_ids:
        answer = batch.answers.get(_alias(cited))
        if answer is None:
            verified.drop(f"theme {title!r} cites {cited!r}, which is not in its batch")
        elif answer.id not in ids:
            ids.append(answer.id)
    quotes: list[Quote] = []
    for quote in theme.quotes:
        checked = verified_quote(quote, batch)
        if checked is None:
            verified.drop(
                f"theme {title!r}: the quote {quote.text!r} is not verbatim in its answer"
            )
            continue
        answer, kept = checked
        if answer.id not in ids:
            ids.append(answer.id)
        if len(quotes) < MAX_QUOTES and all(q.answer_id != answer.id for q in quotes):
            quotes.append(kept)
    if not title or len(ids) < MIN_THEME_ANSWERS:
        verified.drop(f"theme {title!r} rests on {len(ids)} answer(s) of its batch")
        return None
    by_id = {a.id: a for a in batch.answers.values()}
    if not quotes:
        first = by_id[ids[0]]
        quotes = [Quote(answer_id=first.id, text=excerpt(first.text))]
    return GroundedTheme(
        title=title,
        summary=normalise(theme.summary),
        keywords=grounded_keywords(theme.keywords, [by_id[i].text for i in ids]),
        answer_ids=ids,
        quotes=quotes,
    )


def grounded_keywords(keywords: list[str], texts: list[str]) -> list[str]:
    """The keywords that occur in the texts, lower-cased, without repeats."""
    corpus = " ".join(texts).lower()
    kept: list[str] = []
    for keyword in keywords:
        word = normalise(keyword).lower().strip(".,;:!?\"'()[]")
        if word and word not in kept and re.search(rf"\b{re.escape(word)}", corpus):
            kept.append(word)
    return kept[:MAX_KEYWORDS]


def _contradiction(
    claim: FoundContradiction,
    batch: Batch,
    results: dict[str, QuestionResult],
    verified: Verified,
) -> Contradiction | None:
    question_id = batch.question_ids.get(_alias(claim.question_id))
    if question_id is None:
        verified.drop(f"a contradiction names {claim.question_id!r}, not a question of its batch")
        return None
    result = results.get(question_id)
    if result is None or result.suppressed:
        verified.drop(f"a contradiction on {question_id!r}, where a side is under the floor")
        return None
    if result.basis != "none" and not result.diverges:
        verified.drop(
            f"a contradiction on {question_id!r} goes against the figures "
            f"(gap {result.gap}, p={result.p_value}): {result.note or 'no contradiction'}"
        )
        return None
    sides: dict[str, list[Quote]] = {"executive": [], "frontline": []}
    for role, quotes in (
        ("executive", claim.executive_quotes),
        ("frontline", claim.frontline_quotes),
    ):
        for quote in quotes:
            checked = verified_quote(quote, batch)
            if checked is None:
                verified.drop(f"{question_id!r}: the quote {quote.text!r} is not verbatim")
                continue
            answer, kept = checked
            if answer.role != role or answer.question_id != question_id:
                verified.drop(
                    f"{question_id!r}: a {role} quote cites a {answer.role} answer "
                    f"to {answer.question_id!r}"
                )
                continue
            if len(sides[role]) < MAX_QUOTES and all(
                q.answer_id != kept.answer_id for q in sides[role]
            ):
                sides[role].append(kept)
    if not sides["executive"] or not sides["frontline"]:
        verified.drop(f"a contradiction on {question_id!r} does not quote both sides")
        return None
    summary = normalise(claim.summary)
    if not summary:
        verified.drop(f"a contradiction on {question_id!r} has no summary")
        return None
    return Contradiction(
        question_id=question_id,
        summary=summary,
        executive_quotes=sides["executive"],
        frontline_quotes=sides["frontline"],
    )
