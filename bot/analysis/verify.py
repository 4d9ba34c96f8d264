"""The verifier between the LLM and the reader: only grounded claims get through.

The LLM engine sends answers to the model in batches, each answer under a short
id that means something only in its batch (`A12`). Whatever the model replies is
checked here before anyone sees it. What is checked is **grounding**, not agreement
with the offline engine: the model is there to find what the figures miss (two
sides that say opposite things in words that sound equally positive), so a
contradiction the figures do not show is kept when the answers bear it out.

- every cited answer id exists **in that batch** (an id from another batch, or an
  invented one, is dropped);
- every quote is verbatim in the answer it cites, after whitespace normalisation
  (quotation marks around it are allowed), starts and ends on word boundaries, and
  is at least four words long or the whole answer (`bot.analysis.quotes`);
- a theme rests on at least one representative answer of its batch; a theme without
  a surviving quote gets the verbatim opening of its first representative instead.
  Its other members are assigned by the engine, and its title and gist are then
  checked against them (`check_wording`): their words must occur in the members'
  answers and they may hold no number the answers do not;
- a contradiction names a question of the batch, is not about a question where one
  side is under the anonymity floor, and quotes **each side enough**: verified quotes
  from at least `MIN_QUOTES_PER_SIDE` different answers of that side to that question
  (or every answer of that side in the batch, when it holds fewer);
- a contradiction's follow-up is kept only when it is one plain question.

Everything dropped is logged with the reason and counted, so the engine can fall
back to the offline result when too little survives. Numbers shown to readers never
come from the model: they are the offline engine's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from bot.analysis.findings import (
    BatchFindings,
    CitedQuote,
    FoundContradiction,
    FoundTheme,
)
from bot.analysis.models import AnswerRecord, Contradiction, QuestionResult, Quote, Role
from bot.analysis.quotes import excerpt, find_verbatim, normalise
from bot.core.replies import counted

logger = logging.getLogger(__name__)

MAX_QUOTES = 3
MIN_QUOTES_PER_SIDE = 2
MAX_TITLE_CHARS = 80
MAX_FOLLOW_UP_CHARS = 200
#: A gist paraphrases more than a title: a third of its words must occur in the answers.
GIST_SHARE = 1 / 3
#: Words too common to show that a title is about its answers.
_COMMON_WORDS = """
a about after all also am an and any are as at be been but by can could did do does for
from had has have he her his how i if in into is it its just me more most much my no not of
on one or our out over she so some than that the their them then there these they this those
to too up us very was we were what when where which who why will with would you your
customer customers staff executive executives frontline team teams people company says say
"""
_COMMON = frozenset(_COMMON_WORDS.split())
_WORD = re.compile(r"[a-z][a-z'-]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass
class Batch:
    """The answers of one LLM call, by the short id the model saw, and the questions in it."""

    answers: dict[str, AnswerRecord]
    question_ids: dict[str, str]  # the model's question id (Q3) -> the real one

    @property
    def groups(self) -> set[tuple[str, Role]]:
        """The (question, role) groups the model saw in this batch."""
        return {(a.question_id, a.role) for a in self.answers.values()}


@dataclass
class GroundedTheme:
    """A theme that passed verification, in real answer ids.

    `representatives` are the answers the model named; `answer_ids` are every member, filled
    in by the engine; `seen` are the (question, role) groups the model read when it found the
    theme, so a side is only said to be silent on a theme when the model saw its answers."""

    title: str
    summary: str
    representatives: list[str]
    quotes: list[Quote]
    answer_ids: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    seen: set[tuple[str, Role]] = field(default_factory=set)


@dataclass
class Verified:
    """What survived of one reply, and how much was proposed and dropped."""

    themes: list[GroundedTheme] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)
    #: The model's "what to ask next" for each kept contradiction, by question id.
    follow_ups: dict[str, str] = field(default_factory=dict)
    proposed: int = 0
    dropped: list[str] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        logger.warning("LLM claim dropped: %s", reason)
        self.dropped.append(reason)


def _alias(value: str) -> str:
    """`a12`, `[A12]` or `A12.` as the model may write it, read as `A12`."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def verify_findings(
    findings: BatchFindings, batch: Batch, results: dict[str, QuestionResult]
) -> Verified:
    """Check one batch's reply against the batch's answers and the round's floor."""
    verified = Verified(proposed=len(findings.themes) + len(findings.contradictions))
    for theme in findings.themes:
        grounded = _theme(theme, batch, verified)
        if grounded is not None:
            verified.themes.append(grounded)
    for claim in findings.contradictions:
        contradiction = _contradiction(claim, batch, results, verified)
        if contradiction is not None:
            verified.contradictions.append(contradiction)
            follow_up = follow_up_question(claim.follow_up)
            if follow_up:
                verified.follow_ups.setdefault(contradiction.question_id, follow_up)
    return verified


