"""The customers' side of an analysis, and the reality gap.

The engines (offline, LLM) compare executives and frontline; `add_customer_side`
then lays the customers' answers to the same questions beside them, as a third
column on each question, and names the reality gap: a question where executives'
belief is at least `REALITY_GAP` points (on the 1-5 scale) from what customers
say (or executives' prediction of what customers would say is that far off), with
whose view (executives' or frontline's) customers bear out, and a few customer
comments in their own words. Executives and frontline may each predict what
customers would answer (a second rating on their answer): `Analysis.predictions`
says whose predictions came closest.

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
    Predictions,
    QuestionResult,
    Quote,
    RealityGap,
    SideFigures,
)
from bot.analysis.quotes import excerpt
from bot.core.anonymity import Floor

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
    analysis: Analysis,
    answers: Sequence[AnswerRecord],
    *,
    min_group: int,
    staff: Sequence[AnswerRecord] = (),
) -> Analysis:
    """Put the customers' figures on each question, and each side's prediction of them
    (from the `staff` answers' second rating), and name the reality gaps, in place."""
    _add_predictions(analysis, staff, min_group)
    if not answers:
        _score_predictions(analysis)
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
        if Floor(min_group).hides(len(group)):
            result.customers = SideFigures(n=0)
            analysis.hidden.append(
                HiddenGroup(
                    question_id=question_id, role="customer", reason=Floor(min_group).sentence
                )
            )
            continue
        result.customers = _figures(group)
        analysis.answers_analysed += len(group)
        gap = _reality_gap(result, group)
        if gap is not None:
            analysis.reality_gaps.append(gap)
    analysis.reality_gaps.sort(key=_gap_size)
    _score_predictions(analysis)
    return analysis


def _gap_size(gap: RealityGap) -> float:
    far = abs(gap.gap)
    if gap.executive_prediction is not None:
        far = max(far, abs(gap.executive_prediction - gap.customers))
    return -far


def _add_predictions(analysis: Analysis, staff: Sequence[AnswerRecord], min_group: int) -> None:
    """Each side's prediction of customers per question, under the floor like its answers
    (a side's predictions are a group of their own: fewer than the floor, none shown)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for answer in staff:
        if answer.customer_prediction is not None:
            groups[(answer.question_id, answer.role)].append(answer.customer_prediction)
    results = {q.question_id: q for q in analysis.questions}
    for (question_id, role), predictions in groups.items():
        result = results.get(question_id)
        if result is None:
            continue
        figures = (
            SideFigures(n=0)
            if Floor(min_group).hides(len(predictions))
            else SideFigures(
                n=len(predictions),
                n_rated=len(predictions),
                mean_rating=round(mean(predictions), 2),
                position=round(mean(predictions), 2),
            )
        )
        setattr(result, f"{role}_prediction", figures)


def closest_prediction(
    result: QuestionResult,
) -> Literal["executive", "frontline", "neither"] | None:
    """Whose prediction of customers came closer to what they said on this question (at
    least `CLOSER_BY` closer), "neither", or None when it cannot be told."""
    return _closer(
        side_mean(result.customers),
        side_mean(result.executive_prediction),
        side_mean(result.frontline_prediction),
    )


def _score_predictions(analysis: Analysis) -> None:
    """How far off each side's predictions were, on average, and whose came closest."""
    predicted = [
        q
        for q in analysis.questions
        if side_mean(q.executive_prediction) is not None
        or side_mean(q.frontline_prediction) is not None
    ]
    if not predicted:
        return
    errors: dict[str, list[float]] = {"executive": [], "frontline": []}
    compared = 0
    for q in predicted:
        customers = side_mean(q.customers)
        if customers is None:
            continue
        compared += 1
        for role in errors:
            guess = side_mean(getattr(q, f"{role}_prediction"))
            if guess is not None:
                errors[role].append(abs(guess - customers))
    executive = round(mean(errors["executive"]), 2) if errors["executive"] else None
    frontline = round(mean(errors["frontline"]), 2) if errors["frontline"] else None
    closest = None
    if executive is not None and frontline is not None:
        closest = (
            "frontline"
            if frontline + CLOSER_BY <= executive
            else "executive"
            if executive + CLOSER_BY <= frontline
            else "neither"
        )
    analysis.predictions = Predictions(
        questions=compared,
        executive_error=executive,
        frontline_error=frontline,
        closest=closest,
    )


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
    return _closer(
        side_mean(result.customers), side_mean(result.executive), side_mean(result.frontline)
    )


def _closer(
    customers: float | None, executive: float | None, frontline: float | None
) -> Literal["executive", "frontline", "neither"] | None:
    """Which of two figures is at least `CLOSER_BY` closer to the customers' one; "neither"
    when both are about as close; None when one is missing. The one rule for predictions
    and for the sides' own views."""
    if customers is None or executive is None or frontline is None:
        return None
    to_exec, to_front = abs(executive - customers), abs(frontline - customers)
    if to_front + CLOSER_BY <= to_exec:
        return "frontline"
    if to_exec + CLOSER_BY <= to_front:
        return "executive"
    return "neither"


def _reality_gap(result: QuestionResult, group: list[AnswerRecord]) -> RealityGap | None:
    """A reality gap when executives' belief, or their prediction of customers, is at least
    `REALITY_GAP` from what customers say."""
    customers = side_mean(result.customers)
    executive = side_mean(result.executive)
    predicted = side_mean(result.executive_prediction)
    if customers is None or executive is None:
        return None
    believed_far = abs(executive - customers) >= REALITY_GAP
    predicted_far = predicted is not None and abs(predicted - customers) >= REALITY_GAP
    if not believed_far and not predicted_far:
        return None
    frontline = side_mean(result.frontline)
    closest = closest_side(result)
    gap = round(executive - customers, 2)
    believe = "better" if gap > 0 else "worse"
    summary = (
        f"Executives believe it is {believe} than customers say ({executive:.1f} vs "
        f"{customers:.1f} out of 5)"
    )
    if not believed_far:
        summary = (
            f"Executives' own view is close to customers' ({executive:.1f} vs "
            f"{customers:.1f} out of 5)"
        )
    if predicted is not None:
        summary += f", and executives predicted customers would say {predicted:.1f}"
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
        customer_quotes=_quotes(group, low=(gap if believed_far else predicted - customers) > 0),
        executive_prediction=predicted,
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
