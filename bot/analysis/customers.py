"""The customers' side of an analysis, and the reality gap.

The engines (offline, LLM) compare executives and frontline; `add_customer_side`
then lays the customers' answers to the same questions beside them, as a third
column on each question, and names the reality gap: a question where executives'
belief is at least `REALITY_GAP` points (on the 1-5 scale) from what customers
say, with whose view (executives' or frontline's) customers bear out, and a few
customer comments in their own words.

The anonymity floor applies to customers as to staff: a question with fewer
customer answers than the floor shows no customer figure and no comment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import mean, pstdev
from typing import Literal

from bot.analysis.junk import find_junk
from bot.analysis.models import (
    Analysis,
    AnswerRecord,
    HiddenGroup,
    QuestionResult,
    Quote,
    RealityGap,
    SideFigures,
)
from bot.analysis.offline import excerpt
from bot.core.anonymity import hidden_message

#: How far executives' mean must be from customers' (1-5 scale) to name a reality gap.
REALITY_GAP = 1.0
#: How much closer one side must be to the customers to be the one they bear out.
CLOSER_BY = 0.5
CUSTOMER_QUOTES = 2
MIN_QUOTE_WORDS = 4


def split_voices(
    answers: Sequence[AnswerRecord],
) -> tuple[list[AnswerRecord], list[AnswerRecord]]:
    """Staff answers (for the engines) and customer answers (for `add_customer_side`)."""
    staff = [a for a in answers if a.role != "customer"]
    customers = [a for a in answers if a.role == "customer"]
    return staff, customers


def add_customer_side(
    analysis: Analysis, answers: Sequence[AnswerRecord], *, min_group: int
) -> Analysis:
    """Put the customers' figures on each question and name the reality gaps, in place."""
    if not answers:
        return analysis
    by_question: dict[str, list[AnswerRecord]] = defaultdict(list)
    for answer in answers:
        by_question[answer.question_id].append(answer)
    results = {q.question_id: q for q in analysis.questions}
    for question_id, group in by_question.items():
        result = results.get(question_id)
        if result is None:  # only customers answered it
            result = QuestionResult(
                question_id=question_id,
                question=group[0].question,
                suppressed=False,
                diverges=False,
                executive=SideFigures(n=0),
                frontline=SideFigures(n=0),
                note="customers only",
            )
            analysis.questions.append(result)
            results[question_id] = result
        if len(group) < min_group:
            result.customers = SideFigures(n=0)
            analysis.hidden.append(
                HiddenGroup(
                    question_id=question_id, role="customer", reason=hidden_message(min_group)
                )
            )
            continue
        result.customers = _figures(group)
        analysis.answers_analysed += len(group)
        gap = _reality_gap(result, group)
        if gap is not None:
            analysis.reality_gaps.append(gap)
    analysis.reality_gaps.sort(key=lambda g: -abs(g.gap))
    return analysis


def _figures(group: list[AnswerRecord]) -> SideFigures:
    ratings = [a.rating for a in group if a.rating is not None]
    return SideFigures(
        n=len(group),
        n_rated=len(ratings),
        mean_rating=round(mean(ratings), 2) if ratings else None,
        position=round(mean(ratings), 2) if ratings else None,
        spread=round(pstdev(ratings), 2) if len(ratings) > 1 else None,
    )


def side_mean(side: SideFigures | None) -> float | None:
    """A side's position on the 1-5 scale: its mean rating, else its stance read from text."""
    if side is None or side.n == 0:
        return None
    if side.position is not None:
        return side.position
    if side.mean_rating is not None:
        return side.mean_rating
    if side.stance is not None:
        return round(3 + 2 * side.stance, 2)
    return None


def closest_side(result: QuestionResult) -> Literal["executive", "frontline", "neither"] | None:
    """Whose view customers bear out on a question: the side at least `CLOSER_BY` closer
    to the customers' mean; "neither" when both are about as close; None when a side
    (or the customers) cannot be compared."""
    customers = side_mean(result.customers)
    executive, frontline = side_mean(result.executive), side_mean(result.frontline)
    if customers is None or executive is None or frontline is None:
        return None
    to_exec, to_front = abs(executive - customers), abs(frontline - customers)
    if to_front + CLOSER_BY <= to_exec:
        return "frontline"
    if to_exec + CLOSER_BY <= to_front:
        return "executive"
    return "neither"


def _reality_gap(result: QuestionResult, group: list[AnswerRecord]) -> RealityGap | None:
    customers = side_mean(result.customers)
    executive = side_mean(result.executive)
    if customers is None or executive is None or abs(executive - customers) < REALITY_GAP:
        return None
    frontline = side_mean(result.frontline)
    closest = closest_side(result)
    gap = round(executive - customers, 2)
    believe = "better" if gap > 0 else "worse"
    summary = (
        f"Executives believe it is {believe} than customers say ({executive:.1f} vs "
        f"{customers:.1f} out of 5)"
    )
    if closest == "frontline":
        summary += f"; the frontline ({frontline:.1f}) is closer to what customers say"
    elif frontline is not None:
        summary += f"; the frontline says {frontline:.1f}"
    return RealityGap(
        question_id=result.question_id,
        summary=summary + ".",
        executive=executive,
        customers=customers,
        frontline=frontline,
        gap=gap,
        closest=closest or "neither",
        customer_quotes=_quotes(group, low=gap > 0),
    )


def _quotes(group: list[AnswerRecord], *, low: bool) -> list[Quote]:
    """Customers' comments on the far side of the gap: the lowest-rated ones when
    executives believe better of it, the highest when worse; real sentences first."""
    candidates = [
        a
        for a in group
        if a.text.strip()
        and a.rating is not None
        and find_junk(a.text, rated=True) is None
        and len(a.text.split()) >= MIN_QUOTE_WORDS
    ]
    candidates.sort(key=lambda a: (a.rating if low else -a.rating, -len(a.text), a.id))
    quotes: list[Quote] = []
    for answer in candidates[:CUSTOMER_QUOTES]:
        quotes.append(Quote(answer_id=answer.id, text=excerpt(answer.text)))
    return quotes