def verified_quote(quote: CitedQuote, batch: Batch) -> tuple[AnswerRecord, Quote] | None:
    """The cited answer and the quote as verbatim text, or None when it is not grounded."""
    answer = batch.answers.get(_alias(quote.answer_id))
    if answer is None:
        return None
    text = find_verbatim(quote.text, answer.text)
    if text is None:
        return None
    return answer, Quote(answer_id=answer.id, text=text, role=answer.role)


def _theme(theme: FoundTheme, batch: Batch, verified: Verified) -> GroundedTheme | None:
    title = normalise(theme.title)[:MAX_TITLE_CHARS]
    ids: list[str] = []
    for cited in theme.representative_ids:
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
    if not ids:
        verified.drop(f"theme {title!r} names no answer of its batch")
        return None
    if not quotes:
        first = next(a for a in batch.answers.values() if a.id == ids[0])
        quotes = [Quote(answer_id=first.id, text=excerpt(first.text), role=first.role)]
    return GroundedTheme(
        title=title,
        summary=normalise(theme.gist),
        representatives=ids,
        quotes=quotes,
        seen=batch.groups,
    )


def _words(text: str) -> set[str]:
    return {w.strip("'-") for w in _WORD.findall(text.lower())} - _COMMON


def _stem(word: str) -> str:
    """A crude stem (the first five letters), so "delays" is borne out by "delayed"."""
    return word[:5]


def borne_out(wording: str, texts: list[str], share: float = 0.5) -> bool:
    """Whether a title or gist is about these answers: at least `share` of its own words (not
    the common ones) occur in them, by stem, and every number in it occurs in them."""
    corpus = " ".join(texts).lower()
    stems = {_stem(w) for w in _words(corpus)}
    words = _words(wording)
    if not words or sum(_stem(w) in stems for w in words) < share * len(words):
        return False
    numbers = set(_NUMBER.findall(corpus))
    return all(n in numbers for n in _NUMBER.findall(wording))


def check_wording(theme: GroundedTheme, members: list[AnswerRecord]) -> list[str]:
    """Check the theme's title and gist against its members' answers; what was not borne out is
    cleared (the engine then writes a title from the answers). The reasons, for the count."""
    texts = [a.text for a in members]
    reasons = []
    if not theme.title or not borne_out(theme.title, texts):
        reasons.append(f"the theme title {theme.title!r} is not borne out by its answers")
        theme.title = ""
    if theme.summary and not borne_out(theme.summary, texts, GIST_SHARE):
        reasons.append(f"the theme gist {theme.summary!r} is not borne out by its answers")
        theme.summary = ""
    for reason in reasons:
        logger.warning("LLM wording replaced: %s", reason)
    return reasons


def follow_up_question(text: str) -> str:
    """The model's follow-up as one plain question, or "" when it is not one."""
    flat = normalise(text).strip(" \"'“”")
    if not flat.endswith("?") or len(flat) > MAX_FOLLOW_UP_CHARS or flat.count("?") > 1:
        return ""
    if len(flat.split()) < 4 or "<" in flat or ">" in flat:
        return ""
    return flat


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
    for role in ("executive", "frontline"):
        in_batch = sum(
            1 for a in batch.answers.values() if a.question_id == question_id and a.role == role
        )
        needed = min(MIN_QUOTES_PER_SIDE, in_batch) or 1
        if len(sides[role]) < needed:
            verified.drop(
                f"a contradiction on {question_id!r} quotes "
                f"{counted(len(sides[role]), f'{role} answer')}; it needs {needed}"
            )
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
